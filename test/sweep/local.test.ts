import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { aggregateSweep, cellLogPath, cellStatePath, openSweep, readCellState, runSweepLocal, sweepStatus } from '../../src/sweep';
import { JobSlots } from '../../src/sweep/local';
import { fakeSpec, makeFixture, writeSpec } from './helpers';

const finalLoss = (dir: string, cell: string) => {
  const s = readCellState(path.join(dir, cell));
  assert.equal(s?.state, 'done', `${cell} is done`);
  const ck = fs.readdirSync(path.join(dir, cell, 'checkpoints')).sort().pop()!;
  return JSON.parse(fs.readFileSync(path.join(dir, cell, 'checkpoints', ck, 'state.json'), 'utf8')).loss as number;
};

test('local executor runs every cell, skips finished ones, aggregates', async () => {
  const fx = makeFixture();
  try {
    const specFile = writeSpec(fx, fakeSpec(fx));
    const sweep = openSweep(specFile);
    assert.equal(sweep.dir, path.join(fx.dir, 'fake'));
    assert.ok(fs.existsSync(path.join(sweep.dir, 'sweep.json')));
    const events: string[] = [];
    let maxRunning = 0;
    let running = 0;
    const r = await runSweepLocal(sweep, {
      jobs: 2,
      progressEverySec: 0.1,
      onEvent: (e) => {
        events.push(e.type);
        if (e.type === 'cell-start' && e.stage === 'train') {
          maxRunning = Math.max(maxRunning, ++running);
          const st = sweepStatus(sweep, { scheduler: false });
          assert.ok(st.counts.running >= 1, 'status sees the running cell');
          assert.equal(st.cells[e.cell.index].state, 'running');
        }
        if (e.type === 'cell-end') running--;
      },
    });
    assert.deepEqual(r.counts.done, 6);
    assert.equal(r.counts.failed, 0);
    assert.equal(maxRunning, 2, 'two cells ran at once');
    assert.ok(events.includes('progress'));
    for (const c of sweep.cells) {
      const st = readCellState(path.join(sweep.dir, c.name))!;
      assert.deepEqual(st.stages, { train: 'done', gain: 'done' });
      assert.ok(fs.existsSync(path.join(sweep.dir, c.name, 'analysis', 'gain.arrow')));
      assert.match(fs.readFileSync(cellLogPath(path.join(sweep.dir, c.name)), 'utf8'), /fake-train: done/);
    }
    // Each cell records the build that ran it; status notes a sweep run by mixed builds.
    const s0 = readCellState(path.join(sweep.dir, 'lstm_s2'))!;
    assert.match(s0.build!, /^groundlab \d+\.\d+\.\d+/);
    assert.deepEqual(sweepStatus(sweep, { scheduler: false }).notes, []);
    fs.writeFileSync(cellStatePath(path.join(sweep.dir, 'lstm_s2')), JSON.stringify({ ...s0, build: 'groundlab 0.0.1 old' }));
    assert.match(sweepStatus(sweep, { scheduler: false }).notes.join('\n'), /run by 2 different builds .*groundlab 0.0.1 old: 1/);
    // Again: nothing runs.
    const r2 = await runSweepLocal(sweep, { jobs: 2 });
    assert.equal(r2.counts.skipped, 6);
    assert.equal(r2.results.length, 0);
    const agg = aggregateSweep(sweep);
    assert.equal(agg.tables.final.numRows(), 3);
    assert.deepEqual(agg.tables.final.array('arch'), ['transformer', 'mamba2', 'lstm']);
    assert.deepEqual(Array.from(agg.tables.final.array('n') as ArrayLike<number>), [2, 2, 2]);
    assert.ok(!agg.tables.final.columnNames().some((c) => c.startsWith('tokens_per_sec')), 'timing columns are not measures');
    const t1 = finalLoss(sweep.dir, 'transformer_s1');
    const t2 = finalLoss(sweep.dir, 'transformer_s2');
    assert.ok(Math.abs((agg.tables.final.get('loss_mean', 0) as number) - (t1 + t2) / 2) < 1e-12);
    const gain = agg.tables['analysis-gain'];
    assert.deepEqual(gain.columnNames().slice(0, 3), ['arch', 'step', 'n']);
    assert.equal(gain.numRows(), 3 * 4); // 4 checkpoints (5, 10, 15, 20) per arch
    for (const f of ['final.arrow', 'final.csv', 'cells.arrow', 'analysis-gain.arrow', 'analysis-gain.csv']) {
      assert.ok(fs.existsSync(path.join(sweep.dir, 'aggregate', f)), f);
    }
  } finally {
    fx.cleanup();
  }
});

test('a killed cell is reported failed and resumes to the same final numbers', async () => {
  const fx = makeFixture();
  try {
    // Reference: an uninterrupted run of one architecture.
    const ref = openSweep(writeSpec(fx, fakeSpec(fx, { name: 'ref', grid: { arch: ['lstm'], seed: [1, 2] }, train: { steps: 40 } }), 'ref.json'));
    await runSweepLocal(ref, { jobs: 2 });
    const sweep = openSweep(writeSpec(fx, fakeSpec(fx, { name: 'killed', grid: { arch: ['lstm'], seed: [1, 2] }, train: { steps: 40 } }), 'killed.json'));
    let killed = false;
    const r = await runSweepLocal(sweep, {
      jobs: 2,
      onEvent: (e) => {
        if (e.type === 'cell-start' && e.cell.name === 'lstm_s2' && e.stage === 'train' && !killed) {
          killed = true;
          const tryKill = () => {
            const ck = path.join(sweep.dir, 'lstm_s2', 'checkpoints');
            if (fs.existsSync(ck) && fs.readdirSync(ck).some((n) => /^step-0000(1|2)\d$/.test(n))) process.kill(e.pid, 'SIGKILL');
            else setTimeout(tryKill, 10);
          };
          tryKill();
        }
      },
    });
    assert.ok(killed);
    assert.equal(r.counts.done, 1);
    assert.equal(r.counts.failed, 1);
    const failed = r.results.find((x) => x.name === 'lstm_s2')!;
    assert.equal(failed.state, 'failed');
    assert.match(failed.error!, /train was killed by SIGKILL/);
    assert.equal(sweepStatus(sweep).counts.failed, 1);
    const again = await runSweepLocal(sweep, { jobs: 2 });
    assert.equal(again.counts.skipped, 1);
    assert.equal(again.counts.done, 2);
    assert.match(fs.readFileSync(cellLogPath(path.join(sweep.dir, 'lstm_s2')), 'utf8'), /resuming from step [1-9]/);
    const st = readCellState(path.join(sweep.dir, 'lstm_s2'))!;
    assert.equal(st.attempts, 2);
    // Time is kept over attempts: the killed attempt plus the one that finished, and per stage.
    assert.ok(Math.abs(st.totalSeconds! - (failed.seconds + st.seconds!)) < 1e-6, `totalSeconds ${st.totalSeconds} = ${failed.seconds} + ${st.seconds}`);
    assert.ok(st.stageSeconds!.train > 0 && st.stageSeconds!.train <= st.totalSeconds!);
    for (const stage of Object.keys(st.stages)) assert.ok(st.stageSeconds![stage] > 0, `stage ${stage} has a time`);
    for (const c of ['lstm_s1', 'lstm_s2']) assert.equal(finalLoss(sweep.dir, c), finalLoss(ref.dir, c), `${c}: same final loss after resume`);
    const a = aggregateSweep(ref, { write: false }).tables;
    const b = aggregateSweep(sweep, { write: false }).tables;
    assert.deepEqual(b.final.objects(), a.final.objects());
    assert.deepEqual(b['analysis-gain'].objects(), a['analysis-gain'].objects());
  } finally {
    fx.cleanup();
  }
});

test('abort stops running cells cleanly (interrupted) and a rerun finishes them', async () => {
  const fx = makeFixture();
  try {
    const sweep = openSweep(writeSpec(fx, fakeSpec(fx, { grid: { arch: ['transformer'], seed: [1, 2, 3] }, train: { steps: 60 } })));
    const ac = new AbortController();
    const r = await runSweepLocal(sweep, {
      jobs: 2,
      signal: ac.signal,
      progressEverySec: 0.05,
      onEvent: (e) => {
        // Stop once both running cells have a checkpoint.
        if (e.type === 'progress' && e.counts.running === 2 && !ac.signal.aborted) {
          const has = (c: string) => fs.existsSync(path.join(sweep.dir, c, 'checkpoints', 'step-000005'));
          if (has('transformer_s1') && has('transformer_s2')) ac.abort();
        }
      },
    });
    assert.equal(r.interrupted, true);
    assert.equal(r.counts.interrupted, 2);
    assert.equal(r.counts.pending, 1, 'the third cell never started');
    for (const c of ['transformer_s1', 'transformer_s2']) {
      const st = readCellState(path.join(sweep.dir, c))!;
      assert.equal(st.state, 'interrupted');
      assert.match(fs.readFileSync(cellLogPath(path.join(sweep.dir, c)), 'utf8'), /fake-train: stopped at step \d+/);
    }
    const again = await runSweepLocal(sweep, { jobs: 2 });
    assert.equal(again.counts.done, 3);
  } finally {
    fx.cleanup();
  }
});

test('a failing cell is reported with its log and the others finish', async () => {
  const fx = makeFixture();
  try {
    const sweep = openSweep(writeSpec(fx, fakeSpec(fx, { grid: { arch: ['transformer'], fail: ['no', 'always'] }, analyses: [] })));
    const r = await runSweepLocal(sweep, { jobs: 2 });
    assert.equal(r.counts.done, 1);
    assert.equal(r.counts.failed, 1);
    const bad = r.results.find((x) => x.state === 'failed')!;
    assert.equal(bad.name, 'transformer_failalways');
    assert.match(bad.error!, /train exited with code 3/);
    assert.match(fs.readFileSync(bad.log, 'utf8'), /failing on purpose/);
  } finally {
    fx.cleanup();
  }
});

test('a cell claimed by a live process elsewhere is left alone; a dead claim on this host is taken over', async () => {
  const fx = makeFixture();
  try {
    const sweep = openSweep(writeSpec(fx, fakeSpec(fx, { grid: { arch: ['transformer'], seed: [1, 2] }, train: { steps: 5 }, analyses: [] })));
    const claim = (cell: string, host: string, pid: number) => {
      const f = cellStatePath(path.join(sweep.dir, cell));
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, JSON.stringify({ name: cell, index: 0, state: 'running', stages: {}, attempts: 1, host, pid }));
    };
    claim('transformer_s1', 'some-compute-node', 12345); // e.g. a Slurm task on another node
    claim('transformer_s2', os.hostname(), 2 ** 22 + 7); // a pid that does not exist here
    assert.equal(sweepStatus(sweep, { scheduler: false }).cells[1].state, 'failed', 'dead claim reads as failed');
    const r = await runSweepLocal(sweep, { jobs: 2 });
    assert.deepEqual(r.results.map((x) => x.name), ['transformer_s2']);
    assert.equal(r.counts.done, 1);
    assert.equal(r.counts.running, 1, 'reported as busy elsewhere');
    assert.equal(readCellState(path.join(sweep.dir, 'transformer_s1'))!.state, 'running');
  } finally {
    fx.cleanup();
  }
});

test('job slots: FIFO, never more held than the pool; two sweeps sharing one slot run one cell at a time, the first sweep\'s cells first', async () => {
  const slots = new JobSlots(2);
  const order: number[] = [];
  await slots.acquire();
  await slots.acquire();
  assert.equal(slots.available, 0);
  const waiters = [1, 2, 3].map((i) => slots.acquire().then(() => order.push(i)));
  slots.release();
  slots.release();
  await Promise.all(waiters.slice(0, 2));
  assert.deepEqual(order, [1, 2], 'first come, first served');
  slots.release();
  await waiters[2];
  assert.deepEqual(order, [1, 2, 3]);
  slots.release();
  slots.release();
  assert.equal(slots.available, 2);
  assert.throws(() => new JobSlots(0), /expected a whole number >= 1/);

  const fx = makeFixture();
  try {
    const a = openSweep(writeSpec(fx, fakeSpec(fx, { name: 'a', grid: { arch: ['lstm'], seed: [1, 2] } }), 'a.json'));
    const b = openSweep(writeSpec(fx, fakeSpec(fx, { name: 'b', grid: { arch: ['lstm'], seed: [1, 2] } }), 'b.json'));
    const one = new JobSlots(1);
    let running = 0;
    let maxRunning = 0;
    const started: string[] = [];
    const onEvent = (name: string) => (e: { type: string; stage?: string }) => {
      if (e.type === 'cell-start' && e.stage === 'train') {
        maxRunning = Math.max(maxRunning, ++running);
        started.push(name);
      }
      if (e.type === 'cell-end') running--;
    };
    const [ra, rb] = await Promise.all([runSweepLocal(a, { jobs: 2, slots: one, onEvent: onEvent('a') }), runSweepLocal(b, { jobs: 2, slots: one, onEvent: onEvent('b') })]);
    assert.equal(ra.counts.done + rb.counts.done, 4);
    assert.equal(maxRunning, 1, 'one slot: one cell at a time over both sweeps');
    assert.deepEqual(started, ['a', 'a', 'b', 'b']);
    // Two slots, a sweep of three cells started first and one of one cell: the first sweep's third
    // cell starts before the other's (a reproduction's plan order: main first), not when a slot
    // frees and the other sweep has waited longest.
    const c = openSweep(writeSpec(fx, fakeSpec(fx, { name: 'c', grid: { arch: ['lstm'], seed: [1, 2, 3] } }), 'c.json'));
    const d = openSweep(writeSpec(fx, fakeSpec(fx, { name: 'd', grid: { arch: ['lstm'], seed: [1] } }), 'd.json'));
    const two = new JobSlots(2);
    started.length = 0;
    running = 0;
    await Promise.all([runSweepLocal(c, { jobs: 2, slots: two, onEvent: onEvent('c') }), runSweepLocal(d, { jobs: 2, slots: two, onEvent: onEvent('d') })]);
    assert.deepEqual(started, ['c', 'c', 'c', 'd'], 'the sweep that got the slots first keeps them while it has cells');
    assert.equal(two.available, 2);
    assert.equal(one.available, 1, 'every slot is given back');
  } finally {
    fx.cleanup();
  }
});

test('two sweeps started at once on one folder: each cell runs once, the second reports "already running", nothing FAILED', async () => {
  const fx = makeFixture();
  try {
    const file = writeSpec(fx, fakeSpec(fx, { grid: { arch: ['transformer', 'lstm'], seed: [1, 2] }, train: { steps: 10 }, analyses: [] }));
    const a = openSweep(file);
    const b = openSweep(file);
    const [ra, rb] = await Promise.all([runSweepLocal(a, { jobs: 2 }), runSweepLocal(b, { jobs: 2 })]);
    for (const r of [ra, rb]) assert.equal(r.counts.failed, 0, JSON.stringify(r.results.map((x) => [x.name, x.state, x.error])));
    // A cell the later sweep found finished once it got the claim counts as skipped there, not as its own.
    assert.equal(ra.counts.done - ra.counts.skipped + rb.counts.done - rb.counts.skipped, 4, 'every cell done by one of them');
    const busy = [...ra.results, ...rb.results].filter((x) => x.state === 'busy');
    assert.ok(busy.length >= 1, 'the later sweep found cells claimed');
    assert.ok(busy.every((x) => new RegExp(`already running in process ${process.pid}`).test(x.error ?? '')), busy.map((x) => x.error).join('; '));
    for (const c of a.cells) {
      const log = fs.readFileSync(cellLogPath(path.join(a.dir, c.name)), 'utf8');
      assert.equal(log.match(/: train \(attempt/g)?.length, 1, `${c.name} trained once`);
      assert.equal(readCellState(path.join(a.dir, c.name))!.state, 'done');
      assert.ok(!fs.existsSync(path.join(a.dir, '_sweep', `${c.name}.lock`)), 'claims released');
    }
  } finally {
    fx.cleanup();
  }
});
