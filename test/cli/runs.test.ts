import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-runs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('groundlab runs lists runs and checkpoints, shows one run in detail, flags broken runs', async () => {
  for (const [arch, seed] of [['transformer', '0'], ['mamba2', '1']]) {
    const r = await runCli(['train', '--arch', arch, '--preset', 'tiny', '--steps', '3', '--seed', seed, '--out', path.join(root, 'all', `${arch}-s${seed}`), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
  }
  const help = await runCli(['runs', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--json/);

  const list = await runCli(['runs', path.join(root, 'all')]);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.match(lines[0], /^run +arch +preset +seed +step +loss +checkpoints/);
  assert.match(lines[1], /mamba2-s1 +mamba2 +tiny +1 +3\/3 +\d+\.\d{4} +4: 0, 1, 2, 3/);
  assert.match(lines[2], /transformer-s0 +transformer +tiny +0 +3\/3/);

  const one = await runCli(['runs', path.join(root, 'all', 'transformer-s0')]);
  assert.equal(one.code, 0);
  assert.match(one.stdout, /checkpoints:\n +step +0 +loss +- +tokens +0 /);
  assert.match(one.stdout, /step +3 +loss +\d+\.\d{4} +tokens +384 /);

  const json = await runCli(['runs', path.join(root, 'all'), '--json']);
  const parsed = JSON.parse(json.stdout);
  assert.deepEqual(parsed.map((r: { arch: string; checkpoints: number[] }) => [r.arch, r.checkpoints]), [['mamba2', [0, 1, 2, 3]], ['transformer', [0, 1, 2, 3]]]);

  // a damaged config.json is listed as an error (exit code 1), the other runs still show
  fs.writeFileSync(path.join(root, 'all', 'mamba2-s1', 'config.json'), '{ not json');
  const broken = await runCli(['runs', path.join(root, 'all')]);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /mamba2-s1 +ERROR .*not valid JSON/);
  assert.match(broken.stdout, /transformer-s0 +transformer/);

  const missing = await runCli(['runs', path.join(root, 'nowhere')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NOT_FOUND.*does not exist/);
  const empty = await runCli(['runs', root, '--depth', '0']);
  assert.equal(empty.code, 0);
  assert.match(empty.stdout, /no runs under/);
});
