/**
 * Task accuracy on the counting tasks: a sequence is right when the model's argmax is the right
 * token at every scored position (each response and the end token, after the trigger). Teacher
 * forcing with the true tokens gives the same verdict as free generation: a sequence is only right
 * when every generated token would have been the true one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LanguageModel } from '../models/types';
import type { Tokenizer } from '../data/types';
import { PAD } from '../data/tokens';
import { countingLossMask, type CountingSequence } from '../data/counting';
import { GroundlabError } from '../errors';

export interface CountAccuracy {
  /** Share of sequences entirely right. */
  accuracy: number;
  n: number;
  /** Per count: share right and number of sequences. */
  byCount: Array<{ count: number; accuracy: number; n: number }>;
}

export async function countingAccuracy(
  model: LanguageModel,
  tokenizer: Tokenizer,
  seqs: readonly CountingSequence[],
  opts: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<CountAccuracy> {
  const bs = opts.batchSize ?? 64;
  const pad = tokenizer.id(PAD);
  const right = new Map<number, [number, number]>();
  for (const s of seqs) {
    if (s.tokens.length > model.config.contextLength) {
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `a counting sequence of count ${s.count} has ${s.tokens.length} tokens, longer than the model's context (${model.config.contextLength})`,
        { hint: 'evaluate smaller counts' },
      );
    }
  }
  for (let i = 0; i < seqs.length; i += bs) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'the accuracy evaluation was stopped');
    const batch = seqs.slice(i, i + bs);
    const t = Math.max(...batch.map((s) => s.tokens.length));
    const ids = new Int32Array(batch.length * t).fill(pad);
    batch.forEach((s, b) => ids.set(tokenizer.encode(s.tokens), b * t));
    const pred = tf.tidy(() => tf.argMax(model.forward(tf.tensor2d(ids, [batch.length, t], 'int32')), 2));
    const p = await pred.data();
    pred.dispose();
    batch.forEach((s, b) => {
      const m = countingLossMask(s);
      let ok = true;
      for (let j = 0; j < m.length; j++) if (m[j] && p[b * t + j] !== ids[b * t + j + 1]) ok = false;
      const r = right.get(s.count) ?? [0, 0];
      right.set(s.count, [r[0] + (ok ? 1 : 0), r[1] + 1]);
    });
    await new Promise((r) => setImmediate(r));
  }
  const byCount = [...right.entries()].sort((a, b) => a[0] - b[0]).map(([count, [r, n]]) => ({ count, accuracy: r / n, n }));
  const total = byCount.reduce((a, c) => a + c.n, 0);
  return { accuracy: total ? byCount.reduce((a, c) => a + c.accuracy * c.n, 0) / total : NaN, n: total, byCount };
}
