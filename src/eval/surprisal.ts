/**
 * Scoring evaluation sequences with a model: the surprisal -log P(target | context) at each
 * sequence's prediction position, in batches of right-padded sequences (a causal model's outputs
 * at position t do not depend on the padding after t, so right padding is exact). Sequences of
 * image-grounded sets carry continuous ENV features, passed as `envFeatures` (zeros elsewhere).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { LanguageModel, HookSpec } from '../models/types';
import type { EvalSequence } from './evalset';

export interface ScoreOptions {
  batchSize?: number;
  /** Token id used for padding (default 0). */
  padId?: number;
  /** Hooks applied in every forward pass (e.g. head ablation). */
  hooks?: HookSpec;
  /** Called with the number of sequences done. */
  onBatch?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Batches of sequence indices, grouped by length (longest first) so that padding stays small. */
export function lengthBatches(seqs: ReadonlyArray<{ ids: number[] }>, batchSize: number): number[][] {
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[b].ids.length - seqs[a].ids.length || a - b);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** [B, T] int32 tokens of right-padded sequences. */
export function padTokens(seqs: ReadonlyArray<{ ids: number[] }>, padId = 0): tf.Tensor2D {
  const T = Math.max(...seqs.map((s) => s.ids.length));
  const buf = new Int32Array(seqs.length * T).fill(padId);
  seqs.forEach((s, b) => buf.set(s.ids, b * T));
  return tf.tensor2d(buf, [seqs.length, T], 'int32');
}

/**
 * [B, T, F] continuous ENV features of right-padded sequences (zeros for padding and for sequences
 * without features), or undefined when no sequence of the batch carries features. `F` is the
 * model's envFeatureDim; each sequence's `features` must hold ids.length * F values.
 */
export function padFeatures(seqs: ReadonlyArray<{ ids: number[]; features?: Float32Array }>, F: number): tf.Tensor3D | undefined {
  if (!seqs.some((s) => s.features)) return undefined;
  if (!(F > 0))
    throw new GroundlabError(
      'BAD_ARGUMENT',
      'evaluation sequences carry continuous ENV features but the model takes none (envFeatureDim 0)',
      {
        hint: 'image evaluation sets go with models trained on the image-grounded corpus',
      },
    );
  const T = Math.max(...seqs.map((s) => s.ids.length));
  const buf = new Float32Array(seqs.length * T * F);
  seqs.forEach((s, b) => {
    if (!s.features) return;
    if (s.features.length !== s.ids.length * F)
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `an evaluation sequence has ${s.features.length} feature values for ${s.ids.length} positions, expected ${s.ids.length} x ${F}`,
        {
          hint: "the evaluation set's featureDim must equal the model's envFeatureDim",
        },
      );
    buf.set(s.features, b * T * F);
  });
  return tf.tensor3d(buf, [seqs.length, T, F]);
}

/**
 * Log-probabilities of each sequence's target at its prediction position: logits [B, T, V] ->
 * [B]. Differentiable (2-D matmuls with one-hot selections, no gather), so it also serves as the
 * loss of saliency and lens computations.
 */
export function targetLogProbs(logits: tf.Tensor3D, seqs: ReadonlyArray<{ predPos: number; target: number }>): tf.Tensor1D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const sel = new Float32Array(B * B * T);
    seqs.forEach((s, b) => (sel[b * B * T + b * T + s.predPos] = 1));
    const rows = tf.matMul(tf.tensor2d(sel, [B, B * T]), tf.reshape(logits, [B * T, V]) as tf.Tensor2D); // [B, V]
    const lp = tf.logSoftmax(rows); // [B, V]
    const oh = new Float32Array(B * V);
    seqs.forEach((s, b) => (oh[b * V + s.target] = 1));
    return tf.sum(tf.mul(lp, tf.tensor2d(oh, [B, V])), 1) as tf.Tensor1D; // [B]
  });
}

export function checkLengths(model: LanguageModel, seqs: ReadonlyArray<{ ids: number[] }>): void {
  const longest = Math.max(0, ...seqs.map((s) => s.ids.length));
  if (longest > model.config.contextLength)
    throw new GroundlabError(
      'BAD_CONFIG',
      `an evaluation context has ${longest} tokens, more than the model's context length ${model.config.contextLength}`,
      {
        hint: 'use shorter evaluation frames',
      },
    );
}

/** Surprisal (nats) of every sequence's target, in the order of `seqs`. */
export async function scoreSequences(model: LanguageModel, seqs: readonly EvalSequence[], opts: ScoreOptions = {}): Promise<Float64Array> {
  checkLengths(model, seqs);
  const out = new Float64Array(seqs.length);
  let done = 0;
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 64)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'scoring was stopped');
    const batch = idx.map((i) => seqs[i]);
    const lp = tf.tidy(() => {
      const tokens = padTokens(batch, opts.padId ?? 0); // [B, T]
      const envFeatures = padFeatures(batch, model.config.envFeatureDim ?? 0); // [B, T, F] | undefined
      const logits = model.forward(tokens, envFeatures ? { hooks: opts.hooks, envFeatures } : { hooks: opts.hooks });
      return targetLogProbs(logits, batch);
    });
    const v = await lp.data();
    lp.dispose();
    idx.forEach((i, b) => (out[i] = -v[b]));
    done += idx.length;
    opts.onBatch?.(done, seqs.length);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}
