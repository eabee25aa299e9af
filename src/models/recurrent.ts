/**
 * What the recurrent language models (LSTM, GRU) share: their config switches, defaults and
 * presets, the parameters around the layers (embedding, final norm, unembedding), their anatomy,
 * and the body: embed, then per layer one recurrence over the sequence (the architecture's own
 * `layer`), its hidden state as `blocks.{l}.hook_h`, a residual connection when asked, and the
 * final LayerNorm. `ForwardOptions.stateEdit` reaches the recurrence of the layer it names.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { BaseLM, envSpecs, type Init, type ParamSpec, type Pass } from './base';
import { presetsFrom, type ArchAdapter, type PresetName, type Sizes } from './adapter';
import type { BaseModelConfig, ForwardOptions, ModelAnatomy } from './types';

export interface RecurrentConfig extends BaseModelConfig {
  /** Add each layer's input to its output (the paper's open check 2). */
  residual: boolean;
  /** A final LayerNorm before the unembedding (`ln_final.hook_normalized`). */
  finalNorm: boolean;
  tiedEmbeddings: boolean;
  initStd: number;
  fused: boolean;
}

/** The defaults every recurrent architecture's presets share. */
export function recurrentDefaults<A extends string>(arch: A) {
  return { arch, residual: false, finalNorm: true, tiedEmbeddings: false, initStd: 0.02, fused: true, envFeatureDim: 0 } as const;
}

/** The recurrent presets (the same sizes for the LSTM and the GRU), on top of an architecture's defaults. */
export function recurrentPresets<C extends RecurrentConfig>(defaults: Partial<C>): Record<PresetName, Sizes<C>> {
  return presetsFrom(defaults, {
    tiny: { contextLength: 32, dModel: 32, nLayers: 2 },
    quick: { contextLength: 64, dModel: 128, nLayers: 2 },
    medium: { contextLength: 128, dModel: 256, nLayers: 4 },
    paper: { contextLength: 512, dModel: 768, nLayers: 4 },
  }) as Record<PresetName, Sizes<C>>;
}

/**
 * The adapter of a recurrent architecture: its own parts (names, parameters, anatomy, model) with
 * the defaults and presets every recurrent architecture shares and no checks of its own.
 */
export function recurrentAdapter<C extends RecurrentConfig>(
  own: Pick<ArchAdapter<C>, 'arch' | 'title' | 'summary' | 'paramSpecs' | 'anatomy' | 'create'>,
): ArchAdapter<C> {
  const defaults = recurrentDefaults(own.arch) as Partial<C>;
  return {
    arch: own.arch,
    title: own.title,
    summary: own.summary,
    defaults,
    presets: recurrentPresets<C>(defaults),
    validate: (c) => c,
    paramSpecs: own.paramSpecs,
    anatomy: own.anatomy,
    create: own.create,
  };
}

/**
 * The layers' parameters: per layer `layers.{l}.weight_ih` and `layers.{l}.weight_hh` [D, gates D]
 * (PyTorch's names, transposed to [in, out], with its initialisation uniform(-1/sqrt D, 1/sqrt D),
 * given to `biases` too), then the architecture's `biases(l, uniform)`.
 */
export function recurrentLayerSpecs(c: RecurrentConfig, gates: number, biases: (l: number, uniform: Init) => ParamSpec[]): ParamSpec[] {
  const d = c.dModel;
  const k = 1 / Math.sqrt(d);
  const u = { kind: 'uniform', low: -k, high: k } as const;
  const layers: ParamSpec[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    layers.push(
      { name: `layers.${l}.weight_ih`, shape: [d, gates * d], init: u },
      { name: `layers.${l}.weight_hh`, shape: [d, gates * d], init: u },
      ...biases(l, u),
    );
  }
  return layers;
}

/** The parameters around the layers: `embed.weight` first; `ln_f`, `lm_head` (untied) and the ENV projection after `layers`. */
export function recurrentParamSpecs(c: RecurrentConfig, layers: ParamSpec[]): ParamSpec[] {
  const d = c.dModel;
  const specs: ParamSpec[] = [{ name: 'embed.weight', shape: [c.vocabSize, d], init: { kind: 'normal', std: c.initStd } }, ...layers];
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

/** Anatomy of the recurrent models: `stateHooks` per layer, units of hook_h as "heads". */
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

export type StateEditFn = NonNullable<ForwardOptions['stateEdit']>['fn'];

/** A recurrent stack: the architecture gives one layer's recurrence, the rest is here. */
export abstract class RecurrentLM<C extends RecurrentConfig> extends BaseLM<C> {
  /** "LSTM" | "GRU", for messages. */
  protected abstract readonly title: string;

  /**
   * Layer `l` over its input `x` [N, D]: the hidden state of every position [N, D], already through
   * `blocks.{l}.hook_h` (and any other state hook of the architecture); `edit` replaces the state
   * inside the recurrence (stateEdit of this layer).
   */
  protected abstract layer(l: number, x: tf.Tensor2D, pass: Pass, edit: StateEditFn | undefined): tf.Tensor2D;

  protected unembedding(): tf.Tensor2D {
    return this.tiedOrHead('embed.weight');
  }

  protected body(tokens: tf.Tensor2D, pass: Pass, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const d = c.dModel;
    const se = opts.stateEdit;
    if (se && !(Number.isInteger(se.layer) && se.layer >= 0 && se.layer < c.nLayers)) {
      throw new GroundlabError('BAD_ARGUMENT', `stateEdit.layer = ${se.layer}: this ${this.title} has layers 0..${c.nLayers - 1}`);
    }
    let x = this.embedTokens(tokens, this.p('embed.weight'), pass); // [N, D]
    const env = this.envEmbedding(opts.envFeatures, pass);
    if (env) x = tf.add(x, env);
    for (let l = 0; l < c.nLayers; l++) {
      const h = this.layer(l, x, pass, se?.layer === l ? se.fn : undefined);
      x = this.hook2(pass, `blocks.${l}.hook_resid_post`, c.residual ? tf.add(x, h) : h, d);
    }
    if (!c.finalNorm) return x;
    return this.hook2(pass, 'ln_final.hook_normalized', pass.ops.layerNorm(x, this.p('ln_f.weight'), this.p('ln_f.bias')), d);
  }

  /** Input projection of layer `l` in time-major layout: x [N, D] @ weight_ih + bias -> [T, B, gates * D]. */
  protected timeMajorInput(l: number, x: tf.Tensor2D, pass: Pass, bias: string, gates: number): tf.Tensor3D {
    const { b, t, ops } = pass;
    const xw = ops.linear(x, this.p(`layers.${l}.weight_ih`), this.p(`layers.${l}.${bias}`)); // [N, gates D]
    return tf.transpose(tf.reshape(xw, [b, t, gates * this.config.dModel]), [1, 0, 2]) as tf.Tensor3D;
  }

  /** A [T, B, k D] layer output back to batch-major [N, k D]. */
  protected batchMajor(seq: tf.Tensor3D, pass: Pass): tf.Tensor2D {
    const { b, t } = pass;
    const y = tf.transpose(seq, [1, 0, 2]); // [B, T, kD]
    return tf.reshape(y, [b * t, seq.shape[2]]) as tf.Tensor2D;
  }
}
