import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { GroundlabError } from '../../src/errors';
import { acquireLock, lockHolder } from '../../src/io/lock';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-lock-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const DEAD = 2147483646; // no such process

test('a free lock is taken, a live holder gives BUSY naming it, release gives it back, a stale one is taken over', () => {
  const file = path.join(root, 'a.lock');
  const l = acquireLock(file, { what: 'thing' });
  assert.equal(lockHolder(file)!.pid, process.pid);
  assert.throws(() => acquireLock(file, { what: 'thing' }), (e: unknown) => e instanceof GroundlabError && e.code === 'BUSY' && new RegExp(`thing is in use by process ${process.pid}`).test(e.message) && e.message.includes(file));
  l.release();
  l.release();
  assert.ok(!fs.existsSync(file));
  fs.writeFileSync(file, `${DEAD} ${os.hostname()}`); // a lock left by a killed process (old format, no nonce)
  const l2 = acquireLock(file, { what: 'thing' });
  assert.equal(lockHolder(file)!.pid, process.pid);
  l2.release();
  fs.writeFileSync(file, ''); // an empty lock file older than the grace period: stale
  fs.utimesSync(file, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  acquireLock(file, { what: 'thing' }).release();
  assert.deepEqual(fs.readdirSync(root).filter((n) => n.startsWith('a.lock')), [], 'no takeover or temp files left');
});

const CHILD = `
const { acquireLock } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'io', 'lock'))});
const [dir, rounds] = process.argv.slice(2);
process.stdout.write('ready\\n');
let started = false;
const held = [];
process.stdin.on('data', (d) => {
  if (started) {
    // "release": every process has reported every round; only now are the locks given back.
    for (const l of held) l.release();
    process.exit(0);
  }
  started = true;
  const start = Number(String(d).trim());
  for (let r = 0; r < Number(rounds); r++) {
    while (Date.now() < start + r * 100) {}
    try {
      held.push(acquireLock(dir + '/r' + r + '.lock', { what: 'round ' + r }));
      process.stdout.write(r + ' got\\n');
    } catch (e) {
      process.stdout.write(r + ' ' + (e.code || e.message) + '\\n');
    }
  }
  process.stdout.write('done\\n');
});
`;

test('a stale lock taken over by several processes at the same moment has exactly one holder (120 races)', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'race-'));
  const ROUNDS = 20;
  const PROCS = 6;
  for (let r = 0; r < ROUNDS; r++) fs.writeFileSync(path.join(dir, `r${r}.lock`), `${DEAD} ${os.hostname()} deadbeef\n`);
  const script = path.join(dir, 'child.ts');
  fs.writeFileSync(script, CHILD);
  const loader = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs');
  const kids = Array.from({ length: PROCS }, () => spawn(process.execPath, ['--import', 'file://' + loader, script, dir, String(ROUNDS)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const outs = kids.map(() => '');
  await Promise.all(
    kids.map(
      (k, i) =>
        new Promise<void>((resolve) => {
          k.stdout.on('data', (d) => {
            outs[i] += d;
            if (outs[i].startsWith('ready\n')) resolve();
          });
        }),
    ),
  );
  const start = Date.now() + 300;
  for (const k of kids) k.stdin.write(`${start}\n`);
  // Hold every lock until all have tried every round (a lock released early could be taken again legitimately).
  while (!outs.every((o) => o.includes('\ndone\n'))) await new Promise((r) => setTimeout(r, 20));
  const closed = kids.map((k) => new Promise((r) => k.on('close', r)));
  for (const k of kids) k.stdin.write('release\n');
  await Promise.all(closed);
  for (let r = 0; r < ROUNDS; r++) {
    const lines = outs.map((o) => o.split('\n').find((l) => l.startsWith(`${r} `)));
    assert.equal(lines.filter((l) => l === `${r} got`).length, 1, `round ${r}: ${lines.join(' | ')}`);
    assert.ok(lines.every((l) => l === `${r} got` || l === `${r} BUSY`), `round ${r}: ${lines.join(' | ')}`);
  }
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n !== 'child.ts'), [], 'every lock released, no takeover or temp file left');
});
