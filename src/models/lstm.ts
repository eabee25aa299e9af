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
import { lstmLayerStock, splitLast } from '../engine/ops';
import type { ParamSpec, Pass } from './base';
import type { ArchAdapter } from './adapter';
import type { ModelAnatomy } from './types';
import {
  RecurrentLM,
  recurrentAdapter,
  recurrentAnatomy,
  recurrentLayerSpecs,
  recurrentParamSpecs,
  type RecurrentConfig,
  type StateEditFn,
} from './recurrent';

export interface LstmConfig extends RecurrentConfig {
  arch: 'lstm';
}

export function lstmParamSpecs(c: LstmConfig): ParamSpec[] {
  const d = c.dModel;
  const layers = recurrentLayerSpecs(c, 4, (l) => [
    {
      name: `layers.${l}.bias`,
      shape: [4 * d],
      // forget-gate bias 1, others 0
      init: { kind: 'fn', fn: (_rng, n) => Float32Array.from({ length: n }, (_, i) => (i >= d && i < 2 * d ? 1 : 0)) },
    },
  ]);
  return recurrentParamSpecs(c, layers);
}

/** The recurrent state h | c of each layer is replaceable inside the recurrence (`stateEdit`). */
const lstmAnatomy = (c: LstmConfig): ModelAnatomy => ({
  ...recurrentAnatomy(c, ['hook_h', 'hook_c'], 'embed.weight'),
  recurrentState: { hook: 'hook_h', cell: 'hook_c' },
});

export class Lstm extends RecurrentLM<LstmConfig> {
  readonly arch = 'lstm' as const;
  protected readonly title = 'LSTM';

  constructor(config: LstmConfig, seed: number) {
    super(config, lstmParamSpecs(config), lstmAnatomy(config), seed);
  }

  protected layer(l: number, x: tf.Tensor2D, pass: Pass, edit: StateEditFn | undefined): tf.Tensor2D {
    const d = this.config.dModel;
    const blk = `blocks.${l}`;
    const xwT = this.timeMajorInput(l, x, pass, 'bias', 4); // [T, B, 4D]
    const whh = this.p<tf.Tensor2D>(`layers.${l}.weight_hh`);
    const hc = this.batchMajor(edit ? lstmLayerStock(xwT, whh, edit) : pass.ops.lstmLayer(xwT, whh), pass); // [N, 2D]
    const [hSeq, cSeq] = splitLast(hc, [d, d]); // [N, D] each
    const h = this.hook2(pass, `${blk}.hook_h`, hSeq as tf.Tensor2D, d);
    if (pass.hooks.wants(`${blk}.hook_c`)) this.hook2(pass, `${blk}.hook_c`, cSeq as tf.Tensor2D, d);
    return h;
  }
}

export const lstmAdapter: ArchAdapter<LstmConfig> = recurrentAdapter<LstmConfig>({
  arch: 'lstm',
  title: 'LSTM',
  summary: 'unidirectional multi-layer LSTM, optional residual connections between layers',
  paramSpecs: lstmParamSpecs,
  anatomy: lstmAnatomy,
  create: (c, seed) => new Lstm(c, seed),
});
