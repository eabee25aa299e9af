import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { reproducePlan, DEFAULT_GROUPS } from '../../src/reproduce/plan';
import { expandCells } from '../../src/sweep/spec';
import { bindingComparison, bindingReportSection } from '../../src/reproduce/binding';

test('reproduce group binding: 3 positions x 2 layouts x pointing x 3 seeds, groundlab binding on each; asked for by name only', () => {
  const [spec, ...rest] = reproducePlan({ preset: 'quick', out: '/tmp/groundlab-rq', groups: ['binding'] });
  assert.equal(rest.length, 0);
  const cells = expandCells(spec);
  assert.equal(cells.length, 3 * 2 * 2 * 3);
  assert.deepEqual(spec.analyses.map((a) => a.name), ['binding']);
  const models = new Set(cells.map((c) => String(c.params.model).split(',')[0]));
  assert.deepEqual([...models], ['positional=learned', 'positional=rope', 'positional=none']);
  const knobs = [...new Set(cells.map((c) => String(c.params.knob)))];
  assert.equal(knobs.length, 4);
  assert.ok(knobs.every((k) => k.includes('variant=image')));
  assert.equal(knobs.filter((k) => k.includes('layout=shuffled')).length, 2);
  assert.equal(knobs.filter((k) => k.includes('where')).length, 2);
  assert.deepEqual([...new Set(cells.map((c) => c.params.seed))], [0, 1, 2]);
  for (const p of ['tiny', 'quick', 'medium', 'paper'] as const) assert.ok(!DEFAULT_GROUPS[p].includes('binding'), p);
});

test('binding report section: mean and interval over seeds per condition from the runs\' analysis/binding tables', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { train, openRun } = await import('../../src/train');
  const { bindingRun } = await import('../../src/analysis/binding');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'binding-group-'));
  try {
    const runs = [];
    for (const seed of [0, 1]) {
      const out = path.join(dir, `s${seed}`);
      await train({ out, arch: 'transformer', preset: 'tiny', steps: 2, seqLen: 24, seed, model: { positional: 'rope' }, corpus: { kind: 'binding', knobs: { variant: 'image', grid: 3, maxObjects: 3, sequences: 32, layout: 'shuffled', queries: 'colour/shape/where' } } });
      await bindingRun(await openRun(out), { pairs: 4, perCount: 4 });
      runs.push({ group: 'binding', cell: `s${seed}`, label: 'transformer', arch: 'transformer', seed, dir: out, steps: [2], tables: {} });
    }
    runs.push({ group: 'main', cell: 'x', label: 'transformer', arch: 'transformer', seed: 0, dir: path.join(dir, 'none'), steps: [], tables: {} });
    const { perRun, rows } = await bindingComparison(runs);
    assert.equal(perRun.length, 2);
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0].positional, rows[0].layout, rows[0].pointing, rows[0].seeds], ['rope', 'shuffled', 'with', 2]);
    assert.match(String(rows[0].accuracy), /^\d\.\d{3} \[-?\d\.\d{3}, \d\.\d{3}\]$/);
    const tabs: string[] = [];
    const tabDir = path.join(dir, 'tables');
    fs.mkdirSync(tabDir);
    const lines = await bindingReportSection(runs, async (name, rs, cols) => {
      tabs.push(name);
      fs.writeFileSync(path.join(tabDir, `${name}.md`), `| ${cols.map((c) => c[1]).join(' | ')} |\n${rs.length} rows\n`);
    }, tabDir);
    assert.deepEqual(tabs, ['binding', 'binding-runs']);
    assert.match(lines.join('\n'), /position IDs from position embeddings or from the data/);
    assert.deepEqual(await bindingReportSection(runs.slice(2), async () => undefined, tabDir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
