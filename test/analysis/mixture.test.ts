import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fitMixture, jsDivergence, mixtureAgreement, mixturePredict, type MixtureItem } from '../../src/analysis/mixture';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';

/** Synthetic prompts whose candidate distributions are exactly a known mixture (80% of the mass on the candidates). */
function synthetic(seed: number, cells: Record<string, { w: [number, number, number, number]; sigma: number }>, perCell: number): MixtureItem[] {
  const rng = new Rng(seed);
  const out: MixtureItem[] = [];
  for (const [cell, { w, sigma }] of Object.entries(cells))
    for (let i = 0; i < perCell; i++) {
      const n = 4 + rng.int(5);
      const [position, lexical, reflexive] = rng.shuffle(Array.from({ length: n }, (_, j) => j)).slice(0, 3);
      const g = Array.from({ length: n }, (_, j) => Math.exp(-((j - position) ** 2) / (2 * sigma * sigma)));
      const z = g.reduce((a, b) => a + b, 0);
      const probs = g.map((x, j) => 0.8 * (w[0] * (x / z) + w[1] * (j === lexical ? 1 : 0) + w[2] * (j === reflexive ? 1 : 0) + w[3] / n));
      out.push({ probs, position, lexical, reflexive, cell });
    }
  return out;
}

test('mixture model, known answer: recovers the weights and sigma of each cell and agrees fully', () => {
  const truth = {
    'n=6/middle': { w: [0.2, 0.5, 0.2, 0.1] as [number, number, number, number], sigma: 1.4 },
    'n=6/first': { w: [0.7, 0.15, 0.1, 0.05] as [number, number, number, number], sigma: 0.5 },
  };
  const items = synthetic(1, truth, 60);
  const fit = fitMixture(items, { iterations: 3000 });
  assert.equal(fit.cells.length, 2);
  for (const c of fit.cells) {
    const t = truth[c.cell as keyof typeof truth];
    assert.equal(c.sigma, t.sigma, c.cell);
    assert.equal(c.n, 60);
    (['positional', 'lexical', 'reflexive', 'noise'] as const).forEach((m, k) => assert.ok(Math.abs(c.weights[m] - t.w[k]) < 2e-3, `${c.cell} ${m}: ${c.weights[m]} vs ${t.w[k]}`));
  }
  const a = mixtureAgreement(fit, synthetic(2, truth, 40));
  assert.equal(a.top1, 1);
  assert.ok(a.jsSimilarity > 0.9999, `JS similarity ${a.jsSimilarity}`);
  const p = mixturePredict(fit, items[0]);
  assert.ok(Math.abs(p.reduce((x, y) => x + y, 0) - 1) < 1e-9);
  // A restricted model (positional + noise) cannot explain the lexical and reflexive mass: it agrees less.
  const pos = mixtureAgreement(fitMixture(items, { components: ['positional', 'noise'] }), items);
  assert.ok(pos.jsSimilarity < 0.9 && pos.top1 < 0.8, `positional only: top-1 ${pos.top1}, JS ${pos.jsSimilarity}`);
});

test('mixture model: a distribution none of the mechanisms explains gets low agreement; bad items are named', () => {
  // All mass on a candidate two groups away from every pointer: the best mixture is near uniform noise.
  const rng = new Rng(4);
  const items: MixtureItem[] = Array.from({ length: 50 }, () => {
    const n = 8;
    const probs = new Array(n).fill(0.001);
    probs[7] = 0.9;
    return { probs, position: rng.int(3), lexical: 3, reflexive: 4, cell: 'c' };
  });
  const fit = fitMixture(items);
  assert.ok(fit.cells[0].weights.noise > 0.5, `noise weight ${fit.cells[0].weights.noise}`);
  const a = mixtureAgreement(fit, items);
  assert.equal(a.top1, 0);
  assert.ok(a.jsSimilarity < 0.5);
  assert.equal(jsDivergence([1, 0], [0, 1]), 1);
  assert.equal(jsDivergence([0.5, 0.5], [0.5, 0.5]), 0);
  assert.throws(() => fitMixture([{ probs: [0.5, 0.5], position: 2, lexical: 0, reflexive: 1, cell: 'x' }]), (e) => isGroundlabError(e) && /item 0/.test(e.message) && /0\.\.1/.test(e.message));
  assert.throws(() => fitMixture([]), (e) => isGroundlabError(e) && /at least one item/.test(e.message));
  assert.throws(() => fitMixture(items, { components: ['pointer' as never] }), (e) => isGroundlabError(e) && /components/.test(e.message));
  assert.throws(() => mixturePredict(fit, { ...items[0], cell: 'other' }), (e) => isGroundlabError(e) && /no fitted mixture cell "other"/.test(e.message));
});
