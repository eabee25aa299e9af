/** The analysis registry: order and dependencies are consistent, and every declared table schema is what analyzeRun writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/engine';
import { analyzeRun, ANALYSES, IMAGE_ANALYSES } from '../../src/analysis/analyze';
import { REGISTRY } from '../../src/analysis/analyses';
import type { Episode } from '../../src/data/types';
import { copyModel, NOUNS, VOCAB, FRAMES } from './handmodel';
import { fakeRun } from './runfake';

const episodes = (): Episode[] => Array.from({ length: 12 }, (_, i) => ({ id: `e${i}`, turns: [{ speaker: 'f1', env: { situation: [], before: [NOUNS[i % 3] + '<ENV>'], during: [], after: [] }, utterance: ['f2', NOUNS[i % 3] + '<LAN>'] }] }));

test('the registry lists every analysis once, dependencies first; IMAGE_ANALYSES follow the modules', () => {
  assert.deepEqual(ANALYSES, REGISTRY.map((a) => a.name));
  assert.equal(new Set(ANALYSES).size, ANALYSES.length);
  REGISTRY.forEach((a, i) => a.depends.forEach((d) => assert.ok(ANALYSES.indexOf(d as never) < i, `${a.name} depends on ${d}`)));
  assert.deepEqual(IMAGE_ANALYSES, ['surprisal', 'gain', 'cooccurrence']);
});

test('every table an analysis declares is written with exactly the declared columns', async () => {
  await initEngine({ log: false });
  const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 5: () => copyModel(5) } });
  const res = await analyzeRun(run, { evalSet: { contextsPerNoun: 2, mismatchesPerContext: 1 }, ablation: { draws: 2 }, tunedLens: { steps: 2, rows: 4 } });
  assert.deepEqual(Object.keys(res.computed).sort(), [...ANALYSES].sort());
  for (const a of REGISTRY)
    for (const [table, cols] of Object.entries(a.writes)) {
      if (!table.startsWith('analysis/')) continue;
      const t = await run.readTable(table);
      assert.ok(t, `${a.name}: ${table} written`);
      assert.deepEqual(t!.columnNames().slice().sort(), [...cols].sort(), `${a.name}: columns of ${table}`);
    }
});

test('heads: the REPORT.md table of heads by layer averages each layer over seeds and lists the layers that have any', async () => {
  const { headsByLayer } = await import('../../src/analysis/analyses/heads');
  const { overSeeds } = await import('../../src/reproduce/collect');
  const head = (step: number, layer: number, h: number, aggregate: boolean, gather = false) => ({ step, layer, head: h, aggregate, gather });
  const seed0 = [head(1, 0, 0, false), head(1, 1, 0, false), head(2, 0, 0, true, false), head(2, 1, 0, true), head(2, 1, 1, false, true)];
  const seed1 = [head(1, 0, 0, false), head(1, 1, 0, false), head(2, 0, 0, false), head(2, 1, 0, true), head(2, 1, 1, true)];
  const run = (seed: number, heads: object[]) => ({ group: 'main', label: 'transformer', seed, tables: { heads: heads as never } });
  const rows = headsByLayer([run(0, seed0), run(1, seed1)], overSeeds as never);
  assert.deepEqual(rows, [
    { step: 1, aggregate: 'none', gather: 'none' },
    { step: 2, aggregate: 'L0 0.50, L1 1.50', gather: 'L1 0.50' },
  ]);
});
