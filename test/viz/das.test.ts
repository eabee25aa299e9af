/** The DAS panel's producer: from a tiny counting run's analysis/das table, the payload contract, bad input, fallback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { train, openRun } from '../../src/train';
import { dasRun } from '../../src/causal/run';
import { DAS_MIME, dasPanel, dasPanelData, dasPanelPayload, type DasPanelData } from '../../src/viz/das';
import { isGroundlabError } from '../../src/errors';
import { validate, unsupportedKeywords } from '../../extension/src/schema';
import { DAS_SCHEMA } from '../../extension/src/contract.generated';

test('DAS panel of a tiny GRU counting run: every (k, method) series per checkpoint as analysis/das has it, beside task accuracy', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'das-panel-'));
  try {
    const out = path.join(dir, 'count-gru');
    await train({ out, arch: 'gru', preset: 'tiny', steps: 12, corpus: { kind: 'counting', knobs: { maxCount: 6, heldOut: '4', sequences: 64 } }, model: { nLayers: 1, dModel: 8 } });
    const run = await openRun(out);
    const rows = await dasRun(run, { program: 'up-down', site: 'blocks.0.state', dims: [1, 2], steps: 4, trainPairs: 16, testPairs: 16, checkpoints: [0, 12] });
    await assert.rejects(dasPanelData(run, { program: 'up-up' }), (e) => isGroundlabError(e) && /no DAS rows for up-up/.test((e as Error).message));
    const b = await dasPanel(run);
    const p = b[DAS_MIME] as ReturnType<typeof dasPanelPayload>;
    assert.deepEqual(validate(DAS_SCHEMA, JSON.parse(JSON.stringify(p))), []);
    assert.deepEqual(p.steps, [0, 12]);
    assert.equal(p.groups.length, 1);
    const g = p.groups[0];
    assert.deepEqual([g.program, g.variables, g.site], ['up-down', 'count', 'blocks.0.state']);
    // DAS first by k, then the baselines: one series per (method, k) of the table
    assert.deepEqual(g.series.map((s) => `${s.method}/${s.k}`), ['das/1', 'das/2', 'identity/1', 'identity/2', 'random/1', 'random/2', 'full/8', 'probe/1']);
    for (const r of rows) {
      const s = g.series.find((x) => x.method === r.method && x.k === r.k)!;
      const c = p.steps.indexOf(r.step);
      assert.equal(s.iia[c], Number(r.iia.toPrecision(5)), `${r.method} k ${r.k} step ${r.step}`);
      assert.equal(s.pairs![c], 16);
      assert.equal(g.taskAccuracy[c], Number(r.task_accuracy.toPrecision(5)));
    }
    assert.equal(p.initial.k, 1, 'the smallest DAS k first');
    assert.equal(p.link, out);
    assert.equal(((b['image/svg+xml'] as string).match(/<polyline/g) ?? []).length, 5 + 2, 'k = 1: DAS, identity, random, full, probe; task and held-out accuracy');
    assert.match(b['text/plain'] as string, /up-down count at blocks\.0\.state, step 12: task accuracy [\d.]+; IIA das k1 /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function small(): DasPanelData {
  return {
    steps: [0, 10, 100],
    groups: [
      {
        program: 'up-down',
        variables: 'count',
        site: 'blocks.0.state',
        series: [
          { k: 1, method: 'das', iia: [0.1, 0.5, 0.99] },
          { k: 1, method: 'identity', iia: [0.1, 0.1, 0.2] },
          { k: 8, method: 'full', iia: [1, 1, 1] },
        ],
        taskAccuracy: [0, 0.4, NaN],
      },
    ],
  };
}

test('dasPanelPayload: schema-valid, nulls for NaN; bad input is a GroundlabError naming what is wrong', () => {
  const p = dasPanelPayload(small());
  assert.deepEqual(validate(DAS_SCHEMA, JSON.parse(JSON.stringify(p))), []);
  assert.deepEqual(unsupportedKeywords(DAS_SCHEMA), []);
  assert.deepEqual(p.groups[0].taskAccuracy, [0, 0.4, null]);
  assert.deepEqual(p.groups[0].heldoutAccuracy, [null, null, null]);
  assert.deepEqual(p.initial, { group: 0, k: 1 });
  assert.equal(p.initialStep, 100);
  const g = small().groups[0];
  const cases: [Partial<DasPanelData>, RegExp][] = [
    [{ steps: [10, 0, 100] }, /strictly ascending/],
    [{ groups: [] }, /no groups given/],
    [{ groups: [g, g] }, /given twice/],
    [{ groups: [{ ...g, series: [{ k: 1, method: 'pca' as never, iia: [0, 0, 0] }] }] }, /unknown method/],
    [{ groups: [{ ...g, series: [{ k: 1, method: 'das', iia: [0, 1.5, 0] }] }] }, /IIA 1.5 is outside \[0, 1\]/],
    [{ groups: [{ ...g, series: [{ k: 1, method: 'das', iia: [0, 1] }] }] }, /has 2 values, steps has 3/],
    [{ initial: { k: 4 } }, /initial.k 4 has no DAS series/],
    [{ initial: { group: 2 } }, /initial.group 2 is not a group index/],
  ];
  for (const [patch, re] of cases)
    assert.throws(() => dasPanelPayload({ ...small(), ...patch }), (e: unknown) => isGroundlabError(e) && re.test((e as Error).message), String(re));
  const errs = validate(DAS_SCHEMA, { ...p, groups: [{ ...p.groups[0], series: [{ ...p.groups[0].series[0], method: 'x' }] }] });
  assert.ok(errs.some((e) => /^\/groups\/0\/series\/0\/method: must be one of/.test(e)), JSON.stringify(errs));
});
