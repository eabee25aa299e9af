import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { runCli } from './helpers';
import { cellLogPath, groundlabCommand, readCellState } from '../../src/sweep';
import { fakeSpec, makeFixture, writeSpec } from '../sweep/helpers';

const capture = async (argv: string[]) => {
  const r = await runCli(argv);
  return { code: r.code, out: r.stdout, err: r.stderr };
};

test('groundlab sweep run / status / aggregate on a spec', async () => {
  const fx = makeFixture();
  try {
    const spec = writeSpec(fx, fakeSpec(fx, { grid: { arch: ['transformer', 'lstm'], seed: [1, 2] }, train: { steps: 10 } }));
    const bad = await capture(['sweep', 'run', spec, '--only', 'nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--only: "nope" is not a cell of this sweep[\s\S]*0=transformer_s1/);
    const one = await capture(['sweep', 'run', spec, '--only', 'lstm_s2,0', '--no-aggregate']);
    assert.equal(one.code, 0, one.err);
    assert.match(one.err, /2\/2 done/);
    const r = await capture(['sweep', 'run', spec, '--jobs', '2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /sweep fake: 4 cells in .*; 2 done already, 2 to run, 2 at once/);
    assert.match(r.err, /transformer_s2: done in/);
    assert.match(r.err, /4\/4 done \(2 skipped\), 0 failed/);
    assert.match(r.out, /aggregated 4 cells/);
    assert.match(r.out, /\|arch\|n\|final_step\|loss_mean\|/);
    const dir = path.join(fx.dir, 'fake');
    const again = await capture(['sweep', 'run', dir]);
    assert.equal(again.code, 0);
    assert.match(again.err, /4 done already, 0 to run/);
    const st = await capture(['sweep', 'status', dir]);
    assert.equal(st.code, 0);
    assert.match(st.out, /4\/4 done, 0 running, 0 failed/);
    assert.match(st.out, /\|0\|transformer_s1\|done\|10\/10\|1\|/);
    const js = JSON.parse((await capture(['sweep', 'status', dir, '--json'])).out);
    assert.equal(js.counts.done, 4);
    fs.rmSync(path.join(dir, 'aggregate'), { recursive: true });
    assert.equal((await capture(['sweep', 'aggregate', dir])).code, 0);
    assert.ok(fs.existsSync(path.join(dir, 'aggregate', 'final.arrow')));
    const dry = await capture(['sweep', 'submit', '--slurm', dir, '--all', '--dry-run', '--partition', 'short']);
    assert.equal(dry.code, 0);
    assert.match(dry.out, /#SBATCH --array=0-3\n/);
    assert.match(dry.out, /#SBATCH --partition=short\n/);
  } finally {
    fx.cleanup();
  }
});

test('groundlab sweep: errors are reported with the file and field, exit code 1', async () => {
  const fx = makeFixture();
  try {
    const spec = writeSpec(fx, { grid: { seed: [1, 'x'] } }, 'bad.json');
    const r = await capture(['sweep', 'run', spec]);
    assert.equal(r.code, 1);
    assert.match(r.err, /error \[BAD_CONFIG\]: .*bad\.json: sweep spec field "grid.seed\[1\]"/);
    assert.equal((await capture(['sweep', 'frobnicate'])).code, 1);
    assert.match((await capture(['sweep', 'run'])).err, /give a sweep spec, or the grid flags and --out/);
    assert.match((await capture(['sweep', 'submit', spec])).err, /--slurm/);
    assert.match((await capture(['sweep', 'status', fx.dir])).err, /has no sweep.json/);
    const h = await capture(['sweep', 'run', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /--jobs <int>/);
  } finally {
    fx.cleanup();
  }
});

test('groundlab sweep run: a failed cell gives exit code 1 and the hint to resume', async () => {
  const fx = makeFixture();
  try {
    const spec = writeSpec(fx, fakeSpec(fx, { grid: { fail: ['always'] }, analyses: [] }));
    const r = await capture(['sweep', 'run', spec, '--jobs', '1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /failalways: FAILED: train exited with code 3 \(log: .*_sweep\/failalways\.log\)/);
    assert.match(r.err, /run the same command again to resume/);
  } finally {
    fx.cleanup();
  }
});

test('Ctrl-C (SIGINT to groundlab sweep run): cells save and stop, exit 130, the rerun finishes', { timeout: 120_000 }, async () => {
  const fx = makeFixture();
  try {
    const spec = writeSpec(fx, fakeSpec(fx, { grid: { arch: ['transformer'], seed: [1, 2, 3] }, train: { steps: 200 }, analyses: [] }));
    const dir = path.join(fx.dir, 'fake');
    const [cmd, ...args] = groundlabCommand();
    const child = spawn(cmd, [...args, 'sweep', 'run', spec, '--jobs', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    child.stdout.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until both running cells have written a checkpoint, then press Ctrl-C once.
    const has = (c: string) => fs.existsSync(path.join(dir, c, 'checkpoints', 'step-000005'));
    const t0 = Date.now();
    while (!(has('transformer_s1') && has('transformer_s2'))) {
      if (Date.now() - t0 > 60_000) throw new Error(`cells did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 130, err);
    assert.match(err, /stopping: the running cells save a checkpoint and stop/);
    for (const c of ['transformer_s1', 'transformer_s2']) {
      assert.equal(readCellState(path.join(dir, c))?.state, 'interrupted');
      assert.match(fs.readFileSync(cellLogPath(path.join(dir, c)), 'utf8'), /fake-train: stopped at step \d+/);
    }
    assert.equal(readCellState(path.join(dir, 'transformer_s3')), undefined, 'the third cell never started');
    const again = await capture(['sweep', 'run', dir, '--jobs', '2', '--quiet']);
    assert.equal(again.code, 0, again.err);
    assert.match(fs.readFileSync(cellLogPath(path.join(dir, 'transformer_s1')), 'utf8'), /resuming from step [1-9]/);
  } finally {
    fx.cleanup();
  }
});
