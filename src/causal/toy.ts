/**
 * A hand-built linear recurrent model that runs the Up-Down program with the count on a planted
 * random unit direction u (the known answer for DAS):
 *
 *   h_t = M h_{t-1} + E[x_t],   M = u u^T + decay (I - u u^T)
 *
 * E[demo object] = u + noise, E[response] = -u + noise, E[trigger] = v + noise (v a phase direction
 * orthogonal to u), with the noise orthogonal to u; so u . h_t is the Up-Down count exactly, and the
 * other directions hold decaying, token-driven clutter. The readout predicts `end` when u . h < 0.5
 * and the response token otherwise (logit difference `sharpness` (u . h - 0.5)). Its site is the
 * state h (an intervention is carried on by the recurrence).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/rng';
import type { Tokenizer } from '../data/types';
import { BOS, PAD } from '../data/tokens';
import { END, TRIGGER, demoTokens, responseToken, type CountingTask } from '../data/counting';
import { orthonormalize, type InterventionSite, type SiteEdit } from './das';

export interface PlantedCounter extends InterventionSite {
  /** The planted count direction [D]. */
  readonly u: Float32Array;
  dispose(): void;
}

export function plantedCounter(
  tokenizer: Tokenizer,
  o: { task: CountingTask; objectTypes?: number; dim: number; seed: number; decay?: number; noise?: number; sharpness?: number },
): PlantedCounter {
  const d = o.dim;
  const rng = new Rng(`${o.seed}/planted-counter`);
  const uv = orthonormalize(rng.normalArray(d * 2), d, 2); // columns u, v
  const u = Float32Array.from({ length: d }, (_, r) => uv[r * 2]);
  const v = Float32Array.from({ length: d }, (_, r) => uv[r * 2 + 1]);
  const decay = o.decay ?? 0.5;
  const noise = o.noise ?? 1;
  const sharp = o.sharpness ?? 10;
  const V = tokenizer.vocabSize;
  const emb = new Float32Array(V * d);
  const put = (tok: string, base: Float32Array | null, sign: number) => {
    const id = tokenizer.id(tok);
    const n = rng.normalArray(d, noise);
    let dot = 0;
    for (let r = 0; r < d; r++) dot += n[r] * u[r];
    for (let r = 0; r < d; r++) emb[id * d + r] = n[r] - dot * u[r] + (base ? sign * base[r] : 0);
  };
  for (const t of demoTokens({ task: o.task, objectTypes: o.objectTypes ?? 3 })) put(t, u, 1);
  if (o.task !== 'same') put(responseToken(o.task), u, -1);
  put(TRIGGER, v, 1);
  put(END, null, 0);
  put(BOS, null, 0);
  put(PAD, null, 0);
  // M^T (the recurrence multiplies row vectors): M is symmetric.
  const m = new Float32Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] = (1 - decay) * u[i] * u[j] + (i === j ? decay : 0);
  // Readout [D, V] and bias [V]: response logit sharp * (u.h - 0.5), end logit 0, the rest -30.
  const ro = new Float32Array(d * V);
  const bias = new Float32Array(V).fill(-30);
  const rid = tokenizer.id(responseToken(o.task));
  for (let r = 0; r < d; r++) ro[r * V + rid] = sharp * u[r];
  bias[rid] = -0.5 * sharp;
  bias[tokenizer.id(END)] = 0;
  const E = tf.tensor2d(emb, [V, d]);
  const M = tf.tensor2d(m, [d, d]);
  const R = tf.tensor2d(ro, [d, V]);
  const Bv = tf.tensor1d(bias);

  const states = (tokens: tf.Tensor2D, edits: readonly SiteEdit[]): tf.Tensor2D[] => {
    const [b, t] = tokens.shape;
    const x = tf.gather(E, tf.cast(tokens, 'int32')); // [B, T, D]
    let h: tf.Tensor2D = tf.zeros([b, d]);
    const out: tf.Tensor2D[] = [];
    for (let s = 0; s < t; s++) {
      h = tf.add(tf.matMul(h, M), tf.reshape(tf.slice(x, [0, s, 0], [b, 1, d]), [b, d])) as tf.Tensor2D;
      for (const { pos, edit } of edits) {
        const rows = Float32Array.from(pos, (p) => (p === s ? 1 : 0));
        if (rows.some((r) => r)) h = tf.add(h, tf.mul(tf.tensor2d(rows, [b, 1]), tf.sub(edit(h), h))) as tf.Tensor2D;
      }
      out.push(h);
    }
    return out;
  };
  const runEdits = (tokens: tf.Tensor2D, edits: readonly SiteEdit[]): tf.Tensor3D =>
    tf.tidy(() => {
      const [b, t] = tokens.shape;
      const st = tf.reshape(tf.stack(states(tokens, edits), 1), [b * t, d]);
      return tf.reshape(tf.add(tf.matMul(st, R), Bv), [b, t, V]) as tf.Tensor3D;
    });
  return {
    name: 'planted.state',
    dim: d,
    u,
    read: (tokens, pos) =>
      tf.tidy(() => {
        const hs = states(tokens, []);
        const st = tf.stack(hs, 1); // [B, T, D]
        const [b, t] = tokens.shape;
        const oh = new Float32Array(b * t);
        pos.forEach((p, i) => (oh[i * t + p] = 1));
        return tf.sum(tf.mul(st, tf.tensor3d(oh, [b, t, 1])), 1) as tf.Tensor2D;
      }),
    run: (tokens, pos, edit) => runEdits(tokens, [{ pos, edit }]),
    runEdits,
    dispose: () => tf.dispose([E, M, R, Bv]),
  };
}
