import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { judgeClaims, writeReport, ablationTable, architectureRows } from '../../src/reproduce/report';
import { overSeeds, type RunTables, type Row } from '../../src/reproduce/collect';
import { architectureAblations, detailSteps, noiseSteps, reproducePlan } from '../../src/reproduce/plan';
import { expandCells } from '../../src/sweep/spec';

/** A run with G rising (or flat) over steps 0..3, and optional heads / ablation rows. */
function fakeRun(label: string, seed: number, gains: number[], extra: Partial<Record<string, Row[]>> = {}): RunTables {
  const group = label.includes('(') ? 'other' : 'main';
  const gain_summary = gains.map((g, step) => ({ step, gain: g + seed * 0.01, match: 5 - g, mismatch: 5, ci_lo: g - 0.1, ci_hi: g + 0.1 }));
  return { group, cell: `${label}_s${seed}`, label, arch: label.split(' ')[0], seed, dir: '/nowhere', steps: gains.map((_, i) => i), tables: { gain_summary, gain: [], cooccurrence: [], saliency: [], head_counts: [], heads: [], lens: [], ablation: [], ...extra } };
}

test('overSeeds averages over seeds with a t interval, per label and step', () => {
  const runs = [fakeRun('transformer', 0, [0, 1]), fakeRun('transformer', 1, [0, 1])];
  const rows = overSeeds(runs, 'gain_summary', 'gain');
  assert.equal(rows.length, 2);
  assert.ok(Math.abs(Number(rows[1].mean) - 1.005) < 1e-12);
  assert.equal(rows[1].n, 2);
  assert.ok(Number(rows[1].lo) < 1.005 && Number(rows[1].hi) > 1.005);
});

test('claims: a grounded Transformer agrees, a flat LSTM agrees with "no gap", a flat Mamba-2 disagrees', () => {
  const runs = [
    fakeRun('transformer', 0, [0, 0.5, 2, 3]),
    fakeRun('transformer', 1, [0, 0.6, 2.2, 3.1]),
    fakeRun('mamba2', 0, [0, 0, 0, 0]),
    fakeRun('mamba2', 1, [0, 0.001, -0.001, 0]),
    fakeRun('lstm', 0, [0, 0.01, -0.01, 0.0]),
    fakeRun('lstm', 1, [0, -0.01, 0.01, -0.02]),
  ];
  const byId = Object.fromEntries(judgeClaims(runs).map((c) => [c.id, c]));
  assert.equal(byId['gap-transformer'].verdict, 'agrees');
  assert.match(byId['gap-transformer'].measured, /G = 3\.05 nats \(95% CI/);
  assert.equal(byId['gap-mamba2'].verdict, 'disagrees');
  assert.equal(byId['gap-lstm'].verdict, 'agrees');
  assert.equal(byId['ablation-aggregate'].verdict, 'not measured');
});

test('open checks: reported (not judged) when they have a run, not measured without one', () => {
  const byId = Object.fromEntries(judgeClaims([fakeRun('lstm', 0, [0, 0, 0.5]), fakeRun('lstm (residual)', 0, [0, 1, 3])]).map((c) => [c.id, c]));
  const open2 = Object.values(byId).find((c) => c.paper.startsWith('Open check 2'))!;
  assert.equal(open2.verdict, 'reported');
  assert.match(open2.measured, /G = 3\.00 nats .* default setup: 0\.50/);
  assert.equal(Object.values(byId).find((c) => c.paper.startsWith('Open check 3'))!.verdict, 'not measured');
});

test('ablation claim: significant in every seed agrees; one seed above 0.001 is only partly', () => {
  const ab = (p: number) => [{ step: 3, kind: 'aggregate', heads: 2, mean_layer: 1, ablated: 6.5, control: 5.3, intact: 5.3, p_t: p }];
  const agree = judgeClaims([fakeRun('transformer', 0, [0, 1, 2, 3], { ablation: ab(1e-5) }), fakeRun('transformer', 1, [0, 1, 2, 3], { ablation: ab(1e-6) })]);
  assert.equal(agree.find((c) => c.id === 'ablation-aggregate')!.verdict, 'agrees');
  const partly = judgeClaims([fakeRun('transformer', 0, [0, 1, 2, 3], { ablation: ab(1e-5) }), fakeRun('transformer', 1, [0, 1, 2, 3], { ablation: ab(0.02) })]);
  assert.equal(partly.find((c) => c.id === 'ablation-aggregate')!.verdict, 'partly');
  const t = ablationTable([fakeRun('transformer', 0, [0], { ablation: ab(1e-5) })], 'transformer', 'aggregate');
  assert.deepEqual([t[0].ablated, t[0].control, t[0].p_text], [6.5, 5.3, '< 0.001']);
});

test('writeReport writes REPORT.md, figures (SVG + PNG) and tables (Markdown + CSV)', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-report-'));
  const runs = [fakeRun('transformer', 0, [0, 1, 2, 3]), fakeRun('lstm', 0, [0, 0, 0, 0]), fakeRun('lstm', 1, [0, 0, 0, 0])];
  runs[0].timing = { trainSec: 600, cellSec: 900, stageSec: { train: 620, eval: 100, analyze: 180 }, attempts: 2 };
  runs[1].timing = { trainSec: 300, cellSec: 360, attempts: 1 }; // trained before stage times were recorded
  // trained outside the sweep (`groundlab train` into the cell's folder); the sweep only resumed it, then evaluated and analysed
  runs[2].timing = { trainSec: 1200, cellSec: 100, stageSec: { train: 5, eval: 50, analyze: 40 }, attempts: 1 };
  const res = await writeReport(out, runs, { preset: 'tiny', wallSec: 60, command: 'groundlab reproduce --preset tiny' });
  const report = fs.readFileSync(res.report, 'utf8');
  assert.match(report, /\| claim \(paper\) \| measured here \| verdict \| rule \|/);
  assert.ok(res.figures.includes('gain-by-architecture'));
  for (const f of res.figures) {
    assert.match(fs.readFileSync(path.join(out, 'figures', `${f}.svg`), 'utf8'), /<svg/);
    assert.deepEqual([...fs.readFileSync(path.join(out, 'figures', `${f}.png`)).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  }
  assert.match(fs.readFileSync(path.join(out, 'tables', 'final-gain.csv'), 'utf8'), /^setting,step,gain/);
  // The cost table: per run, stage minutes where recorded, and the sum of the runs' times in the header.
  assert.match(report, /the runs' own times .* add up to 42\.5 min/);
  assert.match(report, /\| main\/transformer_s0 \| 3 \| 10\.33 \| 1\.67 \| 3 \| 15 \| 2 \|/);
  assert.match(report, /\| main\/lstm_s0 \| 3 \| 5 \|  \|  \| 6 \| 1 \|/);
  assert.match(report, /\| main\/lstm_s1 \| 3 \| 20 \| 0\.83 \| 0\.67 \| 21\.50 \| 1 \|/);
});

test('the plan: main comparison over seeds, open checks, noise and dialogue as sweeps; ~5 detail checkpoints', () => {
  const specs = reproducePlan({ preset: 'quick', out: '/tmp/x' });
  assert.deepEqual(specs.map((s) => path.relative('/tmp/x', s.out)), ['main', 'checks/residual-lstm', 'checks/shared-vocab', 'noise', 'dialogue', 'architectures/archs', 'architectures/ablations', 'architectures/one-layer', 'emergence/settings', 'emergence/knobs']);
  // emergence: the three architectures on the realistic setting (simple is the main runs'), and on simple with each noise knob alone; G only
  assert.deepEqual(noiseSteps(), ['pUnnamed=0.25', 'pNoEnv=0.2', 'distractors=2,pNameDistractor=0.25', 'pAbsent=0.15', 'maxDistance=3', 'topics=2', 'zipf=0.5', 'namingSpread=1']);
  assert.deepEqual(expandCells(specs[8]).map((c) => c.name), ['transformer_realistic_s0', 'mamba2_realistic_s0', 'lstm_realistic_s0']);
  assert.deepEqual(expandCells(specs[9]).map((c) => [c.flags.arch, c.flags.knob, c.flags.corpus]).slice(0, 2), [['transformer', 'pUnnamed=0.25', 'simple'], ['transformer', 'pNoEnv=0.2', 'simple']]);
  for (const s of specs.slice(8)) assert.deepEqual(s.analyses.map((a) => a.name), ['eval']);
  // medium: the main comparison over 3 seeds and the open checks by default
  const medium = reproducePlan({ preset: 'medium', out: '/tmp/x' });
  assert.deepEqual(medium.map((s) => path.relative('/tmp/x', s.out)), ['main', 'checks/residual-lstm', 'checks/shared-vocab']);
  assert.equal(expandCells(medium[0]).length, 9);
  // medium's main runs are on the realistic corpus: the noise group is the main comparison itself,
  // and the emergence sweep reads its realistic row from the main runs' first seed, training simple
  const mediumNoise = reproducePlan({ preset: 'medium', out: '/tmp/x', groups: ['noise'] });
  assert.deepEqual(mediumNoise.map((s) => path.relative('/tmp/x', s.out)), ['main']);
  assert.equal(expandCells(mediumNoise[0]).length, 9);
  const mediumEm = reproducePlan({ preset: 'medium', out: '/tmp/x', groups: ['emergence'] });
  assert.deepEqual(mediumEm.map((s) => path.relative('/tmp/x', s.out)), ['main', 'emergence/settings', 'emergence/knobs']);
  assert.deepEqual(expandCells(mediumEm[0]).map((c) => c.name), ['transformer_s0', 'mamba2_s0', 'lstm_s0']);
  assert.deepEqual(expandCells(mediumEm[1]).map((c) => c.name), ['transformer_simple_s0', 'mamba2_simple_s0', 'lstm_simple_s0']);
  assert.deepEqual(mediumEm[0].analyses.map((a) => a.name), ['eval', 'analyze'], 'the main runs keep every analysis');
  assert.equal(expandCells(specs[0]).length, 9); // 3 architectures x 3 seeds
  // noise: the main comparison on the realistic corpus, same seeds; the existing Transformer run keeps its folder name
  assert.deepEqual(expandCells(specs[3]).map((c) => c.name).slice(0, 4), ['transformer_realistic_s0', 'transformer_realistic_s1', 'transformer_realistic_s2', 'mamba2_realistic_s0']);
  // architectures: GRU and GLA; seven ingredients removed; softmax kept in each of the 4 layers
  assert.deepEqual(expandCells(specs[5]).map((c) => c.name), ['gru_s0', 'gla_s0']);
  assert.equal(expandCells(specs[6]).length, 7);
  assert.deepEqual(expandCells(specs[7]).map((c) => c.flags.model), ['mixing=softmax/none/none/none', 'mixing=none/softmax/none/none', 'mixing=none/none/softmax/none', 'mixing=none/none/none/softmax']);
  assert.deepEqual(architectureAblations('tiny').oneLayer, ['mixing=softmax/none', 'mixing=none/softmax']);
  for (const s of specs.slice(6, 8)) for (const c of expandCells(s)) assert.equal(c.flags.arch, 'transformer');
  const d = detailSteps('quick');
  assert.ok(d.length >= 4 && d.length <= 5 && d[d.length - 1] === 1500, String(d));
  assert.throws(() => reproducePlan({ preset: 'huge' as 'tiny', out: '/tmp/x' }), /unknown preset "huge"/);
});

test('architectures: one row per setting with G and its interval (over nouns for one seed), share of the Transformer, heads, ablation; the no-mixing claim', () => {
  const arch = (label: string, gains: number[], extra: Partial<Record<string, Row[]>> = {}) => ({ ...fakeRun(label, 0, gains, extra), group: label === 'gru' ? 'architectures/archs' : 'architectures/ablations' });
  const heads = [{ step: 3, aggregate_heads: 2, gather_heads: 1 }];
  const ab = [{ step: 3, kind: 'aggregate', heads: 2, mean_layer: 1, ablated: 6.5, control: 5.3, intact: 5.3, p_t: 1e-4 }];
  const runs = [fakeRun('transformer', 0, [0, 1, 2, 3], { head_counts: heads, ablation: ab }), fakeRun('transformer', 1, [0, 1, 2, 3]), arch('gru', [0, 0, 0, 0.02]), arch('transformer (mixing=none)', [0, 0, 0, 0])];
  const rows = architectureRows(runs);
  assert.deepEqual(rows.map((r) => r.setting), ['transformer', 'gru', 'transformer (mixing=none)']);
  assert.equal(rows[0].ci_over, '2 seeds');
  assert.deepEqual([rows[0].aggregate_heads, rows[0].gather_heads, rows[0].ablated, rows[0].control, rows[0].p], [2, 1, 6.5, 5.3, '< 0.001']);
  assert.equal(rows[1].ci_over, 'nouns');
  assert.ok(Math.abs(Number(rows[1].lo) - (0.02 - 0.1)) < 1e-12 && Math.abs(Number(rows[1].hi) - 0.12) < 1e-12, 'one seed: the CI over nouns of its gain_summary row');
  assert.ok(Math.abs(Number(rows[1].share) - 0.02 / 3.005) < 1e-9);
  const claim = (rs: RunTables[]) => judgeClaims(rs).find((c) => c.id === 'no-mixing')!;
  assert.equal(claim(runs).verdict, 'agrees');
  assert.equal(claim([arch('transformer (mixing=none)', [0, 0.1, 0.2, 0.3])]).verdict, 'disagrees');
  assert.equal(claim([]).verdict, 'not measured');
});

test("REPORT.md's analysis sections are the registry's reproduce sections, in registry order, with their tables written", async () => {
  const { REGISTRY } = await import('../../src/analysis/analyses');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-report-'));
  const ab = [{ step: 3, kind: 'aggregate', heads: 2, mean_layer: 1, ablated: 6.5, control: 5.3, intact: 5.3, p_t: 1e-5 }];
  const hc = [{ step: 3, aggregate_heads: 2, aggregate_mean_layer: 0.5, gather_heads: 0, gather_mean_layer: NaN }];
  const pt = [
    { step: 3, path: 'gather->aggregate', sender: '', receiver: 'L0H0', note: 'the aggregate head is in layer 0: no head precedes it (it reads the embeddings)' },
    { step: 3, path: 'gather->aggregate', sender: '', receiver: 'L0H2', note: 'the aggregate head is in layer 0: no head precedes it (it reads the embeddings)' },
    { step: 3, path: 'aggregate->mlp', sender: 'L0H0', receiver: 'L0.mlp', rule: 'aggregate head', effect: 6.1, control: 0.3, controls: 2, rank: 1, p_t: 1e-20, p_wilcoxon: 1e-10, note: '' },
    { step: 3, path: 'aggregate->mlp', sender: 'L0H0', receiver: 'L1.mlp', rule: 'aggregate head', effect: 0.2, control: 0, controls: 6, rank: 1, p_t: 1e-20, p_wilcoxon: 1e-10, note: '' },
    { step: 4, path: 'gather->aggregate', sender: 'L0H3', receiver: 'L2H3.v', rule: 'top gather share of layer 0', effect: 0.001, control: 0, controls: 5, rank: 3, p_t: 0.8, p_wilcoxon: 0.3, note: '' },
  ];
  const res = await writeReport(out, [fakeRun('transformer', 0, [0, 1, 2, 3], { ablation: ab, head_counts: hc, path_test: pt })], { preset: 'tiny', wallSec: 1, command: 'x' });
  const report = fs.readFileSync(res.report, 'utf8');
  const titles = REGISTRY.flatMap((a) => (a.reproduce ? [a.reproduce.title] : []));
  assert.ok(titles.includes('Head counts (Transformer)') && titles.includes('Ablation table (Transformer, paper format)'));
  const at = titles.map((t) => report.indexOf(`## ${t}\n`));
  assert.ok(at.every((i) => i > 0), `every section heading is in REPORT.md: ${titles.join(', ')}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, 'in registry order');
  assert.match(report, /\| 3 \| 2 \| 1 \| 6\.50 \| 5\.30 \| 5\.30 \| < 0\.001 \|/);
  // a table with show: false is written, not shown
  assert.ok(res.tables.includes('ablation-gather') && fs.existsSync(path.join(out, 'tables', 'ablation-gather.md')));
  assert.ok(!report.includes('no heads |'), 'the gather ablation table is not in REPORT.md');
  // the path test: layer-0 notes merged per checkpoint, the largest aggregate -> MLP path per head, the fallback sender named, a counted verdict
  assert.match(report, /\| transformer \| 0 \| 3 \| gather->aggregate \|  \| L0H0, L0H2 \|  \|  \|  \|  \|  \| the aggregate heads are in layer 0/);
  assert.match(report, /\| aggregate->mlp \| L0H0 \| L0\.mlp \| 6\.10 \| 0\.30 \| 1 of 3 \| 1e-20 \|/);
  assert.ok(!report.includes('| L1.mlp |'), 'only the largest MLP path per head is shown');
  assert.match(report, /L0H3 \(top gather share of layer 0\) \| L2H3\.v \| 0\.00 \| 0 \| 3 of 6 \| 0\.800/);
  assert.match(report, /\*\*Verdict, gather -> aggregate:\*\* 2 of 2 analysed checkpoints have aggregate heads; at 1 of them every aggregate head is in layer 0.* 1 gather -> aggregate paths could be tested \(1 senders, 0 of them above the gather threshold\): 0 beat/);
  assert.match(report, /\*\*Aggregate head -> MLP\*\* \(the largest per head and checkpoint\): 6\.10 to 6\.10 nats against 0\.30 to 0\.30 .*; 1 of 1 significant/);
});

test('the main claims are judged again on the realistic corpus when the noise group ran', async () => {
  const noisy = (arch: string, seed: number, gains: number[]) => ({ ...fakeRun(`${arch} (realistic corpus)`, seed, gains), group: 'noise', arch });
  const runs = [fakeRun('transformer', 0, [0, 1, 2, 3]), fakeRun('transformer', 1, [0, 1, 2, 3]), noisy('transformer', 0, [0, 0, 0.5, 1]), noisy('transformer', 1, [0, 0, 0.4, 0.9]), noisy('lstm', 0, [0, 0, 0, 0]), noisy('lstm', 1, [0, 0.01, -0.01, 0])];
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-report-realistic-'));
  const res = await writeReport(out, runs, { preset: 'tiny', wallSec: 1, command: 'x' });
  const report = fs.readFileSync(res.report, 'utf8');
  const section = report.slice(report.indexOf('## The same claims on the realistic corpus'));
  assert.ok(report.includes('## The same claims on the realistic corpus'));
  assert.match(section, /Transformers: surprisal[^\n]*G = 0\.96 nats \(95% CI[^\n]*\*\*agrees\*\*/);
  assert.match(section, /unidirectional LSTM shows no match\/mismatch gap[^\n]*\*\*agrees\*\*/);
  assert.ok(!/Caption-grounded/.test(section.slice(0, section.indexOf('\n## ', 5))), 'only the main claims');
  // without the noise group there is no such section
  const res2 = await writeReport(out, runs.slice(0, 2), { preset: 'tiny', wallSec: 1, command: 'x' });
  assert.ok(!fs.readFileSync(res2.report, 'utf8').includes('realistic corpus\n'));
  fs.rmSync(out, { recursive: true, force: true });
});

test('the emergence sweep at tiny (a smoke run) has the Transformer only', () => {
  const [main, settings, knobs] = reproducePlan({ preset: 'tiny', out: '/tmp/x', groups: ['emergence'] });
  assert.deepEqual(expandCells(main).map((c) => c.name), ['transformer_s0'], 'the simple row: the main run of the first seed');
  assert.deepEqual(expandCells(settings).map((c) => c.name), ['transformer_realistic_s0']);
  assert.ok(expandCells(knobs).every((c) => c.flags.arch === 'transformer'));
});

test('heads-layers: gather heads lower and no later than aggregate heads agree; one of the two is partly; neither found is not measured', () => {
  const hc = (rows: Array<[number, number, number, number, number]>) =>
    rows.map(([step, g, gl, a, al]) => ({ step, gather_heads: g, gather_mean_layer: g ? gl : NaN, aggregate_heads: a, aggregate_mean_layer: a ? al : NaN }));
  const claim = (rows: Row[]) => judgeClaims([fakeRun('transformer', 0, [0, 1, 2], { head_counts: rows })]).find((c) => c.id === 'heads-layers')!;
  // gather at step 1 in layer 2, aggregate from step 2 in layer 6; the last step has no gather heads: the last step with both counts
  const ok = claim(hc([[0, 0, 0, 0, 0], [1, 2, 2, 0, 0], [2, 1, 2, 3, 6], [3, 0, 0, 3, 7]]));
  assert.equal(ok.verdict, 'agrees');
  assert.match(ok.measured, /gather heads 2\.00, of aggregate heads 6\.00 at step 2; first analysed step with gather heads 1, with aggregate heads 2/);
  assert.equal(claim(hc([[0, 0, 0, 0, 0], [1, 0, 0, 2, 6], [2, 1, 2, 3, 6]])).verdict, 'partly', 'lower but later');
  assert.equal(claim(hc([[0, 0, 0, 0, 0], [1, 0, 0, 2, 1], [2, 1, 3, 3, 1]])).verdict, 'disagrees', 'higher and later');
  const none = claim(hc([[0, 0, 0, 0, 0], [1, 0, 0, 2, 1]]));
  assert.equal(none.verdict, 'not measured');
  assert.match(none.measured, /gather heads: none; with aggregate heads: 1/);
});

test('the path verdict says by how much the significant gather -> aggregate paths beat their controls', async () => {
  const { pathVerdict } = await import('../../src/analysis/analyses/paths');
  const ga = (sender: string, effect: number, control: number, p: number) => ({ step: 5, path: 'gather->aggregate', sender, receiver: 'L8H1.v', rule: 'top gather share of layer 0', effect, control, controls: 5, rank: 1, p_t: p, p_wilcoxon: p, note: '' });
  const lines = pathVerdict([{ group: 'main', label: 'transformer', seed: 0, tables: { path_test: [ga('L0H1', 0.004, -0.001, 1e-9), ga('L1H0', 0.012, 0.002, 1e-5), ga('L2H2', 0.5, 0.1, 0.2)] } }]);
  assert.match(lines[0], /3 gather -> aggregate paths could be tested \(3 senders, 0 of them above the gather threshold\): 2 beat their control paths \(p < 0\.001 and a larger effect\), by 0\.005 to 0\.010 nats \(effect minus control; the largest effect of any of them 0\.012 nats\)\./);
});

test('lens-middle: where the tuned lens first reaches half of the final G decides; the measured text also names the block where it is largest', () => {
  const lens = (gains: number[]) => gains.map((gain, layer) => ({ step: 3, lens: 'tuned', layer, gain }));
  const claim = (gains: number[]) => judgeClaims([fakeRun('transformer', 0, [0, 1, 2, 3], { lens: lens(gains) })]).find((c) => c.id === 'lens-middle')!;
  const early = claim([0, 4, 3.7, 5.05, 3.6, 3.59]);
  assert.equal(early.verdict, 'partly');
  assert.match(early.measured, /half of the final G is reached after block 1 of 5; the largest, 5\.05, after block 3/);
  assert.equal(claim([0, 0.1, 0.2, 2, 3, 4, 4.1]).verdict, 'agrees');
  assert.equal(claim([0, 0, 0, 0, 0, 0, 4]).verdict, 'disagrees');
});
