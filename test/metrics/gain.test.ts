import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groundingGain, summarizeGain, gainOverSeeds, type SurprisalRecord } from '../../src/metrics/gain';
import { classifyHeads, headSummary, saliencyShares } from '../../src/metrics/heads';

const close = (a: number, b: number, tol = 1e-12, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('G on a 3-noun toy, checked by hand', () => {
  // nouns a, b, c; two contexts each; M = 2 mismatches (the two other nouns)
  const s: Record<string, [number, number, number]> = {
    // context: [match, mismatch u1, mismatch u2]
    'a/c1': [1, 3, 5], // 1/2 (3-1 + 5-1) = 3
    'a/c2': [2, 2, 4], // 1/2 (0 + 2) = 1      -> G(a) = (3 + 1) / 2 = 2
    'b/c1': [4, 4, 4], // 0
    'b/c2': [3, 2, 3], // 1/2 (-1 + 0) = -0.5  -> G(b) = -0.25
    'c/c1': [0.5, 6.5, 2.5], // 1/2 (6 + 2) = 4
    'c/c2': [1, 1, 1], // 0                   -> G(c) = 2
  };
  const others: Record<string, [string, string]> = { a: ['b', 'c'], b: ['a', 'c'], c: ['a', 'b'] };
  const recs: SurprisalRecord[] = [];
  for (const [key, [m, u1, u2]] of Object.entries(s)) {
    const [noun, context] = key.split('/');
    recs.push({ noun, context, condition: 'match', envNoun: noun, surprisal: m });
    recs.push({ noun, context, condition: 'mismatch', envNoun: others[noun][0], surprisal: u1 });
    recs.push({ noun, context, condition: 'mismatch', envNoun: others[noun][1], surprisal: u2 });
  }
  const rows = groundingGain(recs);
  assert.deepEqual(rows.map((r) => r.noun), ['a', 'b', 'c']);
  close(rows[0].gain, 2, 1e-12, 'G(a)');
  close(rows[1].gain, -0.25, 1e-12, 'G(b)');
  close(rows[2].gain, 2, 1e-12, 'G(c)');
  close(rows[0].matchSurprisal, 1.5);
  close(rows[0].mismatchSurprisal, (4 + 3) / 2);
  assert.equal(rows[0].contexts, 2);
  const sum = summarizeGain(rows);
  close(sum.gain.mean, (2 - 0.25 + 2) / 3, 1e-12, 'mean G');
  // CI over nouns: sd of [2, -0.25, 2] = sqrt(((0.75)^2*2 + 1.5^2)/2) = sqrt(1.6875); t(0.975, 2) = 4.30265
  close(sum.gain.hi - sum.gain.mean, 4.302653 * Math.sqrt(1.6875) / Math.sqrt(3), 1e-5, 'CI half width');
  assert.equal(sum.nouns, 3);
});

test('G rejects inconsistent records', () => {
  assert.throws(() => groundingGain([{ noun: 'a', context: 'c', condition: 'mismatch', envNoun: 'a', surprisal: 1 }]), /own ENV form/);
  assert.throws(() => groundingGain([{ noun: 'a', context: 'c', condition: 'match', envNoun: 'a', surprisal: NaN }]), /NaN/);
});

test('CI over seeds uses the steps every run has', () => {
  const rows = gainOverSeeds([
    [{ step: 100, gain: 1 }, { step: 200, gain: 2 }],
    [{ step: 100, gain: 3 }, { step: 200, gain: 2 }, { step: 300, gain: 9 }],
  ]);
  assert.deepEqual(rows.map((r) => r.step), [100, 200]);
  close(rows[0].mean, 2);
  close(rows[0].hi - rows[0].mean, 12.7062 * 1, 1e-3); // sd sqrt(2), sem 1, t(0.975,1)
  close(rows[1].hi, 2);
});

test('head shares and classification with configurable thresholds', () => {
  // T = 3: env at 1, prediction at 2
  const map = [
    1, 0, 0, //
    2, 1, 0, // gather cell (1, 0) = 2
    0, 4, 2, // aggregate cell (2, 1) = 4
  ];
  const s = saliencyShares(map, 3, 1, 2);
  close(s.total, 10);
  close(s.aggregate, 0.4);
  close(s.gather, 0.2);
  const cls = classifyHeads([
    { layer: 0, head: 0, aggregateShare: 0.4, gatherShare: 0.2 },
    { layer: 1, head: 1, aggregateShare: 0.1, gatherShare: 0.35 },
    { layer: 2, head: 0, aggregateShare: 0.3, gatherShare: 0.0 },
  ]);
  assert.deepEqual(cls.map((c) => [c.aggregate, c.gather]), [[true, false], [false, true], [true, false]]);
  const agg = headSummary(cls, 'aggregate');
  assert.equal(agg.count, 2);
  close(agg.meanLayer, 1);
  const strict = classifyHeads(cls, { aggregateThreshold: 0.35, gatherThreshold: 0.5 });
  assert.equal(headSummary(strict, 'aggregate').count, 1);
  assert.equal(headSummary(strict, 'gather').count, 0);
  assert.ok(Number.isNaN(headSummary(strict, 'gather').meanLayer));
  assert.deepEqual(saliencyShares([0, 0, 0, 0], 2, 0, 1), { aggregate: 0, gather: 0, total: 0 });
});
