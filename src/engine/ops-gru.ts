/**
 * One GRU layer over a whole sequence (PyTorch's gate order r, z, n; zero initial state):
 *   r = sigmoid(xr + hr),  z = sigmoid(xz + hz),  n = tanh(xn + r * hn),  h' = (1 - z) n + z h
 * with the input projections precomputed, xw = x W_ih + b_ih [T, B, 3D] = (xr | xz | xn), and
 * (hr | hz | hn) = h W_hh + b_hh. Returns the hidden state of every step: [T, B, D].
 *
 * `gruLayerFused` runs the recurrence without a tape and has a hand-written backward pass
 * (backpropagation through time, dW_hh and db_hh from one product and one sum over all steps);
 * `gruLayerStock` is the same recurrence in stock ops, differentiated by tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { splitLast } from './ops';
import { NATIVE, nativeKernelsActive, runNative } from './native';

type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

export type GruLayerFn = (xw: T3, whh: T2, bhh: tf.Tensor1D) => T3;

/** One step: x-part g [B, 3D], h [B, D] -> the gates and the new state. */
function step(gx: tf.Tensor, h: tf.Tensor, whh: tf.Tensor, bhh: tf.Tensor, d: number) {
  const gh = tf.add(tf.matMul(h as T2, whh as T2), bhh); // [B, 3D]
  const [xrz, xn] = splitLast(gx, [2 * d, d]);
  const [hrz, hn] = splitLast(gh, [2 * d, d]);
  const [r, z] = splitLast(tf.sigmoid(tf.add(xrz, hrz)), [d, d]); // both gates in one sigmoid
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
  const hNew = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h)); // [B, D]
  return { r, z, n, hn, hNew };
}

function stepInput(xw: tf.Tensor, s: number): tf.Tensor {
  const [, b, d3] = xw.shape;
  return tf.reshape(tf.slice(xw, [s, 0, 0], [1, b, d3]), [b, d3]);
}

/** The stock recurrence; `edit(h [B, D], s)` may replace the state after step s (carried into step s + 1). */
export const gruLayerStock = (xw: T3, whh: T2, bhh: tf.Tensor1D, edit?: (h: T2, s: number) => T2 | void): T3 => {
  const [t, b, d3] = xw.shape;
  const d = d3 / 3;
  let h: tf.Tensor = tf.zeros([b, d]);
  const out: tf.Tensor[] = [];
  for (let s = 0; s < t; s++) {
    h = step(stepInput(xw, s), h, whh, bhh, d).hNew;
    if (edit) h = edit(h as T2, s) ?? h;
    out.push(h);
  }
  return tf.stack(out) as T3;
};

/* eslint-disable @typescript-eslint/no-explicit-any */
const gruOp = tf.customGrad(((xw: tf.Tensor, whh: tf.Tensor, bhh: tf.Tensor, save: tf.GradSaveFunc) => {
  const [t, b, d3] = xw.shape;
  const d = d3 / 3;
  let h: tf.Tensor = tf.zeros([b, d]);
  const acts: tf.Tensor[] = []; // per step [B, 4D]: r, z, n, hn
  const hPrev: tf.Tensor[] = [];
  const hs: tf.Tensor[] = [];
  for (let s = 0; s < t; s++) {
    hPrev.push(h);
    const g = step(stepInput(xw, s), h, whh, bhh, d);
    acts.push(tf.concat([g.r, g.z, g.n, g.hn], 1));
    h = g.hNew;
    hs.push(h);
  }
  const A = tf.stack(acts); // [T, B, 4D]
  const HP = tf.stack(hPrev); // [T, B, D]
  save([A, HP, whh]);
  return {
    value: tf.stack(hs), // [T, B, D]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sA, sHP, sW] = saved;
      const whhT = tf.transpose(sW, [1, 0]) as T2; // [3D, D]
      let dhNext: tf.Tensor = tf.zeros([b, d]);
      const dxs: tf.Tensor[] = new Array(t); // d(xr, xz, xn) [B, 3D]
      const dhs: tf.Tensor[] = new Array(t); // d(hr, hz, hn) [B, 3D]
      for (let s = t - 1; s >= 0; s--) {
        const a = tf.reshape(tf.slice(sA, [s, 0, 0], [1, b, 4 * d]), [b, 4 * d]);
        const [r, z, n, hn] = splitLast(a, [d, d, d, d]);
        const hp = tf.reshape(tf.slice(sHP, [s, 0, 0], [1, b, d]), [b, d]);
        const dh = tf.add(tf.reshape(tf.slice(dy, [s, 0, 0], [1, b, d]), [b, d]), dhNext);
        const dn = tf.mul(dh, tf.sub(1, z));
        const dz = tf.mul(dh, tf.sub(hp, n));
        const dan = tf.mul(dn, tf.sub(1, tf.square(n))); // pre-activation of n
        const dar = tf.mul(tf.mul(dan, hn), tf.mul(r, tf.sub(1, r)));
        const daz = tf.mul(dz, tf.mul(z, tf.sub(1, z)));
        const dgh = tf.concat([dar, daz, tf.mul(dan, r)], 1); // [B, 3D]
        dxs[s] = tf.concat([dar, daz, dan], 1);
        dhs[s] = dgh;
        dhNext = tf.add(tf.mul(dh, z), tf.matMul(dgh as T2, whhT));
      }
      const dXW = tf.stack(dxs); // [T, B, 3D]
      const dGH = tf.reshape(tf.stack(dhs), [t * b, 3 * d]) as T2; // [T*B, 3D]
      const dW = tf.matMul(tf.transpose(tf.reshape(sHP, [t * b, d]), [1, 0]) as T2, dGH); // [D, 3D]
      const db = tf.sum(dGH, 0); // [3D]
      return [dXW, dW, db];
    },
  };
}) as any) as unknown as (xw: tf.Tensor, whh: tf.Tensor, bhh: tf.Tensor) => tf.Tensor;

export const gruLayerFused: GruLayerFn = (xw, whh, bhh) => (nativeKernelsActive() ? gruNative(xw, whh, bhh) : gruOp(xw, whh, bhh)) as T3;

/** The same layer as one native kernel each way (./native.ts: the recurrence and BPTT in C++ with BLAS steps). */
const gruNative = tf.customGrad(((xw: tf.Tensor, whh: tf.Tensor, bhh: tf.Tensor, save: tf.GradSaveFunc) => {
  const [out, acts] = runNative(NATIVE.gru, { xw, whh, bhh });
  save([acts, out, whh]);
  return {
    value: out,
    gradFunc: (dy: tf.Tensor, [sA, sOut, sW]: tf.Tensor[]) => runNative(NATIVE.gruGrad, { dy, acts: sA, out: sOut, whh: sW }),
  };
}) as any) as unknown as (xw: tf.Tensor, whh: tf.Tensor, bhh: tf.Tensor) => tf.Tensor;
