/**
 * The local executor with the real trainer (`groundlab train --preset tiny`) and analysis
 * (`groundlab analyze --only gain`): a worker killed mid-run is reported, and running the sweep again
 * resumes it from its last checkpoint to the same final numbers (loss and information gain per
 * checkpoint) as a sweep that was never interrupted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { aggregateSweep, cellLogPath, openSweep, readCellState, runSweepLocal, validateSpec } from '../../src/sweep';

const GRID = {
  grid: { arch: ['transformer'], seed: [1, 2] },
  train: { preset: 'tiny', steps: 30, quiet: true },
  // The real analysis: information gain per checkpoint (analysis/gain, gain_summary, surprisal).
  analyses: ['analyze --only gain --quiet --checkpoints 0,10,30'],
};

test('real trainer: a killed worker resumes to the same final numbers', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-sweep-real-'));
  try {
    const ref = openSweep('', { spec: validateSpec({ name: 'ref', ...GRID }, { dir }) });
    const r0 = await runSweepLocal(ref, { jobs: 2 });
    assert.equal(r0.counts.done, 2, JSON.stringify(r0.results.map((r) => r.error)));
    const sweep = openSweep('', { spec: validateSpec({ name: 'killed', ...GRID }, { dir }) });
    let killedAt = -1;
    const r1 = await runSweepLocal(sweep, {
      jobs: 2,
      onEvent: (e) => {
        if (e.type !== 'cell-start' || e.cell.name !== 'transformer_s2' || e.stage !== 'train') return;
        const poll = () => {
          const ck = path.join(sweep.dir, 'transformer_s2', 'checkpoints');
          const steps = fs.existsSync(ck) ? fs.readdirSync(ck).filter((n) => /^step-\d+$/.test(n)).map((n) => Number(n.slice(5))) : [];
          if (steps.includes(10) && !steps.includes(30)) {
            killedAt = Math.max(...steps);
            process.kill(e.pid, 'SIGKILL');
          } else if (!steps.includes(30)) setTimeout(poll, 5);
        };
        poll();
      },
    });
    assert.ok(killedAt >= 10 && killedAt < 30, `killed after checkpoint ${killedAt}`);
    assert.equal(r1.counts.failed, 1);
    assert.match(r1.results.find((r) => r.name === 'transformer_s2')!.error!, /killed by SIGKILL/);
    const r2 = await runSweepLocal(sweep, { jobs: 2 });
    assert.equal(r2.counts.skipped, 1);
    assert.equal(r2.counts.done, 2);
    assert.equal(readCellState(path.join(sweep.dir, 'transformer_s2'))!.attempts, 2);
    assert.match(fs.readFileSync(cellLogPath(path.join(sweep.dir, 'transformer_s2')), 'utf8'), /resumed from step [1-9]/);
    const a = aggregateSweep(ref).tables;
    const b = aggregateSweep(sweep).tables;
    assert.deepEqual(b.cells.select('arch', 'seed', 'final_step', 'loss').objects(), a.cells.select('arch', 'seed', 'final_step', 'loss').objects());
    assert.deepEqual(b.final.objects(), a.final.objects());
    // Information gain per checkpoint, mean and CI over the two seeds.
    const g = a['analysis-gain'];
    assert.ok(g, 'analysis-gain aggregated');
    assert.deepEqual(Array.from(g.array('step') as ArrayLike<number>), [0, 10, 30]);
    assert.deepEqual(Array.from(g.array('n') as ArrayLike<number>), [2, 2, 2]);
    assert.ok(g.columnNames().includes('gain_mean') && g.columnNames().includes('gain_lo'));
    assert.ok(!g.columnNames().includes('contexts_mean'), 'counts are not measures');
    assert.deepEqual(b['analysis-gain'].objects(), g.objects());
    assert.deepEqual(b['analysis-surprisal'].objects(), a['analysis-surprisal'].objects());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
