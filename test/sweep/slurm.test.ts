import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import { spawnSync } from 'node:child_process';
import { aggregateSweep, arraySpec, cellLogPath, openSweep, readCellState, runSweepLocal, slurmScript, sweepStatus, waitForJobs } from '../../src/sweep';
import { fakeSpec, makeFixture, writeSpec } from './helpers';

import { ensureSlurm, startSlurm } from './slurm-cluster';

test('job-array script: one task per unfinished cell, resources, the cell command', () => {
  const fx = makeFixture();
  try {
    const sweep = openSweep(writeSpec(fx, fakeSpec(fx)));
    assert.equal(arraySpec([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
    const s = slurmScript(sweep, [0, 1, 3], { partition: 'cpu', time: '1:00:00', cpus: 1, mem: '2G', maxParallel: 2, groundlab: ['/opt/node', '/opt/gl.js'], extra: ['qos=short'] });
    assert.match(s, /^#!\/bin\/bash\n/);
    assert.match(s, /#SBATCH --array=0-1,3%2\n/);
    assert.match(s, /#SBATCH --partition=cpu\n/);
    assert.match(s, /#SBATCH --time=1:00:00\n/);
    assert.match(s, /#SBATCH --mem=2G\n/);
    assert.match(s, /#SBATCH --cpus-per-task=1\n/);
    assert.match(s, /#SBATCH --qos=short\n/);
    assert.ok(s.includes(`#SBATCH --output=${path.join(sweep.dir, '_sweep', 'slurm', '%A_%a.out')}`));
    assert.ok(s.includes(`exec /opt/node /opt/gl.js sweep cell ${sweep.dir} --index "$SLURM_ARRAY_TASK_ID"`));
  } finally {
    fx.cleanup();
  }
});

const why = ensureSlurm();

test('Slurm job array on a real single-node Slurm gives the same aggregate as the local executor; SIGTERM then resubmit resumes', { skip: why ? `Slurm unavailable: ${why}` : false, timeout: 240_000 }, async () => {
  const fx = makeFixture('gl-sweep-slurm-');
  const cluster = await startSlurm();
  const saved = process.env.SLURM_CONF;
  process.env.SLURM_CONF = cluster.conf;
  try {
    // The real trainer (groundlab train --preset tiny), then an analysis step reading every checkpoint.
    const specFile = writeSpec(fx, {
      name: 'tiny',
      grid: { arch: ['transformer', 'mamba2'], seed: [1, 2] },
      train: { preset: 'tiny', steps: 10, quiet: true },
      analyses: [{ name: 'gain', command: ['{node}', fx.analyze, '{out}'] }],
    });
    const local = openSweep(specFile, { out: path.join(fx.dir, 'local') });
    const lr = await runSweepLocal(local, { jobs: 2 });
    assert.equal(lr.counts.done, 4, JSON.stringify(lr.results.map((r) => r.error)));
    const slurmDir = path.join(fx.dir, 'slurm');
    const code = await main(['sweep', 'submit', '--slurm', specFile, '--out', slurmDir, '--time', '0:10:00', '--wait', '--poll-sec', '0.5']);
    const sw = openSweep(slurmDir, { write: false });
    const logs = () =>
      fs.existsSync(path.join(slurmDir, '_sweep', 'slurm'))
        ? fs.readdirSync(path.join(slurmDir, '_sweep', 'slurm')).filter((f) => f.endsWith('.out')).map((f) => fs.readFileSync(path.join(slurmDir, '_sweep', 'slurm', f), 'utf8')).join('\n')
        : '';
    assert.equal(code, 0, `submit --wait exit code; task logs:\n${logs()}`);
    const jobs = sw.manifest.slurm?.jobs ?? [];
    assert.equal(jobs.length, 1);
    assert.deepEqual(jobs[0].indices, [0, 1, 2, 3]);
    const st = sweepStatus(sw);
    assert.equal(st.counts.done, 4);
    for (const c of st.cells) {
      assert.equal(c.scheduler, 'COMPLETED', `${c.name} per squeue`);
      assert.equal(c.jobId, jobs[0].jobId);
    }
    // Every cell ran as an array task (its state file names the job).
    for (const c of sw.cells) {
      const s = JSON.parse(fs.readFileSync(path.join(slurmDir, '_sweep', `${c.name}.json`), 'utf8'));
      assert.equal(s.slurmJob, `${jobs[0].jobId}_${c.index}`);
    }
    const a = aggregateSweep(local).tables;
    const b = aggregateSweep(sw).tables;
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
    for (const name of Object.keys(a)) {
      const strip = (rows: object[]) => rows.map((r) => ({ ...r, cell: undefined }));
      assert.deepEqual(strip(b[name].objects()), strip(a[name].objects()), `aggregate/${name} is the same`);
    }
    assert.ok(fs.existsSync(path.join(slurmDir, 'aggregate', 'final.csv')));
    // Submitting again: nothing left to run.
    assert.equal(await main(['sweep', 'submit', '--slurm', slurmDir]), 0);
    assert.equal(openSweep(slurmDir, { write: false }).manifest.slurm?.jobs.length, 1);

    // What a time limit does: SIGTERM to the batch shell (the cell process) -> the cell saves and
    // stops (interrupted); submitting again resumes it from its checkpoint.
    const termSpec = writeSpec(fx, fakeSpec(fx, { name: 'term', grid: { arch: ['transformer'], seed: [1] }, train: { steps: 300 }, analyses: [] }), 'term.json');
    const termDir = path.join(fx.dir, 'term');
    assert.equal(await main(['sweep', 'submit', '--slurm', termSpec, '--out', termDir]), 0);
    const jobId = openSweep(termDir, { write: false }).manifest.slurm!.jobs[0].jobId;
    const cell = path.join(termDir, 'transformer_s1');
    const t0 = Date.now();
    while (!fs.existsSync(path.join(cell, 'checkpoints', 'step-000010'))) {
      if (Date.now() - t0 > 90_000) throw new Error(`the cell did not start under Slurm:\n${logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Submitting again while the task runs submits nothing (the cell is not run twice).
    assert.equal(await main(['sweep', 'submit', '--slurm', termDir]), 0);
    assert.equal(openSweep(termDir, { write: false }).manifest.slurm!.jobs.length, 1);
    const sc = spawnSync('scancel', ['--batch', '--signal=TERM', jobId], { env: { ...process.env, ...cluster.env }, encoding: 'utf8' });
    assert.equal(sc.status, 0, sc.stderr);
    await waitForJobs([jobId], { pollSec: 0.5, timeoutSec: 90 });
    assert.equal(readCellState(cell)?.state, 'interrupted');
    assert.match(fs.readFileSync(cellLogPath(cell), 'utf8'), /fake-train: stopped at step \d+/);
    assert.equal(await main(['sweep', 'submit', '--slurm', termDir, '--wait', '--poll-sec', '0.5']), 0);
    assert.equal(readCellState(cell)?.state, 'done');
    assert.equal(readCellState(cell)?.attempts, 2);
    assert.match(fs.readFileSync(cellLogPath(cell), 'utf8'), /resuming from step [1-9]/);
  } finally {
    if (saved === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = saved;
    await cluster.stop();
    fx.cleanup();
  }
});
