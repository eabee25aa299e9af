import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { Rng } from '../../src/engine/rng';
import { GroundlabError } from '../../src/errors';
import { fitLogistic, logisticPredict, fitRidge, ridgePredict, rSquared, solveSPD, lbfgs, fitStandardizer } from '../../src/probe/linear';
import { probeClassification, probeRegression, trainTestSplit, controlLabels, kFoldSplits, groupFoldSplits, fixedSplit } from '../../src/probe/evaluate';

before(async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine();
});

/** n examples in d dims: x = mu[label] * signal + nu[group] * groupSignal + N(0, 1) noise. */
function synthetic(n: number, d: number, k: number, signal: number, seed: number, nGroups = 1, groupSignal = 0) {
  const rng = new Rng(seed);
  const mu = Array.from({ length: k }, () => rng.normalArray(d));
  const nu = Array.from({ length: nGroups }, () => rng.normalArray(d));
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  const groups: number[] = [];
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(k);
    groups.push(rng.int(nGroups));
    for (let j = 0; j < d; j++) x[i * d + j] = mu[labels[i]][j] * signal + nu[groups[i]][j] * groupSignal + rng.normal();
  }
  return { x, labels, groups, classes: Array.from({ length: k }, (_, c) => `c${c}`) };
}

test('lbfgs minimises a quadratic exactly', () => {
  // f(x) = sum_i (i+1) (x_i - i)^2
  const f = (x: Float64Array) => {
    let loss = 0;
    const grad = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      loss += (i + 1) * (x[i] - i) ** 2;
      grad[i] = 2 * (i + 1) * (x[i] - i);
    }
    return { loss, grad };
  };
  const r = lbfgs(f, new Float64Array(5), { maxIter: 100, gradTol: 1e-9 });
  assert.ok(r.converged);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(r.x[i] - i) < 1e-6, `x${i}=${r.x[i]}`);
});

test('solveSPD solves a small system', () => {
  const a = Float64Array.from([4, 1, 0, 1, 3, 1, 0, 1, 2]);
  const xTrue = [1, -2, 3];
  const b = Float64Array.from([4 * 1 + 1 * -2, 1 * 1 + 3 * -2 + 1 * 3, -2 + 2 * 3]);
  const x = solveSPD(a, b, 3, 1);
  xTrue.forEach((v, i) => assert.ok(Math.abs(x[i] - v) < 1e-12));
});

test('standardiser: zero mean, unit variance, constant columns kept finite', () => {
  const x = Float32Array.from([1, 5, 3, 5, 5, 5]); // 3 rows, 2 cols; col 1 constant
  const s = fitStandardizer(x, 3, 2);
  assert.ok(Math.abs(s.mean[0] - 3) < 1e-6);
  assert.equal(s.scale[1], 1);
  assert.ok(Math.abs(s.scale[0] - 1 / Math.sqrt(8 / 3)) < 1e-6);
});

test('a linearly encoded label is decoded at ~100%; the probe is deterministic and leaks no tensors', () => {
  const n = 600, d = 24, k = 6;
  const s = synthetic(n, d, k, 2, 1);
  const before = tf.memory().numTensors;
  const r = probeClassification({ x: s.x, n, d, labels: s.labels, classes: s.classes }, { seed: 3 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(r.accuracy >= 0.97, `accuracy ${r.accuracy}`);
  assert.ok(r.testLoss < 0.2, `held-out loss ${r.testLoss}`);
  assert.ok(r.trainAccuracy >= 0.97);
  assert.ok(Math.abs(r.chanceUniform - 1 / 6) < 1e-12);
  assert.ok(r.chanceMajority < 0.35);
  assert.equal(r.nTrain + r.nTest, n);
  // One control group: the control is the task up to names, so selectivity is ~0.
  assert.equal(r.controlGroups, 1);
  assert.ok(Math.abs(r.selectivity) < 0.02, `selectivity ${r.selectivity}`);
  const again = probeClassification({ x: s.x, n, d, labels: s.labels, classes: s.classes }, { seed: 3 });
  assert.deepEqual(again, r);
});

test('pure noise stays at chance', () => {
  const n = 600, d = 24, k = 4;
  const s = synthetic(n, d, k, 0, 2);
  const r = probeClassification({ x: s.x, n, d, labels: s.labels, classes: s.classes }, { seed: 1, l2: 1e-2 });
  // 150 test examples at p = 1/4: sd ~ 0.035; allow 3 sd.
  assert.ok(Math.abs(r.accuracy - 0.25) < 0.11, `accuracy ${r.accuracy}`);
  assert.ok(r.testLoss > 0.95 * Math.log(4), `held-out loss ${r.testLoss} vs log 4 = ${Math.log(4)}`);
  assert.ok(r.trainAccuracy > r.accuracy, 'a noise probe fits its training set better than the test set');
});

test('control task: label and group encoded additively -> task ~100%, control near chance, high selectivity', () => {
  const n = 900, d = 32, k = 5, g = 12;
  const s = synthetic(n, d, k, 2, 4, g, 2);
  const r = probeClassification({ x: s.x, n, d, labels: s.labels, classes: s.classes, groups: s.groups }, { seed: 0 });
  assert.equal(r.controlGroups, g);
  assert.ok(r.accuracy >= 0.95, `task ${r.accuracy}`);
  assert.ok(Number.isFinite(r.controlAccuracy));
  assert.ok(r.controlAccuracy < 0.6, `control ${r.controlAccuracy}`);
  assert.ok(r.selectivity > 0.35, `selectivity ${r.selectivity}`);
});

test('control labels: a fixed permutation per group, deterministic, class set preserved', () => {
  const labels = Int32Array.from([0, 1, 2, 0, 1, 2]);
  const groups = ['a', 'a', 'a', 'b', 'b', 'b'];
  const c1 = controlLabels(labels, 3, groups, 7);
  const c2 = controlLabels(labels, 3, groups, 7);
  assert.deepEqual(c1, c2);
  assert.equal(c1.groups, 2);
  assert.deepEqual([...c1.labels.slice(0, 3)].sort(), [0, 1, 2]);
  assert.deepEqual([...c1.labels.slice(3)].sort(), [0, 1, 2]);
});

test('split: seeded, stratified, disjoint and complete', () => {
  const labels = Array.from({ length: 100 }, (_, i) => i % 4);
  const a = trainTestSplit(100, { seed: 5, testFraction: 0.2 }, labels);
  const b = trainTestSplit(100, { seed: 5, testFraction: 0.2 }, labels);
  assert.deepEqual(a, b);
  assert.equal(a.test.length, 20);
  assert.deepEqual([...a.train, ...a.test].sort((x, y) => x - y), labels.map((_, i) => i));
  for (let c = 0; c < 4; c++) assert.equal([...a.test].filter((i) => labels[i] === c).length, 5);
  const other = trainTestSplit(100, { seed: 6, testFraction: 0.2 }, labels);
  assert.notDeepEqual([...other.test], [...a.test]);
});

test('logistic: fitted model predicts its separable training set', () => {
  const x = Float32Array.from([0, 0, 0, 1, 1, 0, 1, 1, 5, 5, 5, 6]);
  const y = Int32Array.from([0, 0, 0, 0, 1, 1]);
  const m = fitLogistic(x, y, 6, 2, 2, { l2: 1e-4 });
  assert.deepEqual([...logisticPredict(m, x, 6)], [0, 0, 0, 0, 1, 1]);
});

test('ridge: linear targets give R^2 ~ 1; noise targets give R^2 <= ~0 on held-out data', () => {
  const rng = new Rng(9);
  const n = 400, d = 10;
  const x = rng.normalArray(n * d);
  const w = rng.normalArray(d);
  const y = new Float32Array(n);
  const noise = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0.5;
    for (let j = 0; j < d; j++) s += x[i * d + j] * w[j];
    y[i] = s + 0.01 * rng.normal();
    noise[i] = rng.normal();
  }
  const r = probeRegression({ x, n, d, y, m: 1 }, { seed: 2 });
  assert.ok(r.r2 > 0.999, `r2 ${r.r2}`);
  const z = probeRegression({ x, n, d, y: noise, m: 1 }, { seed: 2 });
  assert.ok(z.r2 < 0.05, `noise r2 ${z.r2}`);
  const full = fitRidge(x, y, n, d, 1, { l2: 0 });
  assert.ok(rSquared(y, ridgePredict(full, x, n), n, 1) > 0.9999);
});

test('k-fold: every example tested once, stratified; cross-validated accuracy on a known answer', () => {
  const labels = Array.from({ length: 30 }, (_, i) => i % 3);
  const folds = kFoldSplits(30, 5, 1, labels);
  assert.equal(folds.length, 5);
  const tested = folds.flatMap((f) => [...f.test]).sort((a, b) => a - b);
  assert.deepEqual(tested, labels.map((_, i) => i));
  for (const f of folds) {
    assert.equal(f.test.length, 6);
    assert.equal(f.train.length + f.test.length, 30);
    for (let c = 0; c < 3; c++) assert.equal([...f.test].filter((i) => labels[i] === c).length, 2);
  }
  const s = synthetic(300, 16, 5, 2, 8);
  const r = probeClassification({ x: s.x, n: 300, d: 16, labels: s.labels, classes: s.classes }, { folds: 4 });
  assert.equal(r.nTest, 300);
  assert.ok(r.accuracy > 0.95, `cv accuracy ${r.accuracy}`);
  const noise = synthetic(300, 16, 5, 0, 8);
  const z = probeClassification({ x: noise.x, n: 300, d: 16, labels: noise.labels, classes: noise.classes }, { folds: 4, l2: 1e-2 });
  assert.ok(Math.abs(z.accuracy - 0.2) < 0.09, `cv noise accuracy ${z.accuracy}`);
});

test('leave-group-out: a probe never sees the test group; a group-specific offset cannot inflate accuracy', () => {
  const groups = Array.from({ length: 40 }, (_, i) => `g${i % 4}`);
  const splits = groupFoldSplits(groups, 1, 0);
  assert.equal(splits.length, 4);
  for (const s of splits) {
    const testG = new Set([...s.test].map((i) => groups[i]));
    const trainG = new Set([...s.train].map((i) => groups[i]));
    assert.equal(testG.size, 1);
    assert.ok(![...testG].some((g) => trainG.has(g)));
  }
  assert.equal(groupFoldSplits(groups, 2, 0).length, 2);
  // 8 groups: 4 folds by default, each leaving 2 whole groups out.
  const eight = Array.from({ length: 80 }, (_, i) => `f${i % 8}`);
  const s8 = groupFoldSplits(eight, 1, 3);
  assert.equal(s8.length, 4);
  for (const s of s8) assert.equal(new Set([...s.test].map((i) => eight[i])).size, 2);
  assert.equal(groupFoldSplits(eight, 8, 3).length, 8);
  // Labels carried only by a per-(group, label) random code: learnable inside a group, not across groups.
  const rng = new Rng(12);
  const n = 400, d = 20, k = 5, g = 4;
  const codes = Array.from({ length: g * k }, () => rng.normalArray(d));
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  const grp: number[] = [];
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(k);
    grp.push(i % g);
    for (let j = 0; j < d; j++) x[i * d + j] = 3 * codes[grp[i] * k + labels[i]][j] + rng.normal();
  }
  const classes = ['a', 'b', 'c', 'd', 'e'];
  const within = probeClassification({ x, n, d, labels, classes }, { seed: 1 });
  const across = probeClassification({ x, n, d, labels, classes, splitGroups: grp }, { seed: 1 });
  assert.ok(within.accuracy > 0.9, `within groups ${within.accuracy}`);
  assert.ok(across.accuracy < 0.4, `across groups ${across.accuracy}`);
  assert.equal(across.nTest, n);
});

test('fixed split: train on the unmasked, test on the masked examples', () => {
  const s = synthetic(200, 12, 3, 2, 13);
  const mask = Uint8Array.from({ length: 200 }, (_, i) => (i >= 150 ? 1 : 0));
  const { train, test } = fixedSplit(mask);
  assert.equal(train.length, 150);
  assert.equal(test[0], 150);
  const r = probeClassification({ x: s.x, n: 200, d: 12, labels: s.labels, classes: s.classes, testMask: mask });
  assert.equal(r.nTest, 50);
  assert.equal(r.nTrain, 150);
  assert.ok(r.accuracy > 0.9);
  assert.throws(() => fixedSplit(new Uint8Array(5)), GroundlabError);
});
