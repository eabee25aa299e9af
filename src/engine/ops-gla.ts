/**
 * Gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with
 * Hardware-Efficient Training"). Per head, with data-dependent gates alpha_t in (0, 1]^K:
 *   recurrent:  S_t = diag(alpha_t) S_{t-1} + k_t^T v_t   ([K, V] state),   o_t = q_t S_t
 *   parallel:   o_t = sum_{s<=t} P[t, s] v_s,
 *               P[t, s] = sum_d q_t[d] k_s[d] exp(Lambda_t[d] - Lambda_s[d]),  Lambda_t = sum_{r<=t} log alpha_r
 * The parallel form's P [T, T] is the layer's token-mixing matrix (read like attention).
 *
 * `glaPatternFused` has a hand-written gradient: with W[t, s, d] = dP[t, s] exp(Lambda_t - Lambda_s)[d]
 * (s <= t), dq_t = sum_s W k_s, dk_s = sum_t W q_t, dLambda = q dq - k dk, and d log alpha is the
 * reverse cumulative sum of dLambda over time. `glaPatternStock` is the same in stock ops
 * (tfjs autodiff). `glaRecurrent` is the float64 reference of the recurrence.
 *
 * Shapes: n = batch x heads, T positions, K key size, V value size. Exponents are clamped at 0
 * above the diagonal (masked anyway), so nothing overflows for long sequences.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NATIVE, nativeKernelsActive, runNative } from './native';

type T3 = tf.Tensor3D;

const lowerCache = new Map<number, tf.Tensor>();
/** [1, T, T, 1] lower-triangular ones (s <= t), kept for reuse. */
function lower4(t: number): tf.Tensor {
  let m = lowerCache.get(t);
  if (!m || m.isDisposed) {
    const a = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = 0; j <= i; j++) a[i * t + j] = 1;
    m = tf.keep(tf.tensor4d(a, [1, t, t, 1]));
    lowerCache.set(t, m);
  }
  return m;
}

/**
 * Cumulative sum over time of [n, T, K], on the last axis of the transposed tensor (tfjs's
 * Cumsum gradient is wrong for an inner axis).
 */
function cumsumTime(x: tf.Tensor, reverse = false): tf.Tensor {
  return tf.transpose(tf.cumsum(tf.transpose(x, [0, 2, 1]), 2, false, reverse), [0, 2, 1]);
}

/** exp(Lambda_t - Lambda_s) for s <= t, else 0: logA [n, T, K] -> [n, T, T, K]. */
function decays(logA: tf.Tensor): tf.Tensor {
  const [n, t, k] = logA.shape;
  const lam = cumsumTime(logA); // [n, T, K]
  const diff = tf.sub(tf.reshape(lam, [n, t, 1, k]), tf.reshape(lam, [n, 1, t, k])); // [n, T, T, K]
  return tf.mul(tf.exp(tf.minimum(diff, 0)), lower4(t));
}

/** q, k, logA [n, T, K] -> P [n, T, T]. */
export type GlaPatternFn = (q: T3, k: T3, logA: T3) => T3;

export const glaPatternStock: GlaPatternFn = (q, k, logA) => {
  const [n, t, kd] = q.shape;
  const e = decays(logA);
  return tf.sum(tf.mul(tf.mul(tf.reshape(q, [n, t, 1, kd]), tf.reshape(k, [n, 1, t, kd])), e), 3) as T3;
};

/* eslint-disable @typescript-eslint/no-explicit-any */
const glaOp = tf.customGrad(((q: tf.Tensor, k: tf.Tensor, logA: tf.Tensor, save: tf.GradSaveFunc) => {
  const [n, t, kd] = q.shape;
  const e = decays(logA); // [n, T, T, K]
  const q4 = tf.reshape(q, [n, t, 1, kd]);
  const k4 = tf.reshape(k, [n, 1, t, kd]);
  save([q, k, e]);
  return {
    value: tf.sum(tf.mul(tf.mul(q4, k4), e), 3), // [n, T, T]
    gradFunc: (dp: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, sk, se] = saved;
      const w = tf.mul(tf.reshape(dp, [n, t, t, 1]), se); // [n, T, T, K]
      const dq = tf.sum(tf.mul(w, tf.reshape(sk, [n, 1, t, kd])), 2); // [n, T, K]
      const dk = tf.sum(tf.mul(w, tf.reshape(sq, [n, t, 1, kd])), 1); // [n, T, K]
      const dLam = tf.sub(tf.mul(sq, dq), tf.mul(sk, dk)); // [n, T, K]
      const dLogA = cumsumTime(dLam, true); // reverse cumulative sum over time
      return [dq, dk, dLogA];
    },
  };
}) as any) as unknown as (q: tf.Tensor, k: tf.Tensor, logA: tf.Tensor) => tf.Tensor;

export const glaPatternFused: GlaPatternFn = (q, k, logA) => (nativeKernelsActive() ? glaNative(q, k, logA) : glaOp(q, k, logA)) as T3;

/** The same op as one native kernel each way (./native.ts); the decays are recomputed, not kept. */
const glaNative = tf.customGrad(((q: tf.Tensor, k: tf.Tensor, logA: tf.Tensor, save: tf.GradSaveFunc) => {
  save([q, k, logA]);
  return {
    value: runNative(NATIVE.glaPattern, { q, k, logA })[0],
    gradFunc: (dp: tf.Tensor, [sq, sk, sl]: tf.Tensor[]) => runNative(NATIVE.glaPatternGrad, { dp, q: sq, k: sk, logA: sl }),
  };
}) as any) as unknown as (q: tf.Tensor, k: tf.Tensor, logA: tf.Tensor) => tf.Tensor;

/**
 * Reference: the recurrence in plain JavaScript (float64). q, k, logA [n, T, K], v [n, T, V]
 * (row-major values and their shapes) -> o [n, T, V].
 */
export function glaRecurrent(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  logA: ArrayLike<number>,
  n: number,
  t: number,
  kd: number,
  vd: number,
): Float64Array {
  const o = new Float64Array(n * t * vd);
  for (let i = 0; i < n; i++) {
    const s = new Float64Array(kd * vd); // S [K, V]
    for (let p = 0; p < t; p++) {
      const base = (i * t + p) * kd;
      for (let d = 0; d < kd; d++) {
        const a = Math.exp(logA[base + d]);
        const kk = k[base + d];
        for (let e = 0; e < vd; e++) s[d * vd + e] = a * s[d * vd + e] + kk * v[(i * t + p) * vd + e];
      }
      for (let e = 0; e < vd; e++) {
        let acc = 0;
        for (let d = 0; d < kd; d++) acc += q[base + d] * s[d * vd + e];
        o[(i * t + p) * vd + e] = acc;
      }
    }
  }
  return o;
}
