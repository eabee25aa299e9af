/**
 * Small, dependency-free statistics used by the measures: descriptive statistics, confidence
 * intervals (Student t), the normal and t distributions, paired tests (t-test and Wilcoxon
 * signed-rank) with effect sizes, and ordinary least squares with R^2.
 *
 * Everything here is written from the textbook definitions and checked against known values in
 * test/metrics/stats.test.ts.
 */
import { GroundlabError } from '../errors';

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Sample variance (n - 1 in the denominator); NaN for fewer than two values. */
export function variance(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < n; i++) s += (xs[i] - m) ** 2;
  return s / (n - 1);
}

export function std(xs: ArrayLike<number>): number {
  return Math.sqrt(variance(xs));
}

// ---------------------------------------------------------------------------------------------
// Special functions

/** log Gamma(x) for x > 0 (Lanczos approximation, g = 7, n = 9; ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the regularized incomplete beta function (Lentz's method). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbt = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const bt = Math.exp(lbt);
  if (x < (a + 1) / (a + b + 2)) return (bt * betaContinuedFraction(a, b, x)) / a;
  return 1 - (bt * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * Standard normal CDF Phi(x), through erfc(|x|/sqrt 2) = Q(1/2, x^2/2) (regularized upper
 * incomplete gamma), accurate in the tails too.
 */
export function normalCdf(x: number): number {
  if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
  const q = 0.5 * gammaQ(0.5, (x * x) / 2); // P(|Z| > |x|) / 2
  return x >= 0 ? 1 - q : q;
}

/** Regularized upper incomplete gamma Q(a, x) (series for x < a + 1, continued fraction otherwise). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = logGamma(a);
  if (x < a + 1) {
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 500; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** Student t CDF with `df` degrees of freedom (df may be fractional). */
export function tCdf(t: number, df: number): number {
  if (!(df > 0)) throw new GroundlabError('BAD_ARGUMENT', `t distribution needs df > 0, got ${df}`);
  if (!Number.isFinite(t)) return t > 0 ? 1 : 0;
  const x = df / (df + t * t);
  const tail = 0.5 * incompleteBeta(x, df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** Quantile of the t distribution (bisection on the CDF; enough for confidence intervals). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new GroundlabError('BAD_ARGUMENT', `quantile needs 0 < p < 1, got ${p}`);
  let lo = -1e3;
  let hi = 1e3;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Quantile of the standard normal (bisection on the CDF). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new GroundlabError('BAD_ARGUMENT', `quantile needs 0 < p < 1, got ${p}`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ---------------------------------------------------------------------------------------------
// Confidence intervals

export interface MeanCI {
  mean: number;
  /** Lower and upper bound of the two-sided interval (NaN when n < 2). */
  lo: number;
  hi: number;
  /** Standard error of the mean. */
  sem: number;
  n: number;
}

/** Student-t confidence interval for the mean (default 95%). */
export function meanCI(xs: ArrayLike<number>, level = 0.95): MeanCI {
  const n = xs.length;
  const m = mean(xs);
  if (n < 2) return { mean: m, lo: NaN, hi: NaN, sem: NaN, n };
  const sem = std(xs) / Math.sqrt(n);
  const q = tQuantile(1 - (1 - level) / 2, n - 1);
  return { mean: m, lo: m - q * sem, hi: m + q * sem, sem, n };
}

// ---------------------------------------------------------------------------------------------
// Paired tests

export interface PairedTestResult {
  n: number;
  /** Mean of the differences a - b. */
  meanDiff: number;
  /** Paired t statistic and two-sided p-value. */
  t: number;
  df: number;
  pT: number;
  /** Wilcoxon signed-rank statistic W+ (sum of ranks of positive differences), normal approximation z and two-sided p. */
  wPlus: number;
  z: number;
  pWilcoxon: number;
  /** Cohen's d_z = mean(d) / sd(d) (effect size of a paired design). */
  cohenDz: number;
  /** Rank-biserial correlation of the signed-rank test, in [-1, 1]. */
  rankBiserial: number;
}

/** Paired t-test on a - b (two-sided). */
export function pairedTTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { t: number; df: number; p: number; meanDiff: number; dz: number } {
  const d = differences(a, b);
  const n = d.length;
  const md = mean(d);
  const sd = std(d);
  if (n < 2) return { t: NaN, df: n - 1, p: NaN, meanDiff: md, dz: NaN };
  if (sd === 0) {
    const t = md === 0 ? 0 : md > 0 ? Infinity : -Infinity;
    return { t, df: n - 1, p: md === 0 ? 1 : 0, meanDiff: md, dz: md === 0 ? 0 : t };
  }
  const t = md / (sd / Math.sqrt(n));
  const p = 2 * (1 - tCdf(Math.abs(t), n - 1));
  return { t, df: n - 1, p: Math.min(1, p), meanDiff: md, dz: md / sd };
}

function differences(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  if (a.length !== b.length) throw new GroundlabError('BAD_ARGUMENT', `paired samples differ in length (${a.length} vs ${b.length})`);
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) d.push(a[i] - b[i]);
  return d;
}

/**
 * Wilcoxon signed-rank test on a - b (two-sided): zero differences dropped (Wilcoxon's method),
 * average ranks for ties, normal approximation with tie correction and continuity correction.
 * For n <= 25 without ties the exact p-value is computed by enumerating the null distribution.
 */
export function wilcoxonSignedRank(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { wPlus: number; z: number; p: number; n: number; rankBiserial: number } {
  const d = differences(a, b).filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return { wPlus: 0, z: 0, p: 1, n: 0, rankBiserial: 0 };
  const order = d.map((x, i) => [Math.abs(x), i] as [number, number]).sort((p, q) => p[0] - q[0]);
  const ranks = new Array<number>(n);
  let tieCorr = 0;
  let hasTies = false;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = r;
    const tcount = j - i + 1;
    if (tcount > 1) {
      hasTies = true;
      tieCorr += tcount ** 3 - tcount;
    }
    i = j + 1;
  }
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (d[i] > 0) wPlus += ranks[i];
  const total = (n * (n + 1)) / 2;
  const mu = total / 2;
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieCorr / 48);
  const z = sigma === 0 ? 0 : (wPlus - mu - Math.sign(wPlus - mu) * 0.5) / sigma;
  let p: number;
  if (n <= 25 && !hasTies) {
    // exact: count subsets of {1..n} by rank sum
    const counts = new Float64Array(total + 1);
    counts[0] = 1;
    for (let r = 1; r <= n; r++) for (let s = total; s >= r; s--) counts[s] += counts[s - r];
    const all = 2 ** n;
    const w = Math.min(wPlus, total - wPlus);
    let c = 0;
    for (let s = 0; s <= Math.floor(w); s++) c += counts[s];
    p = Math.min(1, (2 * c) / all);
  } else {
    p = sigma === 0 ? 1 : Math.min(1, 2 * (1 - normalCdf(Math.abs(z))));
  }
  return { wPlus, z, p, n, rankBiserial: (2 * wPlus) / total - 1 };
}

/** Both paired tests and effect sizes of a - b. */
export function pairedTest(a: ArrayLike<number>, b: ArrayLike<number>): PairedTestResult {
  const t = pairedTTest(a, b);
  const w = wilcoxonSignedRank(a, b);
  return {
    n: a.length,
    meanDiff: t.meanDiff,
    t: t.t,
    df: t.df,
    pT: t.p,
    wPlus: w.wPlus,
    z: w.z,
    pWilcoxon: w.p,
    cohenDz: t.dz,
    rankBiserial: w.rankBiserial,
  };
}

// ---------------------------------------------------------------------------------------------
// Linear regression

export interface RegressionResult {
  /** Intercept first, then one coefficient per predictor. */
  coef: number[];
  r2: number;
  /** Adjusted R^2 (NaN when n <= p + 1). */
  adjR2: number;
  n: number;
}

/** Solve the symmetric positive (semi-)definite system A x = b by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    const scale = Math.max(1e-300, ...M.map((row) => Math.abs(row[c])));
    if (Math.abs(M[c][c]) < 1e-12 * scale) {
      // a predictor that is constant or collinear: give it coefficient 0
      for (let r = 0; r < n; r++) M[r][c] = r === c ? 1 : 0;
      M[c][n] = 0;
      continue;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      if (f === 0) continue;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row, i) => row[n] / row[i]);
}

/**
 * Ordinary least squares y ~ 1 + X (X: n rows of p predictors) through the normal equations on
 * centred data. R^2 = 1 - SS_res / SS_tot (0 when y is constant).
 */
export function linearRegression(X: number[][], y: number[]): RegressionResult {
  const n = y.length;
  if (X.length !== n) throw new GroundlabError('BAD_ARGUMENT', `regression: ${X.length} rows of predictors for ${n} responses`);
  const p = n ? X[0].length : 0;
  if (n === 0) return { coef: new Array(p + 1).fill(NaN), r2: NaN, adjR2: NaN, n };
  const mx = Array.from({ length: p }, (_, j) => mean(X.map((r) => r[j])));
  const my = mean(y);
  const A = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const b = new Array<number>(p).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) {
      const xj = X[i][j] - mx[j];
      b[j] += xj * (y[i] - my);
      for (let k = 0; k < p; k++) A[j][k] += xj * (X[i][k] - mx[k]);
    }
  }
  const beta = p ? solve(A, b) : [];
  const intercept = my - beta.reduce((s, bj, j) => s + bj * mx[j], 0);
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    const pred = intercept + beta.reduce((s, bj, j) => s + bj * X[i][j], 0);
    ssRes += (y[i] - pred) ** 2;
    ssTot += (y[i] - my) ** 2;
  }
  const r2 = ssTot === 0 ? 0 : Math.max(0, 1 - ssRes / ssTot);
  const adjR2 = n > p + 1 ? 1 - ((1 - r2) * (n - 1)) / (n - p - 1) : NaN;
  return { coef: [intercept, ...beta], r2, adjR2, n };
}

/** Simple linear regression y ~ a + b x. */
export function simpleRegression(x: number[], y: number[]): RegressionResult {
  return linearRegression(
    x.map((v) => [v]),
    y,
  );
}

/** Pearson correlation (NaN when either side is constant). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}
