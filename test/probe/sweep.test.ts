import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { prepareData } from '../../src/data/prepare';
import type { PreparedData } from '../../src/data/types';
import { GroundlabError } from '../../src/errors';
import { probeSweep, probeTableName, PROBE_TABLE_COLUMNS, type ProbeRun } from '../../src/probe/sweep';
import { probeHeatmapSpec, probeGrid } from '../../src/probe/figure';
import { vegaLiteToSvg } from '../../src/viz/render';
import { TinyModel } from './tiny-model';

let data: PreparedData;
let dir: string;
before(async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine();
  data = await prepareData({ kind: 'synthetic', setting: 'realistic', seed: 2, knobs: { episodes: 300, nouns: 8 } }, { seqLen: 16, minCount: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-sweep-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A run with three "checkpoints": step 0 has no token mixing (layers = embedding), later ones mix. */
function fakeRun(loads: number[]): ProbeRun {
  return {
    dir,
    config: { model: { contextLength: 12, nLayers: 2 } },
    checkpoints: [{ step: 0 }, { step: 100 }, { step: 200 }],
    async loadModel(step = 200) {
      loads.push(step);
      return new TinyModel(data.tokenizer.vocabSize, 64, 2, 11, 12, step === 0 ? 0 : 1);
    },
    async data() {
      return data;
    },
    async writeTable(name, table) {
      const f = path.join(dir, name + '.arrow');
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, aq.toArrowIPC(table));
    },
    async readTable(name) {
      const f = path.join(dir, name + '.arrow');
      return fs.existsSync(f) ? aq.fromArrow(fs.readFileSync(f)) : undefined;
    },
  };
}

test('sweep: every layer of every checkpoint, saved as probes/<task>.arrow, resumable, no tensor leak', async () => {
  const loads: number[] = [];
  const run = fakeRun(loads);
  const events: string[] = [];
  const before = tf.memory().numTensors;
  const r = await probeSweep(run, { task: 'env-noun', taskOptions: { source: 'episodes', maxExamples: 400 }, onProgress: (e) => events.push(`${e.step}/${e.total}`) });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.computed, 9);
  assert.equal(r.reused, 0);
  assert.deepEqual(r.table.columnNames(), [...PROBE_TABLE_COLUMNS]);
  assert.equal(r.table.numRows(), 9);
  assert.ok(events.includes('3/3'));
  const rows = r.table.objects() as Array<Record<string, number | string>>;
  const acc = (step: number, layer: number) => Number(rows.find((x) => x.step === step && x.layer === layer)!.accuracy);
  assert.deepEqual([...new Set(rows.map((x) => x.layer))], [0, 1, 2]);
  // No mixing at step 0: the pre-LAN state cannot know the ENV noun; mixing checkpoints can.
  assert.ok(acc(200, 2) > acc(0, 2) + 0.2, `step 0: ${acc(0, 2)}, step 200: ${acc(200, 2)}`);
  assert.ok(acc(200, 2) > acc(200, 0) + 0.2, `input ${acc(200, 0)}, after block 1 ${acc(200, 2)}`);
  for (const x of rows) {
    assert.ok(Number.isFinite(Number(x.control_accuracy)));
    assert.ok(Math.abs(Number(x.selectivity) - (Number(x.accuracy) - Number(x.control_accuracy))) < 1e-12);
    assert.equal(x.chance_uniform, 1 / data.nouns.length);
    assert.ok(Number(x.test_loss) > 0 && Number.isFinite(Number(x.test_loss)));
  }
  // Saved and readable; variants that ask another question get their own table.
  assert.equal(r.tableName, 'probes/env-noun-episodes');
  assert.equal(probeTableName('env-noun', {}), 'probes/env-noun');
  assert.equal(probeTableName('env-noun', { source: 'transfer' }), 'probes/env-noun-transfer');
  assert.equal(probeTableName('env-noun', { position: 'env' }), 'probes/env-noun-at-env');
  assert.equal(probeTableName('speaker', { source: 'frames' }), 'probes/speaker');
  const saved = aq.fromArrow(fs.readFileSync(path.join(dir, 'probes/env-noun-episodes.arrow')));
  assert.equal(saved.numRows(), 9);
  // A second call reuses everything, loading only the first checkpoint (to learn the hook list).
  loads.length = 0;
  const again = await probeSweep(run, { task: 'env-noun', taskOptions: { source: 'episodes', maxExamples: 400 } });
  assert.equal(again.computed, 0);
  assert.equal(again.reused, 9);
  assert.deepEqual(loads, [0]);
  // --force recomputes the asked checkpoint and keeps the other rows of the saved table.
  const forced = await probeSweep(run, { task: 'env-noun', checkpoints: [100], force: true, taskOptions: { source: 'episodes', maxExamples: 400 } });
  assert.equal(forced.computed, 3);
  assert.equal(aq.fromArrow(fs.readFileSync(path.join(dir, 'probes/env-noun-episodes.arrow'))).numRows(), 9);
  assert.deepEqual(again.table.objects(), r.table.objects());
  // The same settings on other data (fewer evaluation frames) recompute instead of reusing stale rows.
  const frames = { task: 'env-noun', checkpoints: [0], hooks: ['blocks.1.hook_resid_post'] };
  assert.equal((await probeSweep(run, frames)).computed, 1);
  assert.equal((await probeSweep(run, frames)).computed, 0);
  const fewer: ProbeRun = { ...run, data: async () => ({ ...data, evalFrames: data.evalFrames.slice(0, 3) }) };
  assert.equal((await probeSweep(fewer, frames)).computed, 1);
  // Other settings recompute.
  const other = await probeSweep(run, { task: 'env-noun', checkpoints: [100], hooks: ['hook_embed'], taskOptions: { source: 'episodes', maxExamples: 400 }, probe: { l2: 0.1 } });
  assert.equal(other.computed, 1);
  assert.equal(other.table.numRows(), 1);
  assert.equal(other.table.get('layer', 0), 0);
  // Figure and grid.
  const spec = probeHeatmapSpec(r.table) as { data: { values: unknown[] }; encoding: { color: { scale: { domain: number[] } } } };
  assert.equal(spec.data.values.length, 9);
  assert.deepEqual(spec.encoding.color.scale.domain, [0, 1]);
  const svg = await vegaLiteToSvg(spec);
  assert.match(svg, /^<svg/);
  const grid = probeGrid(r.table);
  assert.match(grid, /layer\s+0\s+100\s+200/);
  assert.equal(grid.split('\n').length, 5);
});

test('sweep errors: unknown checkpoint, abort', async () => {
  const run = fakeRun([]);
  await assert.rejects(probeSweep(run, { task: 'env-noun', checkpoints: [50], save: false }), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND' && /0, 100, 200/.test(e.hint ?? ''));
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(probeSweep(run, { task: 'speaker', signal: ac.signal, save: false }), (e: unknown) => e instanceof GroundlabError && e.code === 'ABORTED');
});
