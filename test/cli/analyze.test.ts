import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers';
import { initEngine } from '../../src/engine';
import { train, openRun } from '../../src/train';

const run = async (argv: string[]) => {
  const r = await runCli(argv);
  return { rc: r.code, out: r.stdout, err: r.stderr };
};

test('analyze and eval: help, a tiny run end to end, reuse, errors', async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine({ log: false });
  const h = await run(['analyze', '--help']);
  assert.equal(h.rc, 0);
  for (const k of ['--checkpoints', '--only', '--draws', '--ablation <zero|mean>', '--lens-steps']) assert.ok(h.out.includes(k), k);
  assert.equal((await run(['eval', '--help'])).rc, 0);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-cli-analyze-'));
  const out = path.join(dir, 'run');
  await train({ out, arch: 'transformer', preset: 'tiny', steps: 4, log: false });
  const r = await openRun(out);
  const steps = r.checkpoints.map((c) => c.step);
  assert.ok(steps.length >= 2, `checkpoints ${steps}`);
  const last = steps[steps.length - 1];

  const a = await run(['analyze', out, '--checkpoints', String(last), '--only', 'gain,ablation', '--draws', '2', '--contexts', '2', '--mismatches', '2', '--quiet']);
  assert.equal(a.rc, 0, a.err);
  assert.match(a.out, /grounding information gain G/);
  assert.match(a.out, /heads \(saliency share/);
  assert.match(a.out, /ablation \(surprisal/);
  assert.match(a.out, /computed surprisal \(1\), gain \(1\)/);
  assert.ok(fs.existsSync(path.join(out, 'analysis', 'gain_summary.arrow')));
  assert.ok(fs.existsSync(path.join(out, 'eval', 'evalset.json')));

  // eval reuses the stored surprisal of that step and computes the others
  const e = await run(['eval', out, '--quiet']);
  assert.equal(e.rc, 0, e.err);
  const lines = e.out.split('\n').filter((l) => /^\s*\d+\s+-?\d/.test(l));
  assert.equal(lines.length, steps.length, e.out);
  const again = await run(['analyze', out, '--checkpoints', String(last), '--only', 'gain', '--quiet']);
  assert.match(again.out, /everything was already there/);

  const bad = await run(['analyze', out, '--checkpoints', '999999']);
  assert.equal(bad.rc, 1);
  assert.match(bad.err, /no checkpoint at step 999999/);
  const bad2 = await run(['analyze', out, '--only', 'nonsense']);
  assert.equal(bad2.rc, 1);
  assert.match(bad2.err, /"nonsense" is not one of/);
  const missing = await run(['eval', path.join(dir, 'nope')]);
  assert.equal(missing.rc, 1);
  assert.match(missing.err, /does not exist/);
  fs.rmSync(dir, { recursive: true, force: true });
});
