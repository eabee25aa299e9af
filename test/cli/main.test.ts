import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers';

test('every command listed by groundlab --help exists and has --help', async () => {
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  const names = [...top.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  assert.ok(names.length >= 9, top.stdout);
  for (const name of names) {
    const r = await runCli([name, '--help']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`groundlab ${name}`));
  }
});

test('an unknown command is a clear error with the way to the list', async () => {
  const r = await runCli(['trian']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown command "trian"[\s\S]*groundlab --help/);
});

// ---------------------------------------------------------------------------------------------
// Operating-system errors: each names the path, the cause and what to do, and exits 1.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after } from 'node:test';
import { listCheckpoints } from '../../src/train/run';
import { childCommand } from '../train/child';
import { spawn } from 'node:child_process';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-os-'));
// Under `npm test` this file runs from dist/test/cli; the fixtures stay in the source tree.
const FIXTURE_TREE = [path.join(__dirname, '..', 'data', 'fixtures', 'tree'), path.join(__dirname, '..', '..', '..', 'test', 'data', 'fixtures', 'tree')].find((d) => fs.existsSync(d))!;
const mounts: string[] = [];
after(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

/** A tmpfs of `size` at a new folder, or why not (not root, no mount permission in this container). */
function tmpfs(size: string): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a small tmpfs (mount -t tmpfs -o size=3m tmpfs DIR); run the suite as root to check ENOSPC and EROFS' };
  const dir = fs.mkdtempSync(path.join(root, 'mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    return { skip: `mount -t tmpfs failed (${String((e as Error).message).split('\n')[0]}): no mount permission here` };
  }
  mounts.push(dir);
  return dir;
}
const probe = tmpfs('1m');
const noMount = typeof probe === 'string' ? false : probe.skip;

test('--out through a file (ENOTDIR): train and corpus import name the path and exit 1, writing nothing', async () => {
  const file = path.join(root, 'some-file');
  fs.writeFileSync(file, 'x');
  for (const argv of [
    ['train', '--preset', 'tiny', '--steps', '1', '--out', path.join(file, 'sub'), '--quiet'],
    ['corpus', 'import', FIXTURE_TREE, '--out', path.join(file, 'sub', 'c.jsonl')],
  ]) {
    const r = await runCli(argv);
    assert.equal(r.code, 1, `${argv[0]}: ${r.stderr}`);
    assert.match(r.stderr, /error \[IO\]: .*some-file.*: a part of the path is a file, not a folder \(ENOTDIR\)[\s\S]*hint:/, argv[0]);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'x');
});

test('a full disk (ENOSPC): named, no partial checkpoint left; the same command resumes once there is room', { skip: noMount || false }, async () => {
  const mnt = tmpfs('3m') as string;
  const out = path.join(mnt, 'run');
  const argv = ['train', '--preset', 'tiny', '--steps', '12', '--model', 'dModel=64', '--out', out, '--quiet'];
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await runCli(argv);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \[IO\]: .*checkpoints\/step-\d+: cannot save the checkpoint of step \d+: no space left on the device \(ENOSPC\)[\s\S]*run the same command again to resume/);
    assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoints')).filter((n) => !/^step-\d+$/.test(n)), [], `attempt ${attempt}: no partial folder left`);
    assert.deepEqual(fs.readdirSync(path.join(out, 'metrics')).filter((n) => n.includes('.tmp-')), []);
  }
  const before = listCheckpoints(out).map((c) => c.step);
  execFileSync('mount', ['-o', 'remount,size=32m', mnt]);
  const ok = await runCli(argv);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`completed at step 12/12 \\(resumed from step ${before[before.length - 1]}\\)`));
});

test('a read-only run directory (EROFS): train and eval say so, naming the path', { skip: noMount || false, timeout: 120_000 }, async () => {
  const mnt = tmpfs('16m') as string;
  const out = path.join(mnt, 'run');
  assert.equal((await runCli(['train', '--preset', 'tiny', '--steps', '2', '--out', out, '--quiet'])).code, 0);
  execFileSync('mount', ['-o', 'remount,ro', mnt]);
  const t = await runCli(['train', '--out', out, '--quiet']);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /error \[IO\]: .*run\/\.train\.lock: cannot create the lock file: the filesystem is read-only \(EROFS\)/);
  const e = await runCli(['eval', out, '--quiet']);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /error \[IO\]: .*run\/eval.*the filesystem is read-only \(EROFS\)/);
  assert.doesNotMatch(e.stderr, /ENOENT/);
});

test('a closed pipe (groundlab runs | head -1) exits quietly', async () => {
  const runs = path.join(root, 'runs');
  for (let i = 0; i < 3; i++) fs.mkdirSync(path.join(runs, `r${i}`, 'checkpoints'), { recursive: true });
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(runs, `r${i}`, 'config.json'), '{}');
  // A reader that has gone before groundlab writes: every write hits EPIPE.
  const [cmd, ...pre] = childCommand();
  const child = spawn(cmd, [...pre, 'runs', runs], { env: { ...process.env, GROUNDLAB_TEST_CHILD: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(stderr, '', 'nothing on stderr');
  assert.equal(code, 0);
});
