import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mean, variance, tCdf, tQuantile, normalCdf, normalQuantile, meanCI, pairedTTest, wilcoxonSignedRank, pairedTest,
  linearRegression, simpleRegression, pearson, logGamma, incompleteBeta,
} from '../../src/metrics/stats';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('descriptive statistics', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  close(variance([2, 4, 4, 4, 5, 5, 7, 9]), 32 / 7, 1e-12);
  assert.ok(Number.isNaN(variance([1])));
});

test('special functions match closed forms', () => {
  close(logGamma(5), Math.log(24), 1e-12, 'lgamma 5');
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-12, 'lgamma 1/2');
  close(incompleteBeta(0.3, 1, 1), 0.3, 1e-12, 'I_x(1,1) = x');
  close(incompleteBeta(0.3, 2, 1), 0.09, 1e-12, 'I_x(2,1) = x^2');
});

test('t CDF: closed forms for df = 1, 2, 4 and tabulated quantiles', () => {
  for (const t of [-3, -1, -0.2, 0, 0.5, 1, 2.5, 10]) {
    close(tCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-10, `df1 t=${t}`);
    close(tCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-10, `df2 t=${t}`);
    const u = t * t / 4;
    close(tCdf(t, 4), 0.5 + (3 / 8) * (t / Math.sqrt(1 + u)) * (1 - u / (3 * (1 + u))), 1e-10, `df4 t=${t}`);
  }
  // Student's table: two-sided 95% critical values
  close(tQuantile(0.975, 1), 12.706, 1e-3);
  close(tQuantile(0.975, 4), 2.776, 1e-3);
  close(tQuantile(0.975, 10), 2.228, 1e-3);
  close(tQuantile(0.975, 30), 2.042, 1e-3);
  close(tQuantile(0.995, 20), 2.845, 1e-3);
});

test('normal CDF and quantile: known values', () => {
  close(normalCdf(0), 0.5, 1e-15);
  close(normalCdf(1), 0.8413447461, 1e-9);
  close(normalCdf(1.959963985), 0.975, 1e-9);
  close(normalCdf(-3), 0.0013498980, 1e-10);
  close(normalCdf(-6), 9.8658765e-10, 1e-15);
  close(normalQuantile(0.975), 1.959963985, 1e-8);
});

test('confidence interval over values', () => {
  const ci = meanCI([1, 2, 3, 4, 5]);
  // mean 3, sd sqrt(2.5), sem sqrt(0.5), t(0.975, 4) = 2.7764451
  close(ci.mean, 3, 1e-12);
  close(ci.hi - ci.mean, 2.7764451 * Math.sqrt(0.5), 1e-5);
  close(ci.lo, 3 - 2.7764451 * Math.sqrt(0.5), 1e-5);
});

test('paired t-test: hand-computed value', () => {
  const r = pairedTTest([1, 2, 3, 4, 5], [0, 0, 0, 0, 0]);
  close(r.t, 3 / Math.sqrt(0.5), 1e-12, 't');
  assert.equal(r.df, 4);
  // two-sided p from the df = 4 closed form
  const t = r.t, u = t * t / 4;
  const cdf = 0.5 + (3 / 8) * (t / Math.sqrt(1 + u)) * (1 - u / (3 * (1 + u)));
  close(r.p, 2 * (1 - cdf), 1e-10, 'p');
  close(r.p, 0.0132, 1e-4, 'p table');
  close(r.dz, 3 / Math.sqrt(2.5), 1e-12, 'dz');
  // no difference at all
  assert.equal(pairedTTest([1, 2], [1, 2]).p, 1);
});

test('Wilcoxon signed-rank: exact small-sample p-values and normal approximation', () => {
  let w = wilcoxonSignedRank([1, 2, 3, 4, 5], [0, 0, 0, 0, 0]);
  assert.equal(w.wPlus, 15);
  close(w.p, 2 / 32, 1e-12);
  w = wilcoxonSignedRank([-1, 2, 3, 4, 5], [0, 0, 0, 0, 0]);
  assert.equal(w.wPlus, 14);
  close(w.p, 4 / 32, 1e-12);
  // zeros are dropped
  w = wilcoxonSignedRank([0, 1, 2], [0, 0, 0]);
  assert.equal(w.n, 2);
  // n = 30, all positive: normal approximation with continuity correction
  const a = Array.from({ length: 30 }, (_, i) => i + 1);
  w = wilcoxonSignedRank(a, a.map(() => 0));
  const sigma = Math.sqrt((30 * 31 * 61) / 24);
  close(w.z, (465 - 232.5 - 0.5) / sigma, 1e-12);
  close(w.p, 2 * (1 - normalCdf(w.z)), 1e-12);
  assert.ok(w.p < 1e-5);
  assert.equal(w.rankBiserial, 1);
  const both = pairedTest([1, 2, 3, 4, 5], [0, 0, 0, 0, 0]);
  assert.equal(both.n, 5);
  close(both.pWilcoxon, 2 / 32, 1e-12);
});

test('linear regression: textbook example and exact fits', () => {
  const r = simpleRegression([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
  close(r.coef[0], 2.2, 1e-12);
  close(r.coef[1], 0.6, 1e-12);
  close(r.r2, 0.6, 1e-12);
  close(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]) ** 2, 0.6, 1e-12);
  // y = 1 + 2 x1 - x2 exactly
  const X = [[0, 1], [1, 0], [2, 3], [3, 1], [4, 4], [5, 2]];
  const y = X.map(([a, b]) => 1 + 2 * a - b);
  const m = linearRegression(X, y);
  close(m.coef[0], 1, 1e-9);
  close(m.coef[1], 2, 1e-9);
  close(m.coef[2], -1, 1e-9);
  close(m.r2, 1, 1e-12);
  // a constant predictor does not break the solve
  const c = linearRegression([[1, 7], [2, 7], [3, 7], [4, 7]], [1, 3, 2, 4]);
  close(c.r2, simpleRegression([1, 2, 3, 4], [1, 3, 2, 4]).r2, 1e-12);
});
