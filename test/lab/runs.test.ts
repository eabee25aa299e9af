/**
 * labRuns: a notebook asks only for the runs it reads (`archs`), and in a notebook it always shows
 * its progress. Trains one tiny Transformer (with its analyses) into a temporary folder.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { labRuns, pickRun } from '../../src/lab';
import { setKernelBridge, type KernelBridge, type NotebookBundle } from '../../src/notebook';
import { isGroundlabError } from '../../src/errors';
import { train, openRun, formatProgress, type ProgressEvent } from '../../src/train';
import { evalRun } from '../../src/analysis';
import { analysisOptions } from '../../src/reproduce/plan';
import { reproduce } from '../../src/reproduce/run';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-labruns-'));
after(() => {
  setKernelBridge(undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('labRuns({ archs: ["transformer"] }) trains only the Transformer of the group, with a progress bar in a notebook', { timeout: 600_000 }, async () => {
  const shown: { bundle: NotebookBundle; update: boolean }[] = [];
  const bridge: KernelBridge = {
    version: 2,
    kernel: 'fake',
    display: (bundle, o = {}) => shown.push({ bundle, update: !!o.update }),
    newDisplayId: () => 'p',
    signal: () => new AbortController().signal,
  };
  setKernelBridge(bridge);
  const prev = process.env.GROUNDLAB_RUNS;
  process.env.GROUNDLAB_RUNS = dir;
  try {
    const runs = await labRuns({ preset: 'tiny', groups: ['main'], archs: ['transformer'], jobs: 1 });
    assert.deepEqual(runs.map((r) => r.label), ['transformer']);
    assert.ok(pickRun(runs, 'transformer').tables.gain.length > 0, 'analysed');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'main')).filter((f) => !f.startsWith('_') && !f.endsWith('.json')).sort(), ['transformer_s0']);
  } finally {
    if (prev === undefined) delete process.env.GROUNDLAB_RUNS;
    else process.env.GROUNDLAB_RUNS = prev;
  }
  // Asked again, a run already trained and analysed says so instead of "0 tok/s, done in 0.1 s".
  const events: ProgressEvent[] = [];
  const dirT = path.join(dir, 'main', 'transformer_s0');
  const res = await train({ out: dirT, arch: 'transformer', preset: 'tiny', seed: 0, onProgress: (e) => events.push(e) });
  assert.equal(res.sessionSteps, 0);
  assert.deepEqual(events.at(-1), { task: 'train', step: 30, total: 30, loss: events.at(-1)!.loss, tokensPerSec: undefined, done: true, message: 'already trained to step 30: nothing to do' });
  assert.match(formatProgress(events.at(-1)!), /^train 30\/30  100%  loss \d\.\d{4}  already trained to step 30: nothing to do$/);
  await evalRun(await openRun(dirT), { ...analysisOptions('tiny'), onProgress: (e) => events.push(e) });
  assert.equal(events.at(-1)!.message, 'already done: every analysis was up to date');
  const texts = shown.map((s) => String(s.bundle.data['text/plain']));
  assert.ok(texts.length >= 2, `progress shown without being asked for: ${texts.join(' | ')}`);
  assert.match(texts[texts.length - 1], /^reproduce 1\/1 +100% .*1\/1 runs done/);
  assert.match(String(shown[0].bundle.data['text/html']), /groundlab-progress/);
});

test('reproduce({ train: false }) reports on the runs that are done and trains nothing', { timeout: 120_000 }, async () => {
  // The first test left main/transformer_s0 done; a run with only a config (as one in training) is left out.
  const half = path.join(dir, 'main', 'lstm_s0');
  fs.mkdirSync(half, { recursive: true });
  fs.copyFileSync(path.join(dir, 'main', 'transformer_s0', 'config.json'), path.join(half, 'config.json'));
  fs.copyFileSync(path.join(dir, 'main', 'transformer_s0', 'tokenizer.json'), path.join(half, 'tokenizer.json'));
  const before = fs.readdirSync(path.join(dir, 'main')).sort();
  const res = await reproduce({ preset: 'tiny', out: dir, groups: ['main'], seeds: [0], train: false, log: () => {} });
  assert.deepEqual(res.runs.map((r) => r.cell), ['transformer_s0']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'main')).sort(), before, 'nothing trained');
  assert.ok(fs.readFileSync(res.report!, 'utf8').startsWith('# groundlab reproduce --preset tiny'));
  fs.rmSync(half, { recursive: true, force: true });
});

test('a report archives its runs; a later report reads a run whose folder is gone from the archive (its own or --merge)', { timeout: 120_000 }, async () => {
  const first = await reproduce({ preset: 'tiny', out: dir, groups: ['main'], seeds: [0], train: false, log: () => {} });
  const file = path.join(dir, 'archive', 'main', 'transformer_s0.json');
  assert.deepEqual(first.archive, [file]);
  const archived = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(archived.format, 'groundlab-run-tables/1');
  assert.ok(archived.tables.gain_summary.length > 0 && !('dir' in archived));
  const tables = (d: string) => fs.readFileSync(path.join(d, 'tables', 'final-gain.md'), 'utf8') + fs.readFileSync(path.join(d, 'tables', 'runs.md'), 'utf8');
  const runDir = path.join(dir, 'main', 'transformer_s0');
  assert.equal(archived.done, true);
  // The folder is there but its cell is not done (training again, failed): the archived run stands in.
  const stateFile = path.join(dir, 'main', '_sweep', 'transformer_s0.json');
  const state = fs.readFileSync(stateFile, 'utf8');
  fs.writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(state), state: 'failed' }));
  try {
    const stood = await reproduce({ preset: 'tiny', out: dir, groups: ['main'], seeds: [0], train: false, log: () => {} });
    assert.deepEqual(stood.runs.map((r) => [r.cell, r.archived, r.done]), [['transformer_s0', file, true]]);
    // An archive of an unfinished run does not stand in for a folder: nothing finished to report.
    fs.writeFileSync(file, JSON.stringify({ ...archived, done: false }));
    const none = await reproduce({ preset: 'tiny', out: dir, groups: ['main'], seeds: [0], train: false, log: () => {} });
    assert.deepEqual(none.runs, []);
  } finally {
    fs.writeFileSync(stateFile, state);
    fs.writeFileSync(file, JSON.stringify(archived));
  }
  const away = path.join(dir, 'moved-away');
  fs.renameSync(runDir, away);
  try {
    // The folder is gone: the report's own archive stands in for it, with the same tables.
    const again = await reproduce({ preset: 'tiny', out: dir, groups: ['main'], seeds: [0], train: false, log: () => {} });
    assert.deepEqual(again.runs.map((r) => [r.cell, r.archived]), [['transformer_s0', file]]);
    assert.match(fs.readFileSync(again.report!, 'utf8'), /Read from an archive in this report .*main\/transformer_s0 \(archive\/main\/transformer_s0\.json\)/);
    // Another report folder with no runs of its own merges this one's archive.
    const other = path.join(dir, 'other-report');
    const merged = await reproduce({ preset: 'tiny', out: other, groups: ['main'], seeds: [0], train: false, merge: [dir], log: () => {} });
    assert.deepEqual(merged.runs.map((r) => r.cell), ['transformer_s0']);
    assert.equal(tables(other), tables(dir));
    assert.deepEqual(merged.claims!.map((c) => [c.id, c.verdict, c.measured]), first.claims!.map((c) => [c.id, c.verdict, c.measured]));
    await assert.rejects(
      reproduce({ preset: 'tiny', out: other, groups: ['main'], seeds: [0], train: false, merge: [path.join(dir, 'nope')], log: () => {} }),
      (e: unknown) => isGroundlabError(e) && e.code === 'NOT_FOUND' && /--merge .*nope: no run archive there/.test(e.message),
    );
    fs.writeFileSync(file, '{"format": "something-else"}');
    await assert.rejects(
      reproduce({ preset: 'tiny', out: dir, groups: ['main'], seeds: [0], train: false, log: () => {} }),
      (e: unknown) => isGroundlabError(e) && e.code === 'BAD_FILE' && e.message.startsWith(file) && /format something-else/.test(e.message),
    );
  } finally {
    fs.renameSync(away, runDir);
    fs.writeFileSync(file, JSON.stringify(archived));
  }
});

test('labRuns({ merge }) reads runs archived in a report folder and trains none of them; weights: true trains', { timeout: 120_000 }, async () => {
  // `dir` holds a report with its archive (the tests above); a fresh runs folder has no run at all.
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-labmerge-'));
  const prevRuns = process.env.GROUNDLAB_RUNS;
  const prevMerge = process.env.GROUNDLAB_MERGE;
  process.env.GROUNDLAB_RUNS = fresh;
  process.env.GROUNDLAB_MERGE = ` ${dir} ,`;
  try {
    const seen: ProgressEvent[] = [];
    const runs = await labRuns({ preset: 'tiny', groups: ['main'], archs: ['transformer'], jobs: 1, onProgress: (e) => seen.push(e) });
    assert.equal(seen.at(-1)!.total, 0, 'no run to train');
    assert.deepEqual(runs.map((r) => [r.cell, r.archived]), [['transformer_s0', path.join(dir, 'archive', 'main', 'transformer_s0.json')]]);
    assert.ok(pickRun(runs, 'transformer').tables.gain.length > 0);
    const trained = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => !f.startsWith('_') && !f.endsWith('.json')) : []);
    assert.deepEqual(trained(path.join(fresh, 'main')), [], 'nothing trained');
    // A notebook that opens checkpoints cannot use an archive: the run is trained (stopped at once here).
    const ac = new AbortController();
    ac.abort();
    const asked: ProgressEvent[] = [];
    await assert.rejects(
      labRuns({ preset: 'tiny', groups: ['main'], archs: ['transformer'], jobs: 1, weights: true, signal: ac.signal, onProgress: (e) => asked.push(e) }),
      (e: unknown) => isGroundlabError(e) && e.code === 'ABORTED',
    );
    assert.equal(asked.at(-1)!.total, 1, 'the run is to train');
  } finally {
    if (prevRuns === undefined) delete process.env.GROUNDLAB_RUNS;
    else process.env.GROUNDLAB_RUNS = prevRuns;
    if (prevMerge === undefined) delete process.env.GROUNDLAB_MERGE;
    else process.env.GROUNDLAB_MERGE = prevMerge;
    fs.rmSync(fresh, { recursive: true, force: true });
  }
});

test('labRuns names a bad group or architecture', async () => {
  await assert.rejects(labRuns({ preset: 'tiny', archs: ['gpt' as 'lstm'] }), (e: unknown) => isGroundlabError(e) && /unknown architecture "gpt"/.test(e.message) && /transformer, mamba2, lstm/.test(e.message));
  await assert.rejects(labRuns({ preset: 'tiny', groups: ['mian' as 'main'] }), (e: unknown) => isGroundlabError(e) && /unknown group "mian"/.test(e.message));
});
