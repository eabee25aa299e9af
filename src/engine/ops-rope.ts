/**
 * Rotary position embedding (RoPE, Su et al. 2021) in the "rotate half" layout: the feature pairs
 * (i, i + Dh/2) of every head vector are rotated by the angle p * base^(-2i/Dh) at position p.
 * q_p . k_s then depends on the positions only through p - s.
 *
 * The op has a hand-written gradient: the rotation is orthogonal, so the backward pass is the
 * rotation by minus the angle.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';

type T3 = tf.Tensor3D;

const tables = new Map<string, { cos: tf.Tensor2D; sin: tf.Tensor2D }>();

/** cos and sin of the rotation angles: [T, Dh/2] each, for positions offset..offset+T-1 (kept for reuse). */
export function ropeTables(t: number, dh: number, base = 10000, offset = 0): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const key = `${t}:${dh}:${base}:${offset}`;
  let e = tables.get(key);
  if (!e || e.cos.isDisposed) {
    const half = dh / 2;
    const c = new Float32Array(t * half);
    const s = new Float32Array(t * half);
    for (let p = 0; p < t; p++) {
      for (let i = 0; i < half; i++) {
        const a = (p + offset) * Math.pow(base, (-2 * i) / dh);
        c[p * half + i] = Math.cos(a);
        s[p * half + i] = Math.sin(a);
      }
    }
    e = { cos: tf.keep(tf.tensor2d(c, [t, half])), sin: tf.keep(tf.tensor2d(s, [t, half])) };
    tables.set(key, e);
  }
  return e;
}

/** x [n, T, Dh] rotated by angle sign * theta: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin). */
function rotate(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D, sign: 1 | -1): tf.Tensor {
  const [n, t, dh] = x.shape;
  const half = dh / 2;
  const x1 = tf.slice(x, [0, 0, 0], [n, t, half]);
  const x2 = tf.slice(x, [0, 0, half], [n, t, half]);
  const s = sign === 1 ? sin : tf.neg(sin);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, s)), tf.add(tf.mul(x2, cos), tf.mul(x1, s))], 2);
}

/**
 * RoPE: x [n, T, Dh] (n = batch x heads, Dh even) -> [n, T, Dh], position p of the sequence at
 * absolute position p + offset.
 */
export function rope(x: T3, base = 10000, offset = 0): T3 {
  const [, t, dh] = x.shape;
  if (dh % 2 !== 0) {
    throw new GroundlabError('BAD_CONFIG', `rotary positions need an even head size (got ${dh})`, { hint: 'pick dModel / nHeads even' });
  }
  const { cos, sin } = ropeTables(t, dh, base, offset);
  const op = tf.customGrad(((xi: tf.Tensor) => ({
    value: rotate(xi, cos, sin, 1),
    gradFunc: (dy: tf.Tensor) => rotate(dy, cos, sin, -1),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T3;
}
