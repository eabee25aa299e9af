/**
 * Fused operations with hand-written gradients (`tf.customGrad`), written for the wasm backend:
 * every matrix product is a 2-D product without transpose flags (XNNPACK's fast path) or a batched
 * product through `GroundlabBmm` (see ./ops-kernels), transposes are explicit, and each backward
 * pass is a handful of kernels instead of the long chain stock autodiff records.
 *
 * `fusedOps` and `stockOps` implement one interface (`Ops`), so a model can run either: the stock
 * versions use plain tfjs ops and tfjs's own gradients (the "naive" baseline of the benchmark).
 *
 * Shapes: N = rows (batch x positions), I/O = in/out features, V = vocabulary, n = batch x heads,
 * T = positions, Dh = head size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { BMM_KERNEL, hasFastBmm, installWasmKernels } from './ops-kernels';
import { NATIVE, nativeKernelsActive, runNative as nk } from './native';

type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

/* eslint-disable @typescript-eslint/no-explicit-any */
type GradResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };
/** `tf.customGrad` with loose typing: f(...inputs, save) -> { value, gradFunc }. */
function cg(f: (...args: any[]) => GradResult): (...xs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as any) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
}

// ---------------------------------------------------------------------------------------------
// Building blocks without gradients (used inside customGrad forward/backward functions).

/** [n, M, K] x [n, K, P] -> [n, M, P], no gradient recorded. */
export function bmmRaw(a: T3, b: T3): T3 {
  if (hasFastBmm()) return tf.engine().runKernel(BMM_KERNEL, { a, b }, {}) as T3;
  return tf.matMul(a, b);
}

/** [n, M, K] -> [n, K, M] */
function t3(x: T3): T3 {
  return tf.transpose(x, [0, 2, 1]);
}

/** Column sums of a [N, O] matrix as [O], by a 2-D product with ones (the wasm Sum over axis 0 is ~40x slower). */
export function colSum(x: tf.Tensor): tf.Tensor1D {
  const n = x.shape[0];
  const o = x.size / n;
  return tf.reshape(tf.matMul(tf.ones([1, n]), tf.reshape(x, [n, o]) as T2), [o]) as tf.Tensor1D;
}

/**
 * Split the last axis into pieces of the given sizes with one slice each (the wasm SplitV copies its
 * whole input once per piece).
 */
export function splitLast<R extends tf.Tensor>(x: R, sizes: number[]): R[] {
  installWasmKernels();
  const r = x.rank;
  let off = 0;
  return sizes.map((sz) => {
    const begin = new Array(r).fill(0);
    begin[r - 1] = off;
    const size = [...x.shape];
    size[r - 1] = sz;
    off += sz;
    return tf.slice(x, begin, size) as R;
  });
}

/** [M, K] -> [K, M] */
function t2(x: T2): T2 {
  return tf.transpose(x, [1, 0]);
}

/**
 * With the native kernels (./native.ts) a product takes its transposes as BLAS flags, batched or
 * not, so the explicit transposes the wasm path needs are skipped. op(a) op(b), rank 2 or 3.
 */
function nmm<R extends T2 | T3>(a: R, b: R, ta = false, tb = false): R {
  return tf.matMul(a, b, ta, tb) as R;
}

// ---------------------------------------------------------------------------------------------
// Fused ops.

/** Batched product with a hand-written gradient: a [n, M, K], b [n, K, P] -> [n, M, P]. */
export const batchMatMul = cg((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: bmmRaw(a as T3, b as T3),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as T3[];
      if (nativeKernelsActive()) return [nmm(dy as T3, sb, false, true), nmm(sa, dy as T3, true, false)];
      return [bmmRaw(dy as T3, t3(sb)), bmmRaw(t3(sa), dy as T3)];
    },
  };
}) as unknown as (a: T3, b: T3) => T3;

const linearBias = cg((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    // [N, O]
    value: tf.fused.matMul({ a: x as T2, b: w as T2, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as T2[];
      const [n, i] = sx.shape;
      const o = dy.shape[1] as number;
      if (nativeKernelsActive()) return [nmm(dy as T2, sw, false, true), nmm(sx, dy as T2, true, false), colSum(dy)];
      const dx = tf.matMul(dy as T2, t2(sw));
      if (o < i) {
        // Transpose the smaller operand (transposes of big matrices cost as much as the product):
        // dw = (dy^T x)^T, db = row sums of dy^T (an innermost reduction, fast).
        const dyT = t2(dy as T2); // [O, N]
        return [dx, t2(tf.matMul(dyT, sx)), tf.sum(dyT, 1)];
      }
      // [x^T; 1] dy gives dw and db from one product: [I+1, N] x [N, O] -> [I+1, O]
      const dwb = tf.matMul(tf.concat([t2(sx), tf.ones([1, n])], 0) as T2, dy as T2);
      return [dx, tf.slice(dwb, [0, 0], [i, o]), tf.reshape(tf.slice(dwb, [i, 0], [1, o]), [o])];
    },
  };
});

const linearNoBias = cg((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x as T2, w as T2), // [N, O]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as T2[];
      if (nativeKernelsActive()) return [nmm(dy as T2, sw, false, true), nmm(sx, dy as T2, true, false)];
      const dx = tf.matMul(dy as T2, t2(sw));
      // transpose the smaller operand: dw = x^T dy or (dy^T x)^T
      const dw = (dy.shape[1] as number) < sx.shape[1] ? t2(tf.matMul(t2(dy as T2), sx)) : tf.matMul(t2(sx), dy as T2);
      return [dx, dw];
    },
  };
});

/** x [N, I] @ w [I, O] (+ b [O]) -> [N, O]; backward: dx = dy w^T, dw = x^T dy, db = sum(dy). */
export function linear(x: T2, w: T2, b?: tf.Tensor): T2 {
  return (b ? linearBias(x, w, b) : linearNoBias(x, w)) as T2;
}

/** Layer norm over the last axis: x [N, D], gamma [D], beta [D] -> [N, D]. */
export function layerNorm(x: T2, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): T2 {
  return layerNormOp(eps)(x, gamma, beta) as T2;
}

const layerNormOp = (eps: number) =>
  cg((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    if (nativeKernelsActive()) {
      const [y, xhat, rstd] = nk(NATIVE.layerNorm, { x, gamma: g, beta: b }, { eps });
      save([xhat, rstd, g]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, [sxhat, srstd, sg]: tf.Tensor[]) =>
          nk(NATIVE.layerNormGrad, { dy, xhat: sxhat, rstd: srstd, gamma: sg }, { rms: 0 }),
      };
    }
    const mu = tf.mean(x, -1, true); // [N, 1]
    const xc = tf.sub(x, mu);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)); // [N, 1]
    const xhat = tf.mul(xc, rstd); // [N, D]
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sxhat, srstd, sg] = saved;
        const dxhat = tf.mul(dy, sg);
        const m1 = tf.mean(dxhat, -1, true);
        const m2 = tf.mean(tf.mul(dxhat, sxhat), -1, true);
        const dx = tf.mul(tf.sub(tf.sub(dxhat, m1), tf.mul(sxhat, m2)), srstd);
        const d = dy.shape[1] as number;
        const both = colSum(tf.concat([tf.mul(dy, sxhat), dy], 1)); // [2D]: dgamma, dbeta
        return [dx, tf.slice(both, [0], [d]), tf.slice(both, [d], [d])];
      },
    };
  });

/** RMS norm over the last axis: x [N, D], gamma [D] -> [N, D]. */
export function rmsNorm(x: T2, gamma: tf.Tensor, eps = 1e-5): T2 {
  return rmsNormOp(eps)(x, gamma) as T2;
}

const rmsNormOp = (eps: number) =>
  cg((x: tf.Tensor, g: tf.Tensor, save: tf.GradSaveFunc) => {
    if (nativeKernelsActive()) {
      const [y, xhat, rstd] = nk(NATIVE.layerNorm, { x, gamma: g }, { eps });
      save([xhat, rstd, g]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, [sxhat, srstd, sg]: tf.Tensor[]) =>
          nk(NATIVE.layerNormGrad, { dy, xhat: sxhat, rstd: srstd, gamma: sg }, { rms: 1 }),
      };
    }
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)); // [N, 1]
    const xhat = tf.mul(x, rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.mul(xhat, g),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sxhat, srstd, sg] = saved;
        const dxhat = tf.mul(dy, sg);
        const m = tf.mean(tf.mul(dxhat, sxhat), -1, true);
        const dx = tf.mul(tf.sub(dxhat, tf.mul(sxhat, m)), srstd);
        return [dx, colSum(tf.mul(dy, sxhat))];
      },
    };
  });

const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * GELU, tanh approximation (GPT-2's "gelu_new"): any shape. Computed as x * sigmoid(2u) with
 * u = k (x + c x^3), which equals 0.5 x (1 + tanh(u)) (the wasm sigmoid is ~8x faster than tanh).
 * d/dx = s + x s (1 - s) 2 k (1 + 3 c x^2), s = sigmoid(2u).
 */
export const gelu = cg((x: tf.Tensor, save: tf.GradSaveFunc) => {
  if (nativeKernelsActive()) {
    save([x]);
    return { value: nk(NATIVE.gelu, { x })[0], gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => nk(NATIVE.geluGrad, { x: sx, dy })[0] };
  }
  const sg = tf.sigmoid(tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), GELU_C)), 2 * GELU_K));
  save([x, sg]);
  return {
    value: tf.mul(x, sg),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, ss] = saved;
      const du = tf.add(tf.mul(tf.square(sx), 6 * GELU_C * GELU_K), 2 * GELU_K); // 2 u'
      const d = tf.add(ss, tf.mul(tf.mul(sx, tf.mul(ss, tf.sub(1, ss))), du));
      return tf.mul(dy, d);
    },
  };
}) as unknown as <R extends tf.Tensor>(x: R) => R;

/**
 * Mean cross-entropy (nats) from logits [N, V] and integer targets [N] over rows where mask [N]
 * is 1 (default: all rows). The gradient is (softmax - onehot) * mask / sum(mask).
 */
export function crossEntropy(logits: T2, targets: tf.Tensor1D, mask?: tf.Tensor1D): tf.Scalar {
  const [n, v] = logits.shape;
  if (nativeKernelsActive()) {
    const ids = targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32');
    const op = cg((z: tf.Tensor, save: tf.GradSaveFunc) => {
      const [loss, grad] = nk(NATIVE.crossEntropy, mask ? { logits: z, targets: ids, mask } : { logits: z, targets: ids });
      save([grad]);
      return { value: loss, gradFunc: (dy: tf.Tensor, [sgrad]: tf.Tensor[]) => tf.mul(sgrad, dy) };
    });
    const out = op(logits) as tf.Scalar;
    if (ids !== targets) ids.dispose();
    return out;
  }
  const m = mask ?? tf.ones([n]);
  const denom = tf.maximum(tf.sum(m), 1);
  const onehot = tf.oneHot(tf.cast(targets, 'int32'), v); // [N, V]
  const op = cg((z: tf.Tensor, save: tf.GradSaveFunc) => {
    const zmax = tf.max(z, -1, true); // [N, 1]
    const zs = tf.sub(z, zmax);
    const lse = tf.log(tf.sum(tf.exp(zs), -1, true)); // [N, 1]
    const logp = tf.sub(zs, lse); // [N, V]
    const nll = tf.neg(tf.sum(tf.mul(logp, onehot), -1)); // [N]
    save([logp, onehot, m, denom]);
    return {
      value: tf.div(tf.sum(tf.mul(nll, m)), denom),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [slogp, sonehot, sm, sdenom] = saved;
        const w = tf.reshape(tf.mul(tf.div(sm, sdenom), dy), [n, 1]);
        return tf.mul(tf.sub(tf.exp(slogp), sonehot), w);
      },
    };
  });
  const out = op(logits) as tf.Scalar;
  tf.dispose(mask ? [onehot, denom] : [onehot, denom, m]);
  return out;
}

const maskCache = new Map<number, tf.Tensor2D>();

/** [T, T] additive causal mask: 0 where key j <= query i, -1e9 above the diagonal (kept for reuse). */
export function causalMask(t: number): tf.Tensor2D {
  let m = maskCache.get(t);
  if (!m || m.isDisposed) {
    const a = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) a[i * t + j] = -1e9;
    m = tf.keep(tf.tensor2d(a, [t, t]));
    maskCache.set(t, m);
  }
  return m;
}

/**
 * Fused causal attention: q, k, v [n, T, Dh] (n = batch x heads) -> z [n, T, Dh], with
 * softmax(q k^T / sqrt(Dh) + causal mask) as the pattern. The pattern never leaves the op:
 * use `attentionPattern` + `batchMatMul` when a hook must see or replace it.
 */
export const causalAttention = cg((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
  const [, t, dh] = q.shape;
  const scale = 1 / Math.sqrt(dh);
  if (nativeKernelsActive()) {
    const p = nk(NATIVE.causalSoftmax, { s: nmm(q as T3, k as T3, false, true) }, { scale })[0] as T3; // [n, T, T]
    save([q, k, v, p]);
    return {
      value: nmm(p, v as T3), // [n, T, Dh]
      gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as T3[];
        const dp = nmm(dz as T3, sv, false, true); // [n, T, T]
        const ds = nk(NATIVE.causalSoftmaxGrad, { p: sp, dp }, { scale })[0] as T3;
        return [nmm(ds, sk), nmm(ds, sq, true, false), nmm(sp, dz as T3, true, false)];
      },
    };
  }
  const s = tf.add(tf.mul(bmmRaw(q as T3, t3(k as T3)), scale), causalMask(t)) as T3; // [n, T, T]
  const p = tf.softmax(s); // [n, T, T]
  save([q, k, v, p]);
  return {
    value: bmmRaw(p as T3, v as T3), // [n, T, Dh]
    gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, sk, sv, sp] = saved as T3[];
      const dp = bmmRaw(dz as T3, t3(sv)); // [n, T, T]
      const dv = bmmRaw(t3(sp), dz as T3); // [n, T, Dh]
      const ds = tf.mul(tf.mul(sp, tf.sub(dp, tf.sum(tf.mul(dp, sp), -1, true))), scale); // [n, T, T]
      const dq = bmmRaw(ds as T3, sk); // [n, T, Dh]
      const dk = bmmRaw(t3(ds as T3), sq); // [n, T, Dh]
      return [dq, dk, dv];
    },
  };
}) as unknown as (q: T3, k: T3, v: T3) => T3;

/** Attention scores q k^T / sqrt(Dh) + causal mask: q, k [n, T, Dh] -> [n, T, T] (differentiable, explicit). */
export function attentionScores(q: T3, k: T3, fused = true): T3 {
  const dh = q.shape[2];
  const prod = fused ? batchMatMul(q, t3(k)) : tf.matMul(q, k, false, true);
  return tf.add(tf.mul(prod, 1 / Math.sqrt(dh)), causalMask(q.shape[1]));
}

/**
 * Embedding lookup: ids [N] int32, table [V, D] -> [N, D]. Forward is a gather; the gradient is
 * a scatter-add done in JavaScript (the wasm backend has no UnsortedSegmentSum, which the stock
 * gather gradient needs). Only the table gets a gradient.
 */
export function embedding(ids: tf.Tensor1D, table: T2): T2 {
  const idArr = ids.dataSync();
  const [vocab, d] = table.shape;
  for (let i = 0; i < idArr.length; i++) {
    if (!(idArr[i] >= 0 && idArr[i] < vocab)) {
      throw new GroundlabError('BAD_ARGUMENT', `token id ${idArr[i]} at position ${i} is outside the vocabulary (0..${vocab - 1})`, {
        hint: 'encode with the tokenizer the model was built for (vocabSize must match)',
      });
    }
  }
  if (nativeKernelsActive()) {
    // The scatter-add as one native kernel; the ids travel as a saved tensor.
    const op = cg((w: tf.Tensor, save: tf.GradSaveFunc) => {
      const int = ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32');
      save([int]);
      return {
        value: tf.gather(w, int),
        gradFunc: (dy: tf.Tensor, [sids]: tf.Tensor[]) => nk(NATIVE.embeddingGrad, { ids: sids, dy }, { vocab })[0],
      };
    });
    return op(table) as T2;
  }
  const op = cg((w: tf.Tensor) => ({
    value: tf.gather(w, ids),
    gradFunc: (dy: tf.Tensor) => {
      const g = dy.dataSync();
      const out = new Float32Array(vocab * d);
      for (let i = 0; i < idArr.length; i++) {
        const row = idArr[i] * d;
        const src = i * d;
        for (let j = 0; j < d; j++) out[row + j] += g[src + j];
      }
      return tf.tensor2d(out, [vocab, d]);
    },
  }));
  return op(table) as T2;
}

/**
 * One LSTM layer over a whole sequence (PyTorch gate order i, f, g, o; zero initial state), with
 * the input projections precomputed: xw [T, B, 4D] (x W_ih + bias), whh [D, 4D]. Returns the
 * hidden and cell states of every step side by side: [T, B, 2D] (h | c).
 */
export type LstmLayerFn = (xw: T3, whh: T2) => T3;

/**
 * Stock ops; tfjs autodiff unrolls the loop. `edit(hc [B, 2D] = h | c, s)` may replace the state
 * after step s (carried into step s + 1; used by interchange interventions, src/causal).
 */
export const lstmLayerStock = (xw: T3, whh: T2, edit?: (hc: T2, s: number) => T2 | void): T3 => {
  const [t, b, d4] = xw.shape;
  const d = d4 / 4;
  let h: tf.Tensor = tf.zeros([b, d]);
  let c: tf.Tensor = tf.zeros([b, d]);
  const out: tf.Tensor[] = [];
  for (let s = 0; s < t; s++) {
    const g = tf.add(tf.reshape(tf.slice(xw, [s, 0, 0], [1, b, d4]), [b, d4]), tf.matMul(h as T2, whh));
    const [gi, gf, gg, go] = splitLast(g, [d, d, d, d]);
    c = tf.add(tf.mul(tf.sigmoid(gf), c), tf.mul(tf.sigmoid(gi), tf.tanh(gg)));
    h = tf.mul(tf.sigmoid(go), tf.tanh(c));
    let hc = tf.concat([h, c], 1) as T2;
    if (edit) {
      hc = edit(hc, s) ?? hc;
      [h, c] = splitLast(hc, [d, d]);
    }
    out.push(hc);
  }
  return tf.stack(out) as T3;
};

/**
 * Fused: the recurrence runs without a tape; the backward pass is hand-written backpropagation
 * through time, with dW_hh from one 2-D product over all steps.
 */
export const lstmLayerFused: LstmLayerFn = (xw, whh) => (nativeKernelsActive() ? lstmNative(xw, whh) : lstmOp(xw, whh)) as T3;

/** The same layer as one native kernel each way (the recurrence and BPTT in C++ with BLAS steps). */
const lstmNative = cg((xw: tf.Tensor, whh: tf.Tensor, save: tf.GradSaveFunc) => {
  const [out, acts] = nk(NATIVE.lstm, { xw, whh });
  save([acts, out, whh]);
  return {
    value: out,
    gradFunc: (dy: tf.Tensor, [sA, sOut, sW]: tf.Tensor[]) => nk(NATIVE.lstmGrad, { dy, acts: sA, out: sOut, whh: sW }),
  };
});

const lstmOp = cg((xw: tf.Tensor, whh: tf.Tensor, save: tf.GradSaveFunc) => {
  const [t, b, d4] = xw.shape;
  const d = d4 / 4;
  let h: tf.Tensor = tf.zeros([b, d]);
  let c: tf.Tensor = tf.zeros([b, d]);
  const acts: tf.Tensor[] = []; // per step [B, 4D]: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
  const hPrev: tf.Tensor[] = [];
  const cs: tf.Tensor[] = [];
  const hs: tf.Tensor[] = [];
  for (let s = 0; s < t; s++) {
    hPrev.push(h);
    const g = tf.add(tf.reshape(tf.slice(xw, [s, 0, 0], [1, b, d4]), [b, d4]), tf.matMul(h as T2, whh as T2)); // [B, 4D]
    const sg = tf.sigmoid(g);
    const [si, sf, , so] = splitLast(sg, [d, d, d, d]);
    const tg = tf.tanh(tf.slice(g, [0, 2 * d], [b, d]));
    c = tf.add(tf.mul(sf, c), tf.mul(si, tg));
    h = tf.mul(so, tf.tanh(c));
    acts.push(tf.concat([si, sf, tg, so], 1));
    cs.push(c);
    hs.push(h);
  }
  const A = tf.stack(acts); // [T, B, 4D]
  const C = tf.stack(cs); // [T, B, D]
  const HP = tf.stack(hPrev); // [T, B, D]
  save([A, C, HP, whh]);
  return {
    value: tf.concat([tf.stack(hs), C], 2), // [T, B, 2D]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sA, sC, sHP, sW] = saved;
      const whhT = t2(sW as T2); // [4D, D]
      let dhNext: tf.Tensor = tf.zeros([b, d]);
      let dcNext: tf.Tensor = tf.zeros([b, d]);
      const dgs: tf.Tensor[] = new Array(t);
      for (let s = t - 1; s >= 0; s--) {
        const dys = tf.reshape(tf.slice(dy, [s, 0, 0], [1, b, 2 * d]), [b, 2 * d]);
        const [dhExt, dcExt] = splitLast(dys, [d, d]);
        const a = tf.reshape(tf.slice(sA, [s, 0, 0], [1, b, d4]), [b, d4]);
        const [si, sf, tg, so] = splitLast(a, [d, d, d, d]);
        const cNow = tf.reshape(tf.slice(sC, [s, 0, 0], [1, b, d]), [b, d]);
        const cPrev = s > 0 ? tf.reshape(tf.slice(sC, [s - 1, 0, 0], [1, b, d]), [b, d]) : tf.zeros([b, d]);
        const tc = tf.tanh(cNow);
        const dh = tf.add(dhExt, dhNext);
        const dc = tf.add(tf.add(dcExt, dcNext), tf.mul(tf.mul(dh, so), tf.sub(1, tf.square(tc))));
        const dgi = tf.mul(tf.mul(dc, tg), tf.mul(si, tf.sub(1, si)));
        const dgf = tf.mul(tf.mul(dc, cPrev), tf.mul(sf, tf.sub(1, sf)));
        const dgg = tf.mul(tf.mul(dc, si), tf.sub(1, tf.square(tg)));
        const dgo = tf.mul(tf.mul(dh, tc), tf.mul(so, tf.sub(1, so)));
        const dg = tf.concat([dgi, dgf, dgg, dgo], 1); // [B, 4D]
        dgs[s] = dg;
        dcNext = tf.mul(dc, sf);
        dhNext = tf.matMul(dg as T2, whhT);
      }
      const dXW = tf.stack(dgs); // [T, B, 4D]
      const dW = tf.matMul(t2(tf.reshape(sHP, [t * b, d]) as T2), tf.reshape(dXW, [t * b, d4]) as T2); // [D, 4D]
      return [dXW, dW];
    },
  };
});

const trilCache = new Map<number, tf.Tensor2D>();
/** [T, T] lower-triangular ones (kept for reuse). */
export function trilOnes(t: number): tf.Tensor2D {
  let m = trilCache.get(t);
  if (!m || m.isDisposed) {
    const a = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = 0; j <= i; j++) a[i * t + j] = 1;
    m = tf.keep(tf.tensor2d(a, [t, t]));
    trilCache.set(t, m);
  }
  return m;
}

/**
 * The Mamba-2 SSD token-mixing matrix from step sizes dt [B, T, H], per-head A [H] (negative) and
 * the C.B products cb [B, T, T] (cb[t, s] = C_t . B_s):
 *   M[b,h,t,s] = cb[b,t,s] * exp(sum_{r=s+1..t} dt[b,r,h] A[h]) * dt[b,s,h]  for s <= t, else 0.
 * Returns [B, H, T, T].
 */
export type SsdPatternFn = (dt: T3, a: tf.Tensor1D, cb: T3) => tf.Tensor4D;

export const ssdPatternStock: SsdPatternFn = (dt, a, cb) => {
  const [b, t, h] = dt.shape;
  const dtH = tf.transpose(dt, [0, 2, 1]); // [B, H, T]
  const cum = tf.cumsum(tf.mul(dtH, tf.reshape(a, [1, h, 1])), 2); // [B, H, T]
  const seg = tf.sub(tf.reshape(cum, [b, h, t, 1]), tf.reshape(cum, [b, h, 1, t])); // [B, H, T, T]: cum_t - cum_s
  const decay = tf.mul(tf.exp(tf.minimum(seg, 0)), trilOnes(t)); // [B, H, T, T]
  return tf.mul(tf.mul(decay, tf.reshape(cb, [b, 1, t, t])), tf.reshape(dtH, [b, h, 1, t])) as tf.Tensor4D;
};

/** Fused: backward reuses the decay matrix and needs five reductions instead of sixteen. */
export const ssdPatternFused: SsdPatternFn = (dt, a, cb) =>
  (nativeKernelsActive() ? ssdNative(dt, a, cb) : ssdOp(dt, a, cb)) as tf.Tensor4D;

/** The same op as one native kernel each way. */
const ssdNative = cg((dt: tf.Tensor, a: tf.Tensor, cb: tf.Tensor, save: tf.GradSaveFunc) => {
  const [m, decay] = nk(NATIVE.ssd, { dt, a, cb });
  save([decay, m, cb, dt, a]);
  return {
    value: m,
    gradFunc: (g: tf.Tensor, [sD, sM, sCb, sDt, sA]: tf.Tensor[]) => nk(NATIVE.ssdGrad, { g, decay: sD, m: sM, cb: sCb, dt: sDt, a: sA }),
  };
});

const ssdOp = cg((dt: tf.Tensor, a: tf.Tensor, cb: tf.Tensor, save: tf.GradSaveFunc) => {
  const [b, t, h] = dt.shape;
  const dtH = tf.transpose(dt, [0, 2, 1]); // [B, H, T]
  const cum = tf.cumsum(tf.mul(dtH, tf.reshape(a, [1, h, 1])), 2); // [B, H, T]
  const seg = tf.sub(tf.reshape(cum, [b, h, t, 1]), tf.reshape(cum, [b, h, 1, t])); // [B, H, T, T]
  const decay = tf.mul(tf.exp(tf.minimum(seg, 0)), trilOnes(t)); // [B, H, T, T]
  const m = tf.mul(tf.mul(decay, tf.reshape(cb, [b, 1, t, t])), tf.reshape(dtH, [b, h, 1, t]));
  save([decay, m, cb, dtH, a]);
  return {
    value: m,
    gradFunc: (g: tf.Tensor, saved: tf.Tensor[]) => {
      const [sD, sM, sCb, sDtH, sA] = saved;
      const gd = tf.mul(g, sD); // [B, H, T, T]
      const dCb = tf.sum(tf.mul(gd, tf.reshape(sDtH, [b, h, 1, t])), 1); // [B, T, T]
      const dDtDirect = tf.sum(tf.mul(gd, tf.reshape(sCb, [b, 1, t, t])), 2); // [B, H, T] (over t, indexed by s)
      const dseg = tf.mul(g, sM); // [B, H, T, T]
      const dcum = tf.sub(tf.sum(dseg, 3), tf.sum(dseg, 2)); // [B, H, T]
      const dA = tf.cumsum(dcum, 2, false, true); // d/d(dt*A) [B, H, T]: reverse cumulative sum
      const dDtH = tf.add(dDtDirect, tf.mul(dA, tf.reshape(sA, [1, h, 1])));
      const da = tf.sum(tf.mul(dA, sDtH), [0, 2]); // [H]
      return [tf.transpose(dDtH, [0, 2, 1]), da, dCb];
    },
  };
});

/** SiLU x sigmoid(x), any shape (stock ops; the native path fuses it, see `silu`). */
function siluStock<R extends tf.Tensor>(x: R): R {
  return tf.mul(x, tf.sigmoid(x));
}

/** SiLU with a hand-written gradient: native kernels when active, else the stock composition. */
export const silu = <R extends tf.Tensor>(x: R): R => (nativeKernelsActive() ? (siluNative(x) as R) : siluStock(x));
const siluNative = cg((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return { value: nk(NATIVE.silu, { x })[0], gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => nk(NATIVE.siluGrad, { x: sx, dy })[0] };
});

/**
 * Causal depthwise convolution over time: x [B, T, C], w [K, C], bias [C] -> [B, T, C],
 * y[t] = bias + sum_j w[j] x[t - K + 1 + j] (zeros before the start). Stock: pad, K slices,
 * products and sums (tfjs autodiff); with the native kernels one kernel each way.
 */
export function causalConvStock(x: T3, w: T2, bias: tf.Tensor1D): T3 {
  const [b, t, ch] = x.shape;
  const k = w.shape[0];
  const xp = tf.pad(x, [
    [0, 0],
    [k - 1, 0],
    [0, 0],
  ]); // [B, T+K-1, C]
  let out: tf.Tensor = tf.reshape(bias, [1, 1, ch]);
  for (let j = 0; j < k; j++) {
    const wj = tf.reshape(tf.slice(w, [j, 0], [1, ch]), [1, 1, ch]);
    out = tf.add(out, tf.mul(tf.slice(xp, [0, j, 0], [b, t, ch]), wj));
  }
  return out as T3;
}
export const causalConv = (x: T3, w: T2, bias: tf.Tensor1D): T3 =>
  nativeKernelsActive() ? (causalConvNative(x, w, bias) as T3) : causalConvStock(x, w, bias);
const causalConvNative = cg((x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: nk(NATIVE.causalConv, { x, w, bias })[0],
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => nk(NATIVE.causalConvGrad, { dy, x: sx, w: sw }),
  };
});

// ---------------------------------------------------------------------------------------------
// One interface, two implementations.

export interface Ops {
  readonly fused: boolean;
  linear(x: T2, w: T2, b?: tf.Tensor): T2;
  layerNorm(x: T2, gamma: tf.Tensor, beta: tf.Tensor, eps?: number): T2;
  rmsNorm(x: T2, gamma: tf.Tensor, eps?: number): T2;
  gelu<R extends tf.Tensor>(x: R): R;
  crossEntropy(logits: T2, targets: tf.Tensor1D, mask?: tf.Tensor1D): tf.Scalar;
  /** [n, T, Dh] x3 -> [n, T, Dh] */
  causalAttention(q: T3, k: T3, v: T3): T3;
  /** [n, M, K] x [n, K, P] -> [n, M, P] */
  batchMatMul(a: T3, b: T3): T3;
  embedding(ids: tf.Tensor1D, table: T2): T2;
  /** xw [T, B, 4D], whh [D, 4D] -> [T, B, 2D] (h | c of every step) */
  lstmLayer: LstmLayerFn;
  /** dt [B, T, H], A [H], cb [B, T, T] -> [B, H, T, T] */
  ssdPattern: SsdPatternFn;
  /** x sigmoid(x), any shape */
  silu<R extends tf.Tensor>(x: R): R;
  /** x [B, T, C], w [K, C], bias [C] -> [B, T, C] (causal depthwise convolution over time) */
  causalConv(x: T3, w: T2, bias: tf.Tensor1D): T3;
}

export const fusedOps: Ops = {
  fused: true,
  linear,
  layerNorm,
  rmsNorm,
  gelu,
  crossEntropy,
  causalAttention: (q, k, v) => {
    installWasmKernels();
    return causalAttention(q, k, v);
  },
  batchMatMul,
  embedding,
  lstmLayer: lstmLayerFused,
  ssdPattern: ssdPatternFused,
  silu,
  causalConv,
};

/** The same operations written with stock tfjs ops and tfjs's own autodiff (the naive baseline). */
export const stockOps: Ops = {
  fused: false,
  linear: (x, w, b) => (b ? tf.add(tf.matMul(x, w), b) : tf.matMul(x, w)),
  layerNorm: (x, g, b, eps = 1e-5) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
  },
  rmsNorm: (x, g, eps = 1e-5) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g),
  gelu: <R extends tf.Tensor>(x: R) =>
    tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), GELU_C)), GELU_K)), 1)) as R,
  crossEntropy: (logits, targets, mask) => {
    const [n, v] = logits.shape;
    const m = mask ?? tf.ones([n]);
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.cast(targets, 'int32'), v)), -1));
    return tf.div(tf.sum(tf.mul(nll, m)), tf.maximum(tf.sum(m), 1));
  },
  causalAttention: (q, k, v) => tf.matMul(tf.softmax(attentionScores(q, k, false)), v),
  batchMatMul: (a, b) => tf.matMul(a, b),
  // Stock gather has no gradient on wasm: one-hot matmul.
  embedding: (ids, table) => tf.matMul(tf.oneHot(tf.cast(ids, 'int32'), table.shape[0]), table),
  lstmLayer: lstmLayerStock,
  ssdPattern: ssdPatternStock,
  silu: siluStock,
  causalConv: causalConvStock,
};
