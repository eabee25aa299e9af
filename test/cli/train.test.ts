import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { initEngine } from '../../src/engine';
import { readSafetensors } from '../../src/io/safetensors';
import { openRun } from '../../src/train/run';
import { runCli } from './helpers';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-train-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('groundlab train --help lists the options', async () => {
  const r = await runCli(['train', '--help']);
  assert.equal(r.code, 0);
  for (const k of ['--arch <transformer|mamba2|lstm', '--preset <tiny|quick|medium|paper>', '--seed', '--steps', '--out', '--corpus', '--model', '--no-resume']) assert.ok(r.stdout.includes(k), k);
});

test('bad arguments are reported with exit code 1', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', '--arch', 'rnn'], /BAD_ARGUMENT.*--arch "rnn": expected one of transformer, mamba2, lstm/],
    [['train', '--steps', 'ten'], /expected a number/],
    [['train', '--steps', '-1', '--out', path.join(root, 'neg')], /--steps must be from 1 to 10,000,000, got -1/],
    [['train', '--model', 'nLayers'], /expected key=value/],
    [['train', '--stepz', '3'], /unknown option --stepz/],
    [['train', '--preset', 'tiny', '--corpus', 'noisy', '--steps', '1', '--out', path.join(root, 'badcorpus')], /noisy/],
  ];
  for (const [argv, re] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 1, argv.join(' '));
    assert.match(r.stderr, re, argv.join(' '));
  }
});

test('values refused before anything is written (no folder left), with the nearest valid name', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--steps', '0'], /BAD_ARGUMENT.*--steps must be from 1 to 10,000,000, got 0/],
    [['--steps', '1000000000000'], /BAD_ARGUMENT.*--steps must be from 1 to 10,000,000, got 1000000000000/],
    [['--model', 'nlayers=4'], /BAD_ARGUMENT.*unknown transformer model config field "nlayers"[\s\S]*did you mean "nLayers"\?/],
    [['--seed', '9007199254740993'], /BAD_ARGUMENT.*--seed "9007199254740993": beyond 2\^53 - 1/],
    [['--knob', 'pUnamed=0.3'], /unknown synthetic knob "pUnamed"[\s\S]*did you mean "pUnnamed"\?/],
  ];
  for (const [extra, re] of cases) {
    const out = path.join(root, `refused-${extra.join('-').replace(/[^a-z0-9]+/gi, '-')}`);
    const r = await runCli(['train', '--preset', 'tiny', '--out', out, '--quiet', ...extra]);
    assert.equal(r.code, 1, extra.join(' '));
    assert.match(r.stderr, re, extra.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!fs.existsSync(out), `${extra.join(' ')}: nothing written`);
  }
});

test('a model whose first step is not finite: NUMERIC, nothing left; the corrected command then trains in the same folder', async () => {
  const out = path.join(root, 'nonfinite');
  for (const m of ['initStd=1e30', 'lnEps=-1']) {
    const r = await runCli(['train', '--preset', 'tiny', '--steps', '2', '--model', m, '--out', out, '--quiet']);
    assert.equal(r.code, 1, m);
    assert.match(r.stderr, /error \[NUMERIC\]: .*the first training step is not finite/, m);
    assert.ok(!fs.existsSync(out), `${m}: the folder is removed`);
  }
  const ok = await runCli(['train', '--preset', 'tiny', '--steps', '2', '--model', 'initStd=0.02', '--out', out, '--quiet']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('train tiny writes a run that loads back; the same command resumes; conflicting flags are refused', async () => {
  await initEngine({ log: false });
  const out = path.join(root, 'lstm');
  const r = await runCli(['train', '--arch', 'lstm', '--preset', 'tiny', '--steps', '4', '--seed', '2', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /status +completed at step 4\/4/);
  assert.match(r.stdout, /loss +\d+\.\d+ \(step 1\) -> \d+\.\d+ \(step 4\)/);
  const run = await openRun(out);
  assert.equal(run.config.arch, 'lstm');
  assert.equal(run.config.seed, 2);
  assert.deepEqual(run.checkpoints.map((c) => c.step), [0, 1, 2, 3, 4]);
  const model = await run.loadModel();
  assert.equal(model.arch, 'lstm');
  model.dispose();
  const again = await runCli(['train', '--arch', 'lstm', '--preset', 'tiny', '--steps', '4', '--seed', '2', '--out', out, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /resumed from step 4/);
  const bare = await runCli(['train', '--out', out, '--quiet']);
  assert.equal(bare.code, 0, bare.stderr);
  assert.match(bare.stdout, /completed at step 4\/4 \(resumed from step 4\)/);
  const clash = await runCli(['train', '--arch', 'lstm', '--preset', 'tiny', '--steps', '4', '--seed', '3', '--out', out, '--quiet']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /CONFIG_MISMATCH.*seed 2, but 3 was asked for/);
  const nores = await runCli(['train', '--arch', 'lstm', '--preset', 'tiny', '--steps', '4', '--seed', '2', '--out', out, '--no-resume', '--quiet']);
  assert.equal(nores.code, 1);
  assert.match(nores.stderr, /already holds a run/);
});

test('--init-from starts a new run from another run: a curriculum over entity group counts; a bad value or another vocabulary is refused', async () => {
  const a = path.join(root, 'ent-a');
  const knob = (g: number) => ['--corpus-kind', 'binding', '--knob', `variant=entities,minGroups=2,maxGroups=${g},sequences=64`, '--seq-len', '32'];
  const r1 = await runCli(['train', '--preset', 'tiny', '--steps', '3', ...knob(3), '--out', a, '--quiet']);
  assert.equal(r1.code, 0, r1.stderr);
  const b = path.join(root, 'ent-b');
  const r2 = await runCli(['train', '--preset', 'tiny', '--steps', '2', ...knob(6), '--init-from', `${a}@2`, '--out', b, '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  const run = await openRun(b);
  assert.deepEqual(run.config.initFrom, { run: a, step: 2 });
  assert.equal((run.config.corpus.knobs as Record<string, unknown>).maxGroups, 6);
  const [w0, src] = [
    await readSafetensors(path.join(b, 'checkpoints', 'step-000000', 'model.safetensors')),
    await readSafetensors(path.join(a, 'checkpoints', 'step-000002', 'model.safetensors')),
  ];
  for (const [k, t] of src.tensors) assert.deepEqual([...w0.tensors.get(k)!.data], [...t.data], k);
  const shown = await runCli(['runs', b]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /init +the weights of .*ent-a at step 2/);
  const bad = await runCli(['train', '--preset', 'tiny', '--steps', '2', '--init-from', `${a}@`, '--out', path.join(root, 'ent-c')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /BAD_ARGUMENT.*--init-from ".*@": expected a run folder/);
  const vocab = await runCli(['train', '--preset', 'tiny', '--steps', '2', '--init-from', a, '--out', path.join(root, 'ent-d')]);
  assert.equal(vocab.code, 1);
  assert.match(vocab.stderr, /CONFIG_MISMATCH.*another vocabulary/);
  assert.equal(fs.existsSync(path.join(root, 'ent-d')), false);
});

function childCommand(): string[] {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, '..', 'train', `cli-entry${ext}`);
  if (ext === '.ts') {
    const loader = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs');
    return [process.execPath, '--import', 'file://' + loader, entry];
  }
  return [process.execPath, entry];
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) test(`${sig === 'SIGINT' ? 'Ctrl-C (SIGINT)' : 'SIGTERM (kill, a scheduler)'} stops training at the next step, saves a checkpoint and exits 130`, async () => {
  const out = path.join(root, sig.toLowerCase());
  const [cmd, ...pre] = childCommand();
  // A wider model than tiny, so that a step takes long enough (tens of ms even on an idle machine)
  // for 'within a few steps of the signal' to be measurable; tiny steps take ~8 ms.
  const argv = [...pre, 'train', '--arch', 'transformer', '--preset', 'tiny', '--steps', '100000', '--model', 'dModel=256,nHeads=4,dMlp=1024,nLayers=4', '--batch-size', '16', '--out', out];
  const child = spawn(cmd, argv, { env: { ...process.env, GROUNDLAB_TEST_CHILD: '1', GROUNDLAB_QUIET: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // wait until a few steps are done (checkpoints at 0, 1, 2 exist), then interrupt
  const t0 = Date.now();
  while (!fs.existsSync(path.join(out, 'checkpoints', 'step-000002')) && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 10));
  child.kill(sig);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 130, stderr);
  assert.match(stderr, sig === 'SIGINT' ? /interrupted; stopping after this step/ : /terminated \(SIGTERM\); stopping after this step/);
  const m = /status +aborted at step (\d+)\/100000/.exec(stdout);
  assert.ok(m && m[1], stdout);
  const step = Number(m[1]);
  // stopped promptly: within a few steps of the signal, not at the next scheduled checkpoint
  assert.ok(step >= 2 && step < 5, `stopped at step ${step}`);
  const ck = path.join(out, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
  const state = JSON.parse(fs.readFileSync(path.join(ck, 'state.json'), 'utf8'));
  assert.equal(state.step, step);
  const w = await readSafetensors(path.join(ck, 'model.safetensors'));
  assert.ok(w.tensors.has('transformer.wte.weight'));
  assert.match(stdout, /resume with the same command/);
});
