/**
 * Linear probes on plain activations: multinomial logistic regression with an L2 penalty (fitted
 * full-batch with L-BFGS, deterministic) and ridge regression (closed form). Features are
 * standardised with the training set's mean and standard deviation before fitting.
 *
 * Matrices are row-major Float32Arrays: X [N, D] (N examples, D features), one-hot targets [N, K].
 * The matmul-heavy parts run on tfjs as plain 2-D products without transpose flags (the fast path
 * on the wasm backend); the optimiser's small vectors live in JS Float64Arrays.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';

/** Per-feature affine standardisation learned on a training set. */
export interface Standardizer {
  mean: Float32Array; // [D]
  scale: Float32Array; // [D] 1/std (1 for constant features)
}

/** Mean and 1/std of each column of x [n, d]. Constant columns get scale 1. */
export function fitStandardizer(x: Float32Array, n: number, d: number): Standardizer {
  if (x.length !== n * d) throw new GroundlabError('INTERNAL', `features have ${x.length} values, expected ${n}x${d}`);
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) mean[j] += x[o + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= Math.max(n, 1);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[o + j] - mean[j];
      sq[j] += v * v;
    }
  }
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(sq[j] / Math.max(n, 1));
    scale[j] = sd > 1e-8 ? 1 / sd : 1;
  }
  return { mean: Float32Array.from(mean), scale };
}

/** (x - mean) * scale, as a new array [n, d]. */
export function applyStandardizer(s: Standardizer, x: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) out[o + j] = (x[o + j] - s.mean[j]) * s.scale[j];
  }
  return out;
}

/** Rows `idx` of x [*, d] as a new array [idx.length, d]. */
export function takeRows(x: Float32Array, d: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i] * d, idx[i] * d + d), i * d);
  return out;
}

// ---------------------------------------------------------------------------------------------
// L-BFGS

export interface LbfgsOptions {
  /** Iteration budget (each iteration is one or a few function evaluations). */
  maxIter: number;
  /** History size. */
  memory: number;
  /** Stop when the largest |gradient| entry falls below this. */
  gradTol: number;
  /** Stop when the relative loss decrease of an iteration falls below this. */
  lossTol: number;
}

export const LBFGS_DEFAULTS: LbfgsOptions = { maxIter: 200, memory: 10, gradTol: 1e-5, lossTol: 1e-10 };

export interface LbfgsResult {
  x: Float64Array;
  loss: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Minimise a smooth function with L-BFGS (two-loop recursion, backtracking Armijo line search).
 * `f` returns the loss and its gradient at x. Deterministic for a deterministic f.
 */
export function lbfgs(
  f: (x: Float64Array) => { loss: number; grad: Float64Array },
  x0: Float64Array,
  opts: Partial<LbfgsOptions> = {},
): LbfgsResult {
  const o = { ...LBFGS_DEFAULTS, ...opts };
  const n = x0.length;
  let x = Float64Array.from(x0);
  let { loss, grad } = f(x);
  let evaluations = 1;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  let iterations = 0;
  let converged = false;
  const maxAbs = (g: Float64Array) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (!Number.isFinite(loss)) throw new GroundlabError('NUMERIC', 'the probe loss is not finite at the start');
  while (iterations < o.maxIter) {
    if (maxAbs(grad) < o.gradTol) {
      converged = true;
      break;
    }
    // Two-loop recursion: direction = -H grad.
    const q = Float64Array.from(grad);
    const alpha = new Array<number>(S.length);
    for (let i = S.length - 1; i >= 0; i--) {
      alpha[i] = rho[i] * dot(S[i], q);
      for (let j = 0; j < n; j++) q[j] -= alpha[i] * Y[i][j];
    }
    let gamma = 1;
    if (S.length) gamma = dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1]);
    for (let j = 0; j < n; j++) q[j] *= gamma;
    for (let i = 0; i < S.length; i++) {
      const beta = rho[i] * dot(Y[i], q);
      for (let j = 0; j < n; j++) q[j] += (alpha[i] - beta) * S[i][j];
    }
    const dir = q.map((v) => -v);
    let slope = dot(grad, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let j = 0; j < n; j++) dir[j] = -grad[j];
      slope = dot(grad, dir);
    }
    let step = S.length === 0 ? Math.min(1, 1 / Math.sqrt(dot(grad, grad))) : 1;
    let next: { loss: number; grad: Float64Array } | undefined;
    let xNew = x;
    for (let tries = 0; tries < 30; tries++) {
      xNew = x.map((v, j) => v + step * dir[j]);
      next = f(xNew);
      evaluations++;
      if (Number.isFinite(next.loss) && next.loss <= loss + 1e-4 * step * slope) break;
      next = undefined;
      step *= 0.5;
    }
    iterations++;
    if (!next) {
      converged = true; // no further decrease possible at float precision
      break;
    }
    const s = xNew.map((v, j) => v - x[j]);
    const y = next.grad.map((v, j) => v - grad[j]);
    const sy = dot(s, y);
    if (sy > 1e-12) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
      if (S.length > o.memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    const decrease = loss - next.loss;
    x = xNew;
    loss = next.loss;
    grad = next.grad;
    if (decrease <= o.lossTol * Math.max(1, Math.abs(loss))) {
      converged = true;
      break;
    }
  }
  return { x, loss, iterations, evaluations, converged };
}

// ---------------------------------------------------------------------------------------------
// Multinomial logistic regression

export interface LogisticOptions extends Partial<LbfgsOptions> {
  /** L2 penalty on the weights (not the bias), added to the mean cross-entropy as l2/2 * |W|^2. */
  l2: number;
}

export const LOGISTIC_DEFAULTS: LogisticOptions = { l2: 1e-3, maxIter: 200 };

/** A fitted multinomial logistic regression on standardised features. */
export interface LogisticModel {
  kind: 'logistic';
  d: number;
  k: number;
  std: Standardizer;
  weights: Float32Array; // [D, K]
  bias: Float32Array; // [K]
  /** Final training objective (mean cross-entropy + penalty). */
  loss: number;
  iterations: number;
  converged: boolean;
}

/**
 * Fit softmax regression: x [n, d] raw features, labels in [0, k). Features are standardised
 * inside (the model keeps the standardiser). Deterministic: starts from zero weights.
 */
export function fitLogistic(
  x: Float32Array,
  labels: Int32Array,
  n: number,
  d: number,
  k: number,
  opts: Partial<LogisticOptions> = {},
): LogisticModel {
  const o = { ...LOGISTIC_DEFAULTS, ...opts };
  if (labels.length !== n) throw new GroundlabError('INTERNAL', `${labels.length} labels for ${n} examples`);
  if (n === 0) throw new GroundlabError('BAD_ARGUMENT', 'cannot fit a probe on zero examples');
  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < k))
      throw new GroundlabError('BAD_ARGUMENT', `label ${labels[i]} of example ${i} is outside [0, ${k})`);
  }
  const std = fitStandardizer(x, n, d);
  const xs = applyStandardizer(std, x, n, d);
  const X = tf.tensor2d(xs, [n, d]); // [N, D]
  const Xt = tf.tidy(() => tf.transpose(X)); // [D, N], materialised once so products stay 2-D
  const Yoh = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), k), 'float32')); // [N, K]
  const nw = d * k;
  const f = (theta: Float64Array) => {
    const [lossT, gW, gb] = tf.tidy(() => {
      const W = tf.tensor2d(Float32Array.from(theta.subarray(0, nw)), [d, k]); // [D, K]
      const b = tf.tensor1d(Float32Array.from(theta.subarray(nw))); // [K]
      const logp = tf.logSoftmax(tf.add(tf.matMul(X, W), b)); // [N, K]
      const ce = tf.div(tf.neg(tf.sum(tf.mul(Yoh, logp))), n);
      const pen = tf.mul(0.5 * o.l2, tf.sum(tf.square(W)));
      const diff = tf.div(tf.sub(tf.exp(logp), Yoh), n); // [N, K]
      const gradW = tf.add(tf.matMul(Xt, diff), tf.mul(o.l2, W)); // [D, K]
      const gradB = tf.sum(diff, 0); // [K]
      return [tf.add(ce, pen), gradW, gradB];
    });
    const loss = lossT.dataSync()[0];
    const grad = new Float64Array(nw + k);
    grad.set(gW.dataSync());
    grad.set(gb.dataSync(), nw);
    tf.dispose([lossT, gW, gb]);
    return { loss, grad };
  };
  let res: LbfgsResult;
  try {
    res = lbfgs(f, new Float64Array(nw + k), o);
  } finally {
    tf.dispose([X, Xt, Yoh]);
  }
  return {
    kind: 'logistic',
    d,
    k,
    std,
    weights: Float32Array.from(res.x.subarray(0, nw)),
    bias: Float32Array.from(res.x.subarray(nw)),
    loss: res.loss,
    iterations: res.iterations,
    converged: res.converged,
  };
}

/** Class scores (logits) [n, k] of raw features x [n, d]. */
export function logisticLogits(m: LogisticModel, x: Float32Array, n: number): Float32Array {
  const xs = applyStandardizer(m.std, x, n, m.d);
  return tf.tidy(() => {
    const logits = tf.add(tf.matMul(tf.tensor2d(xs, [n, m.d]), tf.tensor2d(m.weights, [m.d, m.k])), tf.tensor1d(m.bias)); // [N, K]
    return logits.dataSync() as Float32Array;
  });
}

/** Predicted class of each row of x [n, d]. Ties go to the lowest class index. */
export function logisticPredict(m: LogisticModel, x: Float32Array, n: number): Int32Array {
  const logits = logisticLogits(m, x, n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < m.k; c++) if (logits[i * m.k + c] > logits[i * m.k + best]) best = c;
    out[i] = best;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ridge regression

export interface RidgeOptions {
  /** Penalty: minimises |Y - XW - b|^2 / n + l2 |W|^2 on standardised X. */
  l2: number;
}

export const RIDGE_DEFAULTS: RidgeOptions = { l2: 1e-3 };

export interface RidgeModel {
  kind: 'ridge';
  d: number;
  /** Number of regression targets. */
  m: number;
  std: Standardizer;
  weights: Float32Array; // [D, M]
  bias: Float32Array; // [M]
}

/** Solve A X = B for symmetric positive definite A [d, d] (Cholesky), B [d, m]; float64. */
export function solveSPD(a: Float64Array, b: Float64Array, d: number, m: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= L[i * d + k] * L[j * d + k];
      if (i === j) {
        if (!(s > 0)) throw new GroundlabError('NUMERIC', 'the ridge system is not positive definite', { hint: 'increase the L2 penalty' });
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j];
    }
  }
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < d; i++) {
      let s = x[i * m + c];
      for (let k = 0; k < i; k++) s -= L[i * d + k] * x[k * m + c];
      x[i * m + c] = s / L[i * d + i];
    }
    for (let i = d - 1; i >= 0; i--) {
      let s = x[i * m + c];
      for (let k = i + 1; k < d; k++) s -= L[k * d + i] * x[k * m + c];
      x[i * m + c] = s / L[i * d + i];
    }
  }
  return x;
}

/** Fit ridge regression of targets y [n, m] on features x [n, d] (standardised inside, targets centred). */
export function fitRidge(x: Float32Array, y: Float32Array, n: number, d: number, m: number, opts: Partial<RidgeOptions> = {}): RidgeModel {
  const o = { ...RIDGE_DEFAULTS, ...opts };
  if (y.length !== n * m) throw new GroundlabError('INTERNAL', `targets have ${y.length} values, expected ${n}x${m}`);
  if (n === 0) throw new GroundlabError('BAD_ARGUMENT', 'cannot fit a probe on zero examples');
  const std = fitStandardizer(x, n, d);
  const xs = applyStandardizer(std, x, n, d);
  const ymean = new Float64Array(m);
  for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) ymean[c] += y[i * m + c] / n;
  const yc = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) yc[i * m + c] = y[i * m + c] - ymean[c];
  const [xtx, xty] = tf.tidy(() => {
    const X = tf.tensor2d(xs, [n, d]); // [N, D]
    const Xt = tf.transpose(X); // [D, N]
    return [tf.matMul(Xt, X).dataSync(), tf.matMul(Xt, tf.tensor2d(yc, [n, m])).dataSync()]; // [D, D], [D, M]
  });
  const a = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) a[i] = xtx[i] / n;
  for (let i = 0; i < d; i++) a[i * d + i] += o.l2;
  const b = new Float64Array(d * m);
  for (let i = 0; i < d * m; i++) b[i] = xty[i] / n;
  const w = solveSPD(a, b, d, m);
  return { kind: 'ridge', d, m, std, weights: Float32Array.from(w), bias: Float32Array.from(ymean) };
}

/** Predictions [n, m] of a ridge model on raw features x [n, d]. */
export function ridgePredict(r: RidgeModel, x: Float32Array, n: number): Float32Array {
  const xs = applyStandardizer(r.std, x, n, r.d);
  return tf.tidy(
    () => tf.add(tf.matMul(tf.tensor2d(xs, [n, r.d]), tf.tensor2d(r.weights, [r.d, r.m])), tf.tensor1d(r.bias)).dataSync() as Float32Array,
  );
}

/** Coefficient of determination, averaged over the m targets (1 - SSE/SST per target). */
export function rSquared(y: Float32Array, pred: Float32Array, n: number, m: number): number {
  let total = 0;
  for (let c = 0; c < m; c++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += y[i * m + c] / n;
    let sse = 0;
    let sst = 0;
    for (let i = 0; i < n; i++) {
      sse += (y[i * m + c] - pred[i * m + c]) ** 2;
      sst += (y[i * m + c] - mean) ** 2;
    }
    total += sst > 0 ? 1 - sse / sst : sse === 0 ? 1 : 0;
  }
  return total / m;
}
