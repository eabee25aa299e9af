/**
 * The Slurm executor: a job array with one task per cell, written to `<sweep>/_sweep/slurm/*.sbatch` and
 * submitted with `sbatch`. Each task runs `groundlab sweep cell <sweep-dir> --index $SLURM_ARRAY_TASK_ID`,
 * which runs the cell's stages exactly as the local executor does; results land in the shared sweep
 * folder. `sweepStatus` joins the run directories with what `squeue` / `sacct` say.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { groundlabCommand } from './cell';
import {
  SWEEP_FILES,
  cellDir,
  effectiveCellState,
  lastCheckpointStep,
  plannedSteps,
  saveManifest,
  type CellStateName,
  type SlurmSubmission,
  type Sweep,
} from './store';

export interface SlurmOptions {
  partition?: string;
  /** Time limit per task, in Slurm's format (e.g. "2:00:00", "1-00:00:00"). */
  time?: string;
  /** CPUs per task (default 1: one wasm thread per cell). */
  cpus?: number;
  /** Memory per task (e.g. "4G"). */
  mem?: string;
  account?: string;
  /** At most this many tasks at once (`--array=...%N`). */
  maxParallel?: number;
  /** More `#SBATCH` lines, e.g. ["--qos=short"]. */
  extra?: string[];
  /** Submit every cell, not only those not yet done. */
  all?: boolean;
  /** The command that runs groundlab on the compute nodes (default: this node and this build). */
  groundlab?: string[];
}

function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `[0,1,2,5,7,8]` -> "0-2,5,7-8". */
export function arraySpec(indices: number[]): string {
  const xs = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * Cells whose latest array task Slurm still holds (pending or running), asked of squeue; empty when
 * the sweep was never submitted or squeue is not available.
 */
export function activeSlurmCells(sweep: Sweep): Set<number> {
  const latest = new Map<number, string>();
  for (const j of sweep.manifest.slurm?.jobs ?? []) for (const i of j.indices) latest.set(i, j.jobId);
  const active = new Set<number>();
  for (const jobId of new Set(latest.values())) {
    const v = schedulerView(jobId);
    for (const [i, st] of v.tasks) if (latest.get(i) === jobId && ACTIVE.test(st)) active.add(i);
  }
  return active;
}

/**
 * The cells a submission should run: those not done (or all, with `all`), never one that an earlier
 * array still holds (pending or running) or that a live process on this host is running.
 */
export function cellsToSubmit(sweep: Sweep, all = false, active: Set<number> = activeSlurmCells(sweep)): number[] {
  return sweep.cells
    .filter((c) => {
      if (active.has(c.index)) return false;
      const st = effectiveCellState(cellDir(sweep, c));
      if (st.state === 'running' && st.info?.host === os.hostname()) return false;
      return all || st.state !== 'done';
    })
    .map((c) => c.index);
}

/** The job-array script for these cells. */
export function slurmScript(sweep: Sweep, indices: number[], opts: SlurmOptions = {}): string {
  if (indices.length === 0) throw new GroundlabError('BAD_ARGUMENT', 'no cells to submit');
  const gl = opts.groundlab ?? groundlabCommand();
  const logs = path.join(sweep.dir, SWEEP_FILES, 'slurm');
  const lines = ['#!/bin/bash'];
  const sb = (s: string) => lines.push(`#SBATCH ${s}`);
  sb(`--job-name=${shq(`gl-${sweep.spec.name}`)}`);
  sb(`--array=${arraySpec(indices)}${opts.maxParallel ? `%${opts.maxParallel}` : ''}`);
  sb(`--output=${shq(path.join(logs, '%A_%a.out'))}`);
  sb(`--ntasks=1`);
  sb(`--cpus-per-task=${opts.cpus ?? 1}`);
  if (opts.time) sb(`--time=${shq(opts.time)}`);
  if (opts.partition) sb(`--partition=${shq(opts.partition)}`);
  if (opts.mem) sb(`--mem=${shq(opts.mem)}`);
  if (opts.account) sb(`--account=${shq(opts.account)}`);
  // SIGTERM to the batch shell (which is our process: the script execs it) 60 s before the time
  // limit: the cell saves a checkpoint and stops; submitting again resumes it.
  sb('--signal=B:TERM@60');
  for (const e of opts.extra ?? []) sb(e.startsWith('-') ? e : `--${e}`);
  lines.push(
    '',
    `# Written by \`groundlab sweep submit\` for the sweep ${sweep.dir}`,
    '# One array task per cell: the task id is the cell index in sweep.json. A cell already done is',
    '# skipped; a failed or timed-out one resumes from its last checkpoint when submitted again.',
    'set -eu',
    `cd ${shq(sweep.dir)}`,
    `exec ${[...gl, 'sweep', 'cell', sweep.dir].map(shq).join(' ')} --index "$SLURM_ARRAY_TASK_ID"`,
    '',
  );
  return lines.join('\n');
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; stdout: string; stderr: string; missing: boolean } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 60_000 });
  const missing = (r.error as { code?: string } | undefined)?.code === 'ENOENT';
  return {
    ok: !r.error && r.status === 0,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error.message) : ''),
    missing,
  };
}

export interface SubmitResult {
  script: string;
  indices: number[];
  jobId?: string;
}

/** Write the job-array script and (unless `dryRun`) submit it with sbatch. */
export function submitSlurm(sweep: Sweep, opts: SlurmOptions & { dryRun?: boolean } = {}): SubmitResult {
  const indices = cellsToSubmit(sweep, opts.all);
  if (indices.length === 0) return { script: '', indices };
  const text = slurmScript(sweep, indices, opts);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const script = path.join(sweep.dir, SWEEP_FILES, 'slurm', `${sweep.spec.name}-${stamp}.sbatch`);
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(script, text, { mode: 0o755 });
  if (opts.dryRun) return { script, indices };
  const r = run('sbatch', ['--parsable', script]);
  if (r.missing) {
    throw new GroundlabError('EXTERNAL', 'sbatch is not installed here', {
      hint: `run this on a Slurm login node, or submit ${script} there yourself`,
    });
  }
  if (!r.ok)
    throw new GroundlabError('EXTERNAL', `sbatch failed: ${r.stderr.trim() || r.stdout.trim()}`, {
      file: script,
      hint: 'check the partition, time and memory options against the cluster',
    });
  const jobId = r.stdout.trim().split(';')[0].split(/\s+/).pop() ?? '';
  if (!/^\d+$/.test(jobId)) throw new GroundlabError('EXTERNAL', `sbatch answered "${r.stdout.trim()}", not a job id`, { file: script });
  const sub: SlurmSubmission = { jobId, submittedAt: new Date().toISOString(), script, indices };
  sweep.manifest.slurm = { jobs: [...(sweep.manifest.slurm?.jobs ?? []), sub] };
  saveManifest(sweep);
  return { script, indices, jobId };
}

/** Scheduler state of each array task of a job (task index -> e.g. PENDING, RUNNING, COMPLETED). */
export interface SchedulerView {
  /** squeue and/or sacct answered. */
  available: boolean;
  tasks: Map<number, string>;
  /** Whether squeue lists tasks of the job that have not finished. */
  queued: boolean;
  note?: string;
}

/** Scheduler states of a task that has not finished. */
const ACTIVE =
  /^(PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|RESIZING|SUSPENDED|REQUEUE_|SIGNALING|STAGE_OUT|RESV_DEL_HOLD|SPECIAL_EXIT)/;

/** Ask squeue (tasks still queued or running), then sacct (finished tasks, when accounting is on). */
export function schedulerView(jobId: string): SchedulerView {
  const tasks = new Map<number, string>();
  const sq = run('squeue', ['-h', '-r', '-t', 'all', '-j', jobId, '-o', '%i|%T']);
  let available = false;
  let queued = false;
  let note: string | undefined;
  if (sq.missing) note = 'squeue is not installed here';
  else if (sq.ok) {
    available = true;
    for (const line of sq.stdout.split('\n')) {
      const m = /^(\d+)_(\d+)\|(\S+)/.exec(line.trim());
      if (m && m[1] === jobId) {
        tasks.set(Number(m[2]), m[3]);
        if (ACTIVE.test(m[3])) queued = true;
      }
    }
  } else if (/invalid job id/i.test(sq.stderr)) {
    available = true; // the job has left the queue
  } else note = `squeue failed: ${sq.stderr.trim()}`;
  const sa = run('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'JobID,State']);
  if (sa.ok) {
    available = true;
    for (const line of sa.stdout.split('\n')) {
      const m = /^(\d+)_(\d+)\|(\S+)/.exec(line.trim());
      if (m && m[1] === jobId && !tasks.has(Number(m[2]))) tasks.set(Number(m[2]), m[3]);
    }
  }
  return { available, tasks, queued, note };
}

export interface CellStatus {
  index: number;
  name: string;
  state: CellStateName;
  /** Last checkpoint step in the run directory. */
  step: number;
  /** Planned steps, when the spec says. */
  steps?: number;
  attempts: number;
  /** Seconds the last attempt took (or has taken so far). */
  seconds?: number;
  host?: string;
  error?: string;
  /** Scheduler state of the cell's latest array task, when submitted to Slurm. */
  scheduler?: string;
  jobId?: string;
}

export interface SweepStatus {
  dir: string;
  name: string;
  cells: CellStatus[];
  counts: Record<CellStateName, number>;
  notes: string[];
}

/** The state of every cell from its run directory, joined with Slurm's view of the latest submission. */
export function sweepStatus(sweep: Sweep, opts: { scheduler?: boolean } = {}): SweepStatus {
  const notes: string[] = [];
  const latest = new Map<number, string>(); // cell index -> job id of the latest submission that holds it
  const views = new Map<string, SchedulerView>();
  for (const j of sweep.manifest.slurm?.jobs ?? []) for (const i of j.indices) latest.set(i, j.jobId);
  if (opts.scheduler !== false) {
    for (const jobId of new Set(latest.values())) {
      const v = schedulerView(jobId);
      views.set(jobId, v);
      if (v.note && !notes.includes(v.note)) notes.push(v.note);
    }
  }
  const counts: Record<CellStateName, number> = { pending: 0, running: 0, done: 0, failed: 0, interrupted: 0 };
  const cells: CellStatus[] = sweep.cells.map((c) => {
    const dir = cellDir(sweep, c);
    const st = effectiveCellState(dir);
    const jobId = latest.get(c.index);
    const sched = jobId ? views.get(jobId)?.tasks.get(c.index) : undefined;
    let state = st.state;
    // A task Slurm still holds but that has not written its state yet is pending; one Slurm ended
    // badly (TIMEOUT, CANCELLED, NODE_FAIL, OUT_OF_MEMORY) without the cell saying so failed.
    if (state === 'running' && sched && /^(TIMEOUT|CANCELLED|FAILED|NODE_FAIL|OUT_OF_ME|PREEMPTED|BOOT_FAIL|DEADLINE)/.test(sched))
      state = 'failed';
    counts[state]++;
    const steps = plannedSteps(dir, c.flags);
    const info = st.info;
    const seconds = info?.state === 'running' && info.startedAt ? (Date.now() - Date.parse(info.startedAt)) / 1000 : info?.seconds;
    return {
      index: c.index,
      name: c.name,
      state,
      step: lastCheckpointStep(dir),
      steps,
      attempts: info?.attempts ?? 0,
      seconds,
      host: info?.host,
      error: st.stale
        ? `its process (pid ${info?.childPid ?? info?.pid}) is gone: killed`
        : state === 'failed' || state === 'interrupted'
          ? (info?.error ?? sched)
          : undefined,
      scheduler: sched,
      jobId,
    };
  });
  const builds = new Map<string, number>();
  for (const c of sweep.cells) {
    const b = effectiveCellState(cellDir(sweep, c)).info?.build;
    if (b) builds.set(b, (builds.get(b) ?? 0) + 1);
  }
  if (builds.size > 1) {
    notes.push(
      `the cells were run by ${builds.size} different builds (${[...builds].map(([b, n]) => `${b}: ${n}`).join('; ')}): results may not be comparable`,
    );
  }
  return { dir: sweep.dir, name: sweep.spec.name, cells, counts, notes };
}

/** Wait until no task of these jobs is queued or running. */
export async function waitForJobs(
  jobIds: string[],
  opts: { pollSec?: number; timeoutSec?: number; signal?: AbortSignal; onPoll?: (queued: number) => void } = {},
): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    let queued = 0;
    for (const id of jobIds) {
      const v = schedulerView(id);
      if (!v.available) throw new GroundlabError('EXTERNAL', `cannot ask Slurm about job ${id}: ${v.note ?? 'no answer'}`);
      queued += [...v.tasks.values()].filter((s) => ACTIVE.test(s)).length;
    }
    opts.onPoll?.(queued);
    if (queued === 0) return;
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'stopped waiting for Slurm (the jobs keep running)');
    if (opts.timeoutSec && (Date.now() - t0) / 1000 > opts.timeoutSec) {
      throw new GroundlabError('EXTERNAL', `Slurm jobs ${jobIds.join(', ')} still queued after ${opts.timeoutSec} s`, {
        hint: 'see `groundlab sweep status`',
      });
    }
    await new Promise((r) => setTimeout(r, (opts.pollSec ?? 5) * 1000));
  }
}
