import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import { initEngine } from '../../src/engine';
import { main } from '../../src/cli/main';
import { train } from '../../src/train/trainer';
import { openRun } from '../../src/train/run';
import type { TrainDeps, TrainingData } from '../../src/train/deps';
import { prepareData } from '../../src/data/prepare';
import { WordTokenizer } from '../../src/data/tokenizer';
import { probeCommandDeps, command } from '../../src/cli/commands/probe';
import { helpText } from '../../src/cli/args';
import { TinyModel } from '../probe/tiny-model';

const deps: Partial<TrainDeps> = {
  createModel: (c, seed) => new TinyModel(c.vocabSize, c.dModel, c.nLayers, seed, c.contextLength),
  modelPreset: (arch, _p, vocabSize) => ({ arch, vocabSize, contextLength: 16, dModel: 16, nLayers: 2, envFeatureDim: 0 }),
  prepareData: async (spec, opts) => (await prepareData(spec, { ...opts, minCount: 1 })) as unknown as TrainingData,
  tokenizerFromJSON: (j) => WordTokenizer.fromJSON(j as never),
};

let dir: string;
let runDir: string;
before(async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine({ log: false });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-probe-cli-'));
  runDir = path.join(dir, 'run');
  await train({
    out: runDir,
    arch: 'transformer',
    preset: 'tiny',
    seed: 1,
    steps: 4,
    batchSize: 4,
    seqLen: 16,
    corpus: { kind: 'synthetic', setting: 'realistic', seed: 0, knobs: { episodes: 120, nouns: 6 } },
    train: { checkpoints: { dense: 2, denseUntil: 2, every: 4 } },
    deps,
  });
  probeCommandDeps.openRun = (d) => openRun(d, { deps });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  // stdout carries the test runner's own report: capture the command's output through its deps, and stderr.
  let out = '';
  let err = '';
  const we = process.stderr.write.bind(process.stderr);
  probeCommandDeps.write = (s) => void (out += s);
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), out, err };
  } finally {
    process.stderr.write = we;
  }
}

test('probe --help lists tasks and options', async () => {
  const out = helpText(command.spec);
  assert.match(out, /usage: groundlab probe <run>/);
  assert.match(out, /env-noun\|grounded\|speaker/);
  assert.match(out, /--checkpoints/);
  assert.match(out, /--hook/);
});

test('probe a run: grid printed, table and figure written', async () => {
  const run = await openRun(runDir, { deps });
  const steps = run.checkpoints.map((c) => c.step);
  assert.ok(steps.length >= 2, `checkpoints ${steps}`);
  const r = await capture(['probe', runDir, '--task', 'speaker', '--quiet', '--max-examples', '200']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /accuracy \(%\) by layer/);
  assert.match(r.out, /selectivity \(%\)/);
  const t = aq.fromArrow(fs.readFileSync(path.join(runDir, 'probes/speaker.arrow')));
  assert.equal(t.numRows(), steps.length * 3);
  assert.deepEqual([...new Set(t.array('step') as number[])].sort((a, b) => a - b), steps);
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, 'probes/speaker.vl.json'), 'utf8'));
  assert.equal(spec.data.values.length, steps.length * 3);
  assert.match(fs.readFileSync(path.join(runDir, 'probes/speaker.svg'), 'utf8'), /^<svg[\s\S]*checkpoint/);
  const j = await capture(['probe', runDir, '--task', 'speaker', '--quiet', '--max-examples', '200', '--json', '--checkpoints', String(steps[0]), '--hook', 'blocks.1.hook_resid_post']);
  assert.equal(j.code, 0, j.err);
  const rows = JSON.parse(j.out);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].layer, 2);
  assert.ok(rows[0].accuracy >= 0 && rows[0].accuracy <= 1);
});

test('probe errors name the problem', async () => {
  const bad = await capture(['probe', runDir, '--task', 'colour']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /BAD_ARGUMENT.*expected one of env-noun, grounded, speaker/);
  const ck = await capture(['probe', runDir, '--checkpoints', '999', '--quiet']);
  assert.equal(ck.code, 1);
  assert.match(ck.err, /no checkpoint at step 999[\s\S]*available steps/);
  const hook = await capture(['probe', runDir, '--hook', 'blocks.7.hook_resid_post', '--quiet', '--task', 'speaker', '--max-examples', '50']);
  assert.equal(hook.code, 1);
  assert.match(hook.err, /NOT_FOUND.*blocks\.7\.hook_resid_post/);
  const none = await capture(['probe', path.join(dir, 'nope')]);
  assert.equal(none.code, 1);
  assert.match(none.err, /does not exist/);
});
