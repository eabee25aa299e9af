/**
 * Fit a probe with a held-out split and read it: accuracy (or R^2), chance levels, and a control
 * task after Hewitt & Liang (2019) so that selectivity = task accuracy - control accuracy.
 *
 * The control task. Hewitt & Liang give every word *type* a random label and ask whether the probe
 * can learn that arbitrary map as well as the real task. When the label is itself a word identity
 * (which noun's ENV token is in context) a random function of that word is only a relabelling of
 * the task, so groundlab re-assigns labels by a fixed random permutation of the label set *per
 * control group* (a context template, or the token at the probed position): the control label of
 * an example is perm_g(label) with g its group. The control task has the task's classes and
 * balance, but solving it means memorising arbitrary (group, label) conjunctions. With one group
 * it equals the task up to names (selectivity 0): then no control is possible and that is said.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import { fitLogistic, fitRidge, logisticPredict, logisticLogits, ridgePredict, rSquared, takeRows, type RidgeOptions } from './linear';

/** Activations and labels for a classification probe. */
export interface ProbeClassificationData {
  /** [n, d] row-major activations. */
  x: Float32Array;
  n: number;
  d: number;
  /** Class index of each example, in [0, classes.length). */
  labels: Int32Array;
  /** Class names (e.g. nouns, speakers, "no"/"yes"). */
  classes: string[];
  /** Control group of each example (see the module comment); default: all in one group. */
  groups?: ArrayLike<string | number>;
  /**
   * Split group of each example (e.g. the context template). When given, the probe is
   * cross-validated leaving whole groups out, so it is always tested on contexts it never saw.
   */
  splitGroups?: ArrayLike<string | number>;
  /** A fixed split: 1 marks test examples, 0 training ones (overrides the seeded split). */
  testMask?: ArrayLike<number>;
}

/** Activations and targets for a regression probe. */
export interface ProbeRegressionData {
  x: Float32Array; // [n, d]
  n: number;
  d: number;
  y: Float32Array; // [n, m]
  m: number;
}

export interface SplitOptions {
  /** Share of examples held out for testing. */
  testFraction: number;
  /** Seed of the split and of the control map. */
  seed: number;
  /** Keep each class's share equal in train and test (classification only). */
  stratify: boolean;
}

export const SPLIT_DEFAULTS: SplitOptions = { testFraction: 0.25, seed: 0, stratify: true };

export interface ProbeOptions extends SplitOptions {
  /** L2 penalty (see fitLogistic / fitRidge). */
  l2: number;
  /** L-BFGS iteration budget. */
  maxIter: number;
  /** Also fit the control task (classification). */
  control: boolean;
  /** k-fold cross-validation when >= 2 (every example tested once); 1 = one held-out split of testFraction. */
  folds: number;
}

export const PROBE_DEFAULTS: ProbeOptions = { ...SPLIT_DEFAULTS, l2: 1e-3, maxIter: 100, control: true, folds: 1 };

export interface ProbeClassificationResult {
  kind: 'classification';
  nTrain: number;
  nTest: number;
  nClasses: number;
  /** Test accuracy of the task probe (pooled over folds). */
  accuracy: number;
  /** Mean held-out cross-entropy of the true class (nats; pooled over folds): graded where accuracy saturates. */
  testLoss: number;
  trainAccuracy: number;
  /** Test accuracy of always predicting the training set's most frequent class. */
  chanceMajority: number;
  /** 1 / number of classes. */
  chanceUniform: number;
  /** Test accuracy of the same probe trained on the control task (NaN when not fitted). */
  controlAccuracy: number;
  controlTrainAccuracy: number;
  /** accuracy - controlAccuracy. */
  selectivity: number;
  /** Number of distinct control groups (1 = the control equals the task up to names). */
  controlGroups: number;
  iterations: number;
  converged: boolean;
}

export interface ProbeRegressionResult {
  kind: 'regression';
  nTrain: number;
  nTest: number;
  r2: number;
  trainR2: number;
}

/**
 * A seeded split of n examples into train and test index lists (sorted). With `labels` and
 * `stratify`, each class is split on its own (a class with one example goes to train).
 */
export function trainTestSplit(
  n: number,
  opts: Partial<SplitOptions> = {},
  labels?: ArrayLike<number>,
): { train: Int32Array; test: Int32Array } {
  const o = { ...SPLIT_DEFAULTS, ...opts };
  if (!(o.testFraction > 0 && o.testFraction < 1))
    throw new GroundlabError('BAD_ARGUMENT', `testFraction must be in (0, 1), got ${o.testFraction}`);
  const rng = new Rng(`probe-split/${o.seed}`);
  const buckets = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = labels && o.stratify ? labels[i] : 0;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = []));
    b.push(i);
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const key of [...buckets.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle(buckets.get(key)!.slice());
    const nt = idx.length < 2 ? 0 : Math.max(1, Math.min(idx.length - 1, Math.round(idx.length * o.testFraction)));
    test.push(...idx.slice(0, nt));
    train.push(...idx.slice(nt));
  }
  if (!train.length || !test.length) {
    throw new GroundlabError('BAD_ARGUMENT', `cannot split ${n} examples into a training and a test set`, {
      hint: 'probe on more examples',
    });
  }
  return { train: Int32Array.from(train.sort((a, b) => a - b)), test: Int32Array.from(test.sort((a, b) => a - b)) };
}

/**
 * Control labels: for each distinct group a fixed seeded random permutation of [0, k), applied
 * to the true label. Deterministic in (groups, seed); groups are visited in sorted order.
 */
export function controlLabels(
  labels: Int32Array,
  k: number,
  groups: ArrayLike<string | number> | undefined,
  seed: number,
): { labels: Int32Array; groups: number } {
  const keys = Array.from({ length: labels.length }, (_, i) => (groups ? String(groups[i]) : ''));
  const distinct = [...new Set(keys)].sort();
  const perms = new Map<string, Int32Array>();
  for (const g of distinct) {
    const rng = new Rng(`probe-control/${seed}/${g}`);
    perms.set(g, Int32Array.from(rng.shuffle(Array.from({ length: k }, (_, i) => i))));
  }
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = perms.get(keys[i])![labels[i]];
  return { labels: out, groups: distinct.length };
}

/** Summed cross-entropy (nats) of the true labels of rows `idx` under logits [idx.length, k]. */
function heldOutLoss(logits: Float32Array, k: number, labels: Int32Array, idx: Int32Array): number {
  let sum = 0;
  for (let i = 0; i < idx.length; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[i * k + c]);
    let z = 0;
    for (let c = 0; c < k; c++) z += Math.exp(logits[i * k + c] - max);
    sum += max + Math.log(z) - logits[i * k + labels[idx[i]]];
  }
  return sum;
}

function accuracy(pred: Int32Array, labels: Int32Array, idx: Int32Array): number {
  let hit = 0;
  for (let i = 0; i < idx.length; i++) if (pred[i] === labels[idx[i]]) hit++;
  return idx.length ? hit / idx.length : NaN;
}

/** Fit a logistic probe (and its control) on a seeded split and report accuracies and chance. */
export function probeClassification(data: ProbeClassificationData, opts: Partial<ProbeOptions> = {}): ProbeClassificationResult {
  const o = { ...PROBE_DEFAULTS, ...opts };
  const { x, n, d, labels } = data;
  const k = data.classes.length;
  if (x.length !== n * d) throw new GroundlabError('INTERNAL', `activations have ${x.length} values, expected ${n}x${d}`);
  if (labels.length !== n) throw new GroundlabError('INTERNAL', `${labels.length} labels for ${n} examples`);
  if (k < 2) throw new GroundlabError('BAD_ARGUMENT', `a classification probe needs at least 2 classes, got ${k}`);
  const splits = data.testMask
    ? [fixedSplit(data.testMask)]
    : data.splitGroups
      ? groupFoldSplits(data.splitGroups, o.folds, o.seed)
      : o.folds >= 2
        ? kFoldSplits(n, o.folds, o.seed, labels)
        : [trainTestSplit(n, o, labels)];
  const control = o.control ? controlLabels(labels, k, data.groups, o.seed) : undefined;
  // Pooled over folds: hits / tested examples; training accuracy averaged over folds.
  let hits = 0,
    ctlHits = 0,
    tested = 0,
    trainAcc = 0,
    ctlTrainAcc = 0,
    majorHits = 0,
    nTrain = 0,
    iterations = 0;
  let converged = true;
  let lossSum = 0;
  for (const { train, test } of splits) {
    const xTrain = takeRows(x, d, train);
    const xTest = takeRows(x, d, test);
    const fit = (lab: Int32Array) => {
      const yTrain = Int32Array.from(train, (i) => lab[i]);
      const model = fitLogistic(xTrain, yTrain, train.length, d, k, { l2: o.l2, maxIter: o.maxIter });
      return {
        model,
        train: accuracy(logisticPredict(model, xTrain, train.length), lab, train),
        test: accuracy(logisticPredict(model, xTest, test.length), lab, test),
      };
    };
    const task = fit(labels);
    lossSum += heldOutLoss(logisticLogits(task.model, xTest, test.length), k, labels, test);
    hits += task.test * test.length;
    trainAcc += task.train / splits.length;
    tested += test.length;
    nTrain += train.length / splits.length;
    iterations = Math.max(iterations, task.model.iterations);
    converged &&= task.model.converged;
    // Majority class of the training set, scored on the test set.
    const counts = new Int32Array(k);
    for (const i of train) counts[labels[i]]++;
    let major = 0;
    for (let c = 1; c < k; c++) if (counts[c] > counts[major]) major = c;
    for (const i of test) if (labels[i] === major) majorHits++;
    if (control) {
      const c = fit(control.labels);
      ctlHits += c.test * test.length;
      ctlTrainAcc += c.train / splits.length;
    }
  }
  const acc = hits / tested;
  const ctl = control ? ctlHits / tested : NaN;
  return {
    kind: 'classification',
    nTrain: Math.round(nTrain),
    nTest: tested,
    nClasses: k,
    accuracy: acc,
    testLoss: lossSum / tested,
    trainAccuracy: trainAcc,
    chanceMajority: majorHits / tested,
    chanceUniform: 1 / k,
    controlAccuracy: ctl,
    controlTrainAccuracy: control ? ctlTrainAcc : NaN,
    selectivity: acc - ctl,
    controlGroups: control?.groups ?? 0,
    iterations,
    converged,
  };
}

/** The split given by a mask (1 = test). */
export function fixedSplit(testMask: ArrayLike<number>): { train: Int32Array; test: Int32Array } {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < testMask.length; i++) (testMask[i] ? test : train).push(i);
  if (!train.length || !test.length)
    throw new GroundlabError('BAD_ARGUMENT', `a fixed split needs training and test examples (has ${train.length} and ${test.length})`);
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** Folds of leave-groups-out cross-validation when `folds` < 2. */
export const GROUP_FOLDS_DEFAULT = 4;

/**
 * Leave-groups-out cross-validation: the distinct groups are shuffled (seeded) and dealt over
 * min(folds, groups) folds (min(4, groups) when folds < 2). Each example is tested once,
 * always by a probe that saw no example of its group.
 */
export function groupFoldSplits(
  groups: ArrayLike<string | number>,
  folds: number,
  seed: number,
): Array<{ train: Int32Array; test: Int32Array }> {
  const keys = Array.from({ length: groups.length }, (_, i) => String(groups[i]));
  const distinct = new Rng(`probe-group-folds/${seed}`).shuffle([...new Set(keys)].sort());
  if (distinct.length < 2) throw new GroundlabError('BAD_ARGUMENT', `leave-group-out needs at least 2 groups, got ${distinct.length}`);
  const k = Math.min(folds >= 2 ? folds : GROUP_FOLDS_DEFAULT, distinct.length);
  const foldOf = new Map(distinct.map((g, i) => [g, i % k]));
  return Array.from({ length: k }, (_, f) => {
    const train: number[] = [];
    const test: number[] = [];
    keys.forEach((g, i) => (foldOf.get(g) === f ? test : train).push(i));
    return { train: Int32Array.from(train), test: Int32Array.from(test) };
  });
}

/**
 * Seeded k-fold cross-validation: each example is tested exactly once. With `labels` each class is
 * dealt round-robin over the folds after a seeded shuffle (stratified).
 */
export function kFoldSplits(
  n: number,
  folds: number,
  seed: number,
  labels?: ArrayLike<number>,
): Array<{ train: Int32Array; test: Int32Array }> {
  if (!Number.isInteger(folds) || folds < 2) throw new GroundlabError('BAD_ARGUMENT', `folds must be a whole number >= 2, got ${folds}`);
  if (n < folds) throw new GroundlabError('BAD_ARGUMENT', `cannot make ${folds} folds of ${n} examples`);
  const rng = new Rng(`probe-folds/${seed}`);
  const fold = new Int32Array(n);
  const buckets = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = labels ? labels[i] : 0;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = []));
    b.push(i);
  }
  let offset = 0;
  for (const key of [...buckets.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle(buckets.get(key)!.slice());
    idx.forEach((i, j) => (fold[i] = (offset + j) % folds));
    offset += idx.length; // continue the deal so small classes do not all land in fold 0
  }
  return Array.from({ length: folds }, (_, f) => {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? test : train).push(i);
    return { train: Int32Array.from(train), test: Int32Array.from(test) };
  });
}

/** Fit a ridge probe on a seeded split and report R^2 on train and test. */
export function probeRegression(data: ProbeRegressionData, opts: Partial<ProbeOptions> = {}): ProbeRegressionResult {
  const o = { ...PROBE_DEFAULTS, ...opts };
  const { x, n, d, y, m } = data;
  const { train, test } = trainTestSplit(n, { ...o, stratify: false });
  const xTrain = takeRows(x, d, train);
  const xTest = takeRows(x, d, test);
  const yTrain = takeRows(y, m, train);
  const yTest = takeRows(y, m, test);
  const r = fitRidge(xTrain, yTrain, train.length, d, m, { l2: o.l2 } as Partial<RidgeOptions>);
  return {
    kind: 'regression',
    nTrain: train.length,
    nTest: test.length,
    r2: rSquared(yTest, ridgePredict(r, xTest, test.length), test.length, m),
    trainR2: rSquared(yTrain, ridgePredict(r, xTrain, train.length), train.length, m),
  };
}
