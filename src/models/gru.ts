/**
 * Unidirectional multi-layer GRU language model (PyTorch gate order r, z, n), optional residual
 * connections between layers (`residual`, as the LSTM has), optional final LayerNorm, tied or
 * untied unembedding.
 *
 * Hook points: `hook_embed`, `blocks.{l}.hook_h` [B,T,D] (the hidden state of every position; its
 * units are the layer's "heads" for ablation), `blocks.{l}.hook_resid_post` [B,T,D] (what the next
 * layer reads), `ln_final.hook_normalized` (only when finalNorm). A replacement at hook_h changes
 * what later layers read, not the recurrence inside the layer; `ForwardOptions.stateEdit` replaces
 * the state inside the recurrence (carried on).
 *
 * Names: `embed.weight` [V,D], `layers.{l}.weight_ih` [D,3D], `layers.{l}.weight_hh` [D,3D],
 * `layers.{l}.bias_ih` [3D], `layers.{l}.bias_hh` [3D] (PyTorch's, transposed to [in, out]; the two
 * biases stay apart because b_hn sits inside the reset gate), `ln_f.weight|bias`, `lm_head.weight`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { gruLayerFused, gruLayerStock } from '../engine/ops-gru';
import { BaseLM, envSpecs, type ParamSpec, type Pass } from './base';
import type { ArchAdapter, Sizes } from './adapter';
import { recurrentAnatomy } from './lstm';
import type { BaseModelConfig, ForwardOptions, ModelAnatomy } from './types';

export interface GruConfig extends BaseModelConfig {
  arch: 'gru';
  /** Add each layer's input to its output. */
  residual: boolean;
  /** A final LayerNorm before the unembedding (`ln_final.hook_normalized`). */
  finalNorm: boolean;
  tiedEmbeddings: boolean;
  initStd: number;
  fused: boolean;
}

export function gruParamSpecs(c: GruConfig): ParamSpec[] {
  const d = c.dModel;
  const k = 1 / Math.sqrt(d);
  const u = { kind: 'uniform', low: -k, high: k } as const; // PyTorch's initialisation
  const specs: ParamSpec[] = [{ name: 'embed.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std: c.initStd } }];
  for (let l = 0; l < c.nLayers; l++) {
    specs.push(
      { name: `layers.${l}.weight_ih`, shape: [d, 3 * d], init: u },
      { name: `layers.${l}.weight_hh`, shape: [d, 3 * d], init: u },
      { name: `layers.${l}.bias_ih`, shape: [3 * d], init: u },
      { name: `layers.${l}.bias_hh`, shape: [3 * d], init: u },
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

const gruAnatomy = (c: GruConfig): ModelAnatomy => ({
  ...recurrentAnatomy(c, ['hook_h'], 'embed.weight'),
  recurrentState: { hook: 'hook_h' },
});

export class Gru extends BaseLM<GruConfig> {
  readonly arch = 'gru' as const;

  constructor(config: GruConfig, seed: number) {
    super(config, gruParamSpecs(config), gruAnatomy(config), seed);
  }

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('embed.weight');
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const { b, t, ops } = pass;
    const d = c.dModel;
    const n = b * t;
    const layer = c.fused ? gruLayerFused : gruLayerStock;
    const se = opts.stateEdit;
    if (se && !(Number.isInteger(se.layer) && se.layer >= 0 && se.layer < c.nLayers)) {
      throw new GroundlabError('BAD_ARGUMENT', `stateEdit.layer = ${se.layer}: this GRU has layers 0..${c.nLayers - 1}`);
    }
    let x = this.embedTokens(tokens, this.p('embed.weight'), pass); // [N, D]
    const env = this.envEmbedding(opts.envFeatures, pass);
    if (env) x = tf.add(x, env);

    for (let l = 0; l < c.nLayers; l++) {
      const blk = `blocks.${l}`;
      const w = `layers.${l}`;
      const xw = ops.linear(x, this.p(`${w}.weight_ih`), this.p(`${w}.bias_ih`)); // [N, 3D]
      const xwT = tf.transpose(tf.reshape(xw, [b, t, 3 * d]), [1, 0, 2]) as tf.Tensor3D; // [T, B, 3D]
      const whh = this.p(`${w}.weight_hh`);
      const bhh = this.p<tf.Tensor1D>(`${w}.bias_hh`);
      const hSeq = tf.transpose(se?.layer === l ? gruLayerStock(xwT, whh, bhh, se.fn) : layer(xwT, whh, bhh), [1, 0, 2]); // [B, T, D]
      const h = this.hook2(pass, `${blk}.hook_h`, tf.reshape(hSeq, [n, d]) as tf.Tensor2D, d); // [N, D]
      x = this.hook2(pass, `${blk}.hook_resid_post`, c.residual ? tf.add(x, h) : h, d);
    }
    if (!c.finalNorm) return x;
    return this.hook2(pass, 'ln_final.hook_normalized', ops.layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias')), d);
  }
}

const DEFAULTS = {
  arch: 'gru',
  residual: false,
  finalNorm: true,
  tiedEmbeddings: false,
  initStd: 0.02,
  fused: true,
  envFeatureDim: 0,
} as const satisfies Partial<GruConfig>;
const preset = (s: Pick<GruConfig, 'contextLength' | 'dModel' | 'nLayers'>): Sizes<GruConfig> => ({ ...DEFAULTS, ...s });

export const gruAdapter: ArchAdapter<GruConfig> = {
  arch: 'gru',
  title: 'GRU',
  summary: 'unidirectional multi-layer GRU, optional residual connections between layers',
  defaults: DEFAULTS,
  presets: {
    tiny: preset({ contextLength: 32, dModel: 32, nLayers: 2 }),
    quick: preset({ contextLength: 64, dModel: 128, nLayers: 2 }),
    medium: preset({ contextLength: 128, dModel: 256, nLayers: 4 }),
    paper: preset({ contextLength: 512, dModel: 768, nLayers: 4 }),
  },
  validate: (c) => c,
  paramSpecs: gruParamSpecs,
  anatomy: gruAnatomy,
  create: (c, seed) => new Gru(c, seed),
};
