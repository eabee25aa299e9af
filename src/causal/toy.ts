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

/**
 * The known answer for grounding DAS: a hand-built reader whose state at position t is the sum of
 * the embeddings so far, h_t = sum_{s <= t} E[x_s]. The embedding of the ENV token of noun i is
 * P c_i (P [D, kTrue] a planted random orthonormal basis, c_i a random code in R^kTrue); every
 * other token's is clutter orthogonal to P. The readout gives LAN token j
 * the logit 2 c_j . (P^T h) - |c_j|^2 (the nearest code wins), every other token -30. So the
 * referent's identity lives exactly in span(P): interchanging that subspace at the last position
 * makes the model name the source's noun.
 */
export interface PlantedReferent extends InterventionSite {
  /** The planted basis P [D, kTrue], row-major. */
  readonly basis: Float32Array;
  readonly kTrue: number;
  dispose(): void;
}

export function plantedReferent(o: {
  vocabSize: number;
  /** Token ids of the ENV and LAN forms of each noun (same order). */
  envIds: number[];
  lanIds: number[];
  dim: number;
  kTrue: number;
  seed: number;
  clutter?: number;
}): PlantedReferent {
  const { dim: d, kTrue: k, vocabSize: V } = o;
  const rng = new Rng(`${o.seed}/planted-referent`);
  const basis = orthonormalize(rng.normalArray(d * k), d, k); // [D, k]
  const codes = o.envIds.map(() => rng.normalArray(k));
  const emb = new Float32Array(V * d);
  for (let v = 0; v < V; v++) {
    const n = rng.normalArray(d, o.clutter ?? 1);
    // Clutter orthogonal to span(P).
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += n[r] * basis[r * k + j];
      for (let r = 0; r < d; r++) n[r] -= dot * basis[r * k + j];
    }
    emb.set(n, v * d);
  }
  o.envIds.forEach((id, i) => {
    for (let r = 0; r < d; r++) {
      emb[id * d + r] = 0;
      for (let j = 0; j < k; j++) emb[id * d + r] += basis[r * k + j] * codes[i][j];
    }
  });
  // Readout [D, V] = P C^T * 2 on the LAN columns; bias -|c|^2 there, -30 elsewhere.
  const ro = new Float32Array(d * V);
  const bias = new Float32Array(V).fill(-30);
  o.lanIds.forEach((id, i) => {
    for (let r = 0; r < d; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += basis[r * k + j] * codes[i][j];
      ro[r * V + id] = 2 * s;
    }
    bias[id] = -codes[i].reduce((a, c) => a + c * c, 0);
  });
  const E = tf.tensor2d(emb, [V, d]);
  const R = tf.tensor2d(ro, [d, V]);
  const Bv = tf.tensor1d(bias);
  const states = (tokens: tf.Tensor2D): tf.Tensor3D => tf.cumsum(tf.gather(E, tf.cast(tokens, 'int32')), 1) as tf.Tensor3D; // [B, T, D]
  const runEdits = (tokens: tf.Tensor2D, edits: readonly SiteEdit[]): tf.Tensor3D =>
    tf.tidy(() => {
      const [b, t] = tokens.shape;
      let st = states(tokens);
      for (const { pos, edit } of edits) {
        const oh = new Float32Array(b * t);
        pos.forEach((p, i) => p >= 0 && (oh[i * t + p] = 1));
        const m = tf.tensor3d(oh, [b, t, 1]);
        const h = tf.sum(tf.mul(st, m), 1) as tf.Tensor2D;
        st = tf.add(st, tf.mul(m, tf.expandDims(tf.sub(edit(h), h), 1))) as tf.Tensor3D;
      }
      return tf.reshape(tf.add(tf.matMul(tf.reshape(st, [b * t, d]), R), Bv), [b, t, V]) as tf.Tensor3D;
    });
  return {
    name: 'planted.referent',
    dim: d,
    basis,
    kTrue: k,
    read: (tokens, pos) =>
      tf.tidy(() => {
        const [b, t] = tokens.shape;
        const oh = new Float32Array(b * t);
        pos.forEach((p, i) => (oh[i * t + p] = 1));
        return tf.sum(tf.mul(states(tokens), tf.tensor3d(oh, [b, t, 1])), 1) as tf.Tensor2D;
      }),
    run: (tokens, pos, edit) => runEdits(tokens, [{ pos, edit }]),
    runEdits,
    dispose: () => tf.dispose([E, R, Bv]),
  };
}
