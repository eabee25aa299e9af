/**
 * The contract every architecture (see src/models/registry.ts) fulfils. Training, analyses,
 * checkpoints, the kernel and the CLI speak only this interface, and read what an architecture
 * offers them (per-head outputs, token-mixing matrices, lens inputs) from its `anatomy`.
 *
 * Shapes: B = batch, T = sequence length, V = vocabulary, D = d_model, H = heads, Dh = head size.
 */
import type * as tf from '@tensorflow/tfjs-core';

export type Arch = 'transformer' | 'mamba2' | 'lstm' | 'gru' | 'gla';

/** Fields every model config has. Architecture configs extend it. */
export interface BaseModelConfig {
  arch: Arch;
  vocabSize: number;
  /** Longest sequence the model accepts (positions for the Transformer). */
  contextLength: number;
  dModel: number;
  nLayers: number;
  /**
   * Dimension of continuous ENV features (image-grounded dialogue: one feature vector per patch
   * position), projected into the model by a learned linear map and added to the embedding of the
   * positions that carry them. 0 = no continuous inputs.
   */
  envFeatureDim: number;
}

/**
 * A hook sees the tensor at a hook point and may return a replacement of the same shape
 * (e.g. zeroing a head) or nothing (read only). Hooks run inside the forward pass, also under
 * gradient computation, so a replacement is differentiable.
 */
export type HookFn = (x: tf.Tensor, name: string) => tf.Tensor | void;

/** Hook points by exact name, or by a pattern over names. */
export type HookSpec = Record<string, HookFn> | Array<[string | RegExp, HookFn]>;

export interface ForwardOptions {
  hooks?: HookSpec;
  /** [B, T, envFeatureDim] continuous ENV features (zeros where a position has none). */
  envFeatures?: tf.Tensor3D;
  /** Apply dropout etc. (none of the presets use dropout; reserved). */
  training?: boolean;
  /**
   * Recurrent models (GRU, LSTM): replace layer `layer`'s state after step t by fn(state, t)
   * (nothing returned: keep it); the replacement is carried into step t + 1, unlike a hook at
   * `hook_h`. The state is h [B, D] for the GRU, h | c [B, 2D] for the LSTM (anatomy.recurrentState).
   * Runs the stock (taped) recurrence of that layer. Used by interchange interventions (src/causal).
   */
  stateEdit?: { layer: number; fn: (h: tf.Tensor2D, t: number) => tf.Tensor2D | void };
}

/**
 * Activations recorded by `runWithCache`, keyed by hook point name. Owns its tensors.
 * TransformerLens-style accessors (implemented once, by `TensorCache` in ./hooks, which reads
 * the model's anatomy): `get('pattern', 1)` is `cache["pattern", 1]`, a short name resolved
 * through the anatomy (see `actName` in ./hooks); `accumulatedResid` and `decomposeResid` stack
 * the residual stream after each layer, or the terms that add up to it.
 */
export interface ActivationCache {
  readonly names: string[];
  /**
   * A full hook point name (`blocks.1.attn.hook_pattern`), or a short name and a layer
   * (`get('pattern', 1)`; a negative layer counts from the end). Throws GroundlabError NOT_FOUND
   * naming what is cached.
   */
  get(name: string, layer?: number): tf.Tensor;
  has(name: string, layer?: number): boolean;
  /**
   * The residual stream entering layers 0..layer (`layer` omitted: every layer, then the final
   * stream `final_post`), stacked: [K, B, T, D] with one label per entry (`0_pre`, `0_mid`, ...).
   * The caller disposes `resid`.
   */
  accumulatedResid(layer?: number, opts?: { incMid?: boolean; mlpInput?: boolean }): ResidStack;
  /**
   * The terms that add up to the residual stream entering `layer` (omitted: the final stream):
   * the embeddings (`embed`, `pos_embed`), then each earlier layer's writes (`0_attn_out`,
   * `0_mlp_out`, or `0_mixer_out`), stacked [K, B, T, D]. `mlpInput` adds layer `layer`'s first
   * write (the sum is then its `resid_mid`). The caller disposes `resid`.
   */
  decomposeResid(layer?: number, opts?: { mlpInput?: boolean; incEmbeds?: boolean }): ResidStack;
  dispose(): void;
}

/** Residual-stream tensors stacked along a new first axis, with their labels. */
export interface ResidStack {
  labels: string[];
  /** The hook point each entry was read from. */
  hooks: string[];
  resid: tf.Tensor4D; // [K, B, T, D]
}

/**
 * Where a layer's per-head (or per-unit) outputs live, for ablation and per-head patching: the
 * activation at `hook` indexes heads along `axis` (2 for [B, T, H, X] and for [B, T, D] units).
 */
export interface HeadSite {
  hook: string;
  axis: number;
  /** Heads (units) along that axis. */
  size: number;
  /** 'head': attention-like heads; 'unit': hidden units of a recurrent layer. */
  unit: 'head' | 'unit';
}

/**
 * A layer's token-mixing matrix [B, H, T, T] (row t: how much position t reads from position s),
 * exposed at `hook` and read like attention (saliency, head classification, the inspector).
 */
export interface MixingSite {
  hook: string;
  /** 'attention': softmax, linear-kernel, uniform or static attention; 'ssd': Mamba-2's SSD; 'gla': gated linear attention. */
  kind: 'attention' | 'ssd' | 'gla';
  heads: number;
}

export interface LayerAnatomy {
  /** The residual stream entering the block (absent for the recurrent models). */
  residPre?: string;
  /** The residual stream leaving the block (what the next block reads). */
  residPost: string;
  heads?: HeadSite;
  /** Absent when the layer mixes no tokens through a matrix (LSTM, GRU, `mixing: none`). */
  mixing?: MixingSite;
}

/** What the lenses read: the final norm and the unembedding, by parameter name. */
export interface LensAnatomy {
  /** Layer 0 of the lens: the input of the first block. */
  input: string;
  norm?: { kind: 'layer' | 'rms'; weight: string; bias?: string; eps: number };
  /** Parameter of shape [V, D] whose transpose is the unembedding. */
  unembed: string;
}

/**
 * What an architecture offers the analyses, derived from its config by its adapter
 * (src/models/<arch>.ts). Analyses never ask which architecture a model is: they read this.
 */
export interface ModelAnatomy {
  /** All hook point names, in forward order. */
  hookPoints: string[];
  /** One entry per layer. */
  layers: LayerAnatomy[];
  lens: LensAnatomy;
  /**
   * Present when a layer's recurrent state can be replaced inside the recurrence
   * (`ForwardOptions.stateEdit`): the layer hook that reads that state (e.g. `hook_h`), and, for a
   * state of two parts (the LSTM's h | c), the hook of the second part (`cell`, e.g. `hook_c`).
   */
  recurrentState?: { hook: string; cell?: string };
}

export interface LanguageModel<C extends BaseModelConfig = BaseModelConfig> {
  readonly arch: Arch;
  readonly config: C;
  /**
   * Trainable parameters, by checkpoint tensor name (for the Transformer the names map one-to-one
   * onto Hugging Face GPT-2 names, see src/io/hf-gpt2.ts). Insertion order is stable.
   */
  readonly params: Map<string, tf.Variable>;
  /** Heads of the token-mixing matrices (attention, SSD or GLA heads; 0 when no layer has one). Per-layer detail: `anatomy`. */
  readonly nHeads: number;
  /** Hook points, per-head output sites, token-mixing sites and lens inputs (see ModelAnatomy). */
  readonly anatomy: ModelAnatomy;
  /** All hook point names, in forward order. */
  hookPoints(): string[];
  /** tokens: [B, T] int32 -> logits [B, T, V]. */
  forward(tokens: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /** Forward and record the activations at the named hook points (default: all). */
  runWithCache(
    tokens: tf.Tensor2D,
    opts?: ForwardOptions & { names?: Array<string | RegExp> },
  ): { logits: tf.Tensor3D; cache: ActivationCache };
  /**
   * Mean next-token cross-entropy (nats) over positions where mask = 1; targets [B, T] int32,
   * mask [B, T] float32 (default all ones). Uses the fused cross-entropy when no hooks are given.
   */
  loss(tokens: tf.Tensor2D, targets: tf.Tensor2D, mask?: tf.Tensor2D, opts?: ForwardOptions): tf.Scalar;
  dispose(): void;
}
