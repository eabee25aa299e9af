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
import { gruLayerFused, gruLayerStock } from '../engine/ops-gru';
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

export interface GruConfig extends RecurrentConfig {
  arch: 'gru';
}

export function gruParamSpecs(c: GruConfig): ParamSpec[] {
  const d = c.dModel;
  const layers = recurrentLayerSpecs(c, 3, (l, u) => [
    { name: `layers.${l}.bias_ih`, shape: [3 * d], init: u },
    { name: `layers.${l}.bias_hh`, shape: [3 * d], init: u },
  ]);
  return recurrentParamSpecs(c, layers);
}

const gruAnatomy = (c: GruConfig): ModelAnatomy => ({
  ...recurrentAnatomy(c, ['hook_h'], 'embed.weight'),
  recurrentState: { hook: 'hook_h' },
});

export class Gru extends RecurrentLM<GruConfig> {
  readonly arch = 'gru' as const;
  protected readonly title = 'GRU';

  constructor(config: GruConfig, seed: number) {
    super(config, gruParamSpecs(config), gruAnatomy(config), seed);
  }

  protected layer(l: number, x: tf.Tensor2D, pass: Pass, edit: StateEditFn | undefined): tf.Tensor2D {
    const xwT = this.timeMajorInput(l, x, pass, 'bias_ih', 3); // [T, B, 3D]
    const whh = this.p<tf.Tensor2D>(`layers.${l}.weight_hh`);
    const bhh = this.p<tf.Tensor1D>(`layers.${l}.bias_hh`);
    const run = this.config.fused ? gruLayerFused : gruLayerStock;
    const hSeq = edit ? gruLayerStock(xwT, whh, bhh, edit) : run(xwT, whh, bhh); // [T, B, D]
    return this.hook2(pass, `blocks.${l}.hook_h`, this.batchMajor(hSeq, pass), this.config.dModel);
  }
}

export const gruAdapter: ArchAdapter<GruConfig> = recurrentAdapter<GruConfig>({
  arch: 'gru',
  title: 'GRU',
  summary: 'unidirectional multi-layer GRU, optional residual connections between layers',
  paramSpecs: gruParamSpecs,
  anatomy: gruAnatomy,
  create: (c, seed) => new Gru(c, seed),
});
