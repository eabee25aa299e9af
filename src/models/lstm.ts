/**
 * Unidirectional multi-layer LSTM language model (PyTorch gate order i, f, g, o), optional
 * residual connections between layers (`residual`: each layer's input is added to its output,
 * the paper's open check 2), optional final LayerNorm, tied or untied unembedding.
 *
 * Hook points: `hook_embed`, `blocks.{l}.hook_h` and `blocks.{l}.hook_c` [B,T,D] (the hidden and
 * cell states of every position), `blocks.{l}.hook_resid_post` [B,T,D] (what the next layer reads),
 * `ln_final.hook_normalized` (only when finalNorm). A replacement at hook_h/hook_c changes what
 * later layers read, not the recurrence inside the layer (the states are collected after it runs);
 * `ForwardOptions.stateEdit` replaces the state h | c inside the recurrence (carried on).
 *
 * Names: `embed.weight` [V,D], `layers.{l}.weight_ih` [D,4D], `layers.{l}.weight_hh` [D,4D],
 * `layers.{l}.bias` [4D] (PyTorch's two biases summed), `ln_f.weight|bias`, `lm_head.weight`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { lstmLayerStock, splitLast } from '../engine/ops';
import { BaseLM, envSpecs, type ParamSpec, type Pass } from './base';
import type { ArchAdapter, Sizes } from './adapter';
import type { BaseModelConfig, ForwardOptions, ModelAnatomy } from './types';

export interface LstmConfig extends BaseModelConfig {
  arch: 'lstm';
  /** Add each layer's input to its output (the paper's open check 2). */
  residual: boolean;
  /** A final LayerNorm before the unembedding (`ln_final.hook_normalized`). */
  finalNorm: boolean;
  tiedEmbeddings: boolean;
  initStd: number;
  fused: boolean;
}

/** Anatomy of the recurrent models (LSTM, GRU): `stateHooks` per layer, units of hook_h as "heads". */
export function recurrentAnatomy(
  c: BaseModelConfig & { finalNorm: boolean; tiedEmbeddings: boolean },
  stateHooks: string[],
  embed: string,
): ModelAnatomy {
  const hookPoints = ['hook_embed'];
  const layers = Array.from({ length: c.nLayers }, (_, l) => {
    const b = `blocks.${l}`;
    hookPoints.push(...stateHooks.map((h) => `${b}.${h}`), `${b}.hook_resid_post`);
    return { residPost: `${b}.hook_resid_post`, heads: { hook: `${b}.hook_h`, axis: 2, size: c.dModel, unit: 'unit' as const } };
  });
  if (c.finalNorm) hookPoints.push('ln_final.hook_normalized');
  return {
    hookPoints,
    layers,
    lens: {
      input: 'hook_embed',
      ...(c.finalNorm ? { norm: { kind: 'layer' as const, weight: 'ln_f.weight', bias: 'ln_f.bias', eps: 1e-5 } } : {}),
      unembed: c.tiedEmbeddings ? embed : 'lm_head.weight',
    },
  };
}

export function lstmParamSpecs(c: LstmConfig): ParamSpec[] {
  const d = c.dModel;
  const k = 1 / Math.sqrt(d);
  const specs: ParamSpec[] = [{ name: 'embed.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std: c.initStd } }];
  for (let l = 0; l < c.nLayers; l++) {
    specs.push(
      { name: `layers.${l}.weight_ih`, shape: [d, 4 * d], init: { kind: 'uniform', low: -k, high: k } },
      { name: `layers.${l}.weight_hh`, shape: [d, 4 * d], init: { kind: 'uniform', low: -k, high: k } },
      {
        name: `layers.${l}.bias`,
        shape: [4 * d],
        // forget-gate bias 1, others 0
        init: { kind: 'fn', fn: (_rng, n) => Float32Array.from({ length: n }, (_, i) => (i >= d && i < 2 * d ? 1 : 0)) },
      },
    );
  }
  if (c.finalNorm) {
    specs.push(
      { name: 'ln_f.weight', shape: [d], init: { kind: 'const', value: 1 } },
      { name: 'ln_f.bias', shape: [d], init: { kind: 'const', value: 0 } },
    );
  }
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std: c.initStd } });
  specs.push(...envSpecs(c, c.initStd));
  return specs;
}

/** The recurrent state h | c of each layer is replaceable inside the recurrence (`stateEdit`). */
const lstmAnatomy = (c: LstmConfig): ModelAnatomy => ({
  ...recurrentAnatomy(c, ['hook_h', 'hook_c'], 'embed.weight'),
  recurrentState: { hook: 'hook_h', cell: 'hook_c' },
});

export class Lstm extends BaseLM<LstmConfig> {
  readonly arch = 'lstm' as const;

  constructor(config: LstmConfig, seed: number) {
    super(config, lstmParamSpecs(config), lstmAnatomy(config), seed);
  }

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('embed.weight');
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const { b, t, ops } = pass;
    const d = c.dModel;
    const n = b * t;
    const se = opts.stateEdit;
    if (se && !(Number.isInteger(se.layer) && se.layer >= 0 && se.layer < c.nLayers)) {
      throw new GroundlabError('BAD_ARGUMENT', `stateEdit.layer = ${se.layer}: this LSTM has layers 0..${c.nLayers - 1}`);
    }
    let x = this.embedTokens(tokens, this.p('embed.weight'), pass); // [N, D]
    const env = this.envEmbedding(opts.envFeatures, pass);
    if (env) x = tf.add(x, env);

    for (let l = 0; l < c.nLayers; l++) {
      const blk = `blocks.${l}`;
      const xw = ops.linear(x, this.p(`layers.${l}.weight_ih`), this.p(`layers.${l}.bias`)); // [N, 4D]
      const xwT = tf.transpose(tf.reshape(xw, [b, t, 4 * d]), [1, 0, 2]) as tf.Tensor3D; // [T, B, 4D]
      const whh = this.p<tf.Tensor2D>(`layers.${l}.weight_hh`);
      const hc = tf.transpose(se?.layer === l ? lstmLayerStock(xwT, whh, se.fn) : ops.lstmLayer(xwT, whh), [1, 0, 2]); // [B, T, 2D]
      const [hSeq, cSeq] = splitLast(hc, [d, d]); // [B, T, D] each
      const hAll = this.hook2(pass, `${blk}.hook_h`, tf.reshape(hSeq, [n, d]) as tf.Tensor2D, d); // [N, D]
      if (pass.hooks.wants(`${blk}.hook_c`)) this.hook2(pass, `${blk}.hook_c`, tf.reshape(cSeq, [n, d]) as tf.Tensor2D, d);
      x = this.hook2(pass, `${blk}.hook_resid_post`, c.residual ? tf.add(x, hAll) : hAll, d);
    }
    if (!c.finalNorm) return x;
    return this.hook2(pass, 'ln_final.hook_normalized', ops.layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias')), d);
  }
}

const DEFAULTS = {
  arch: 'lstm',
  residual: false,
  finalNorm: true,
  tiedEmbeddings: false,
  initStd: 0.02,
  fused: true,
  envFeatureDim: 0,
} as const satisfies Partial<LstmConfig>;
const preset = (s: Pick<LstmConfig, 'contextLength' | 'dModel' | 'nLayers'>): Sizes<LstmConfig> => ({ ...DEFAULTS, ...s });

export const lstmAdapter: ArchAdapter<LstmConfig> = {
  arch: 'lstm',
  title: 'LSTM',
  summary: 'unidirectional multi-layer LSTM, optional residual connections between layers',
  defaults: DEFAULTS,
  presets: {
    tiny: preset({ contextLength: 32, dModel: 32, nLayers: 2 }),
    quick: preset({ contextLength: 64, dModel: 128, nLayers: 2 }),
    medium: preset({ contextLength: 128, dModel: 256, nLayers: 4 }),
    paper: preset({ contextLength: 512, dModel: 768, nLayers: 4 }),
  },
  validate: (c) => c,
  paramSpecs: lstmParamSpecs,
  anatomy: lstmAnatomy,
  create: (c, seed) => new Lstm(c, seed),
};
