import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers';
import { initEngine } from '../../src/engine';
import { train, openRun } from '../../src/train';

test('circuits: help, a tiny run end to end, reuse, errors', async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine({ log: false });
  const h = await runCli(['circuits', '--help']);
  assert.equal(h.code, 0);
  for (const k of ['--checkpoints', '--pairs', '--force']) assert.ok(h.stdout.includes(k), k);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-cli-circuits-'));
  const out = path.join(dir, 'run');
  await train({ out, arch: 'transformer', preset: 'tiny', steps: 2, log: false });
  const last = (await openRun(out)).checkpoints.at(-1)!.step;
  const a = await runCli(['circuits', out, '--checkpoints', String(last), '--pairs', '6', '--quiet']);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /r\(AtP, exact\) heads/);
  assert.match(a.stdout, /gather->aggregate paths \(significant\)/);
  // the paths analysis' rows on these pairs (a 2-step model has no aggregate head: its note)
  assert.match(a.stdout, /path test \(path patching match -> mismatch[^\n]*\n[^]*no aggregate head at this checkpoint/);
  for (const t of ['circuit_summary', 'circuit_paths', 'circuit_heads', 'circuit_dla', 'circuit_path_test']) assert.ok(fs.existsSync(path.join(out, 'analysis', `${t}.arrow`)), t);
  const again = await runCli(['circuits', out, '--checkpoints', String(last), '--quiet']);
  assert.equal(again.code, 0);
  assert.equal(again.stdout, a.stdout, 'a stored step is reused as it is');
  const bad = await runCli(['circuits', out, '--checkpoints', '99999', '--quiet']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /no checkpoint at step 99999/);
  fs.rmSync(dir, { recursive: true, force: true });
});
