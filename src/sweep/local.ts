/**
 * The local executor: the cells of a sweep as separate processes, `jobs` at a time (default: one
 * per core; each process computes on one wasm thread). Cells already done are skipped; failed,
 * killed or interrupted cells run again (training resumes from its last checkpoint).
 */
import * as os from 'node:os';
import { runCell, type CellResult, type RunCellOptions } from './cell';
import type { SweepCell } from './spec';
import { cellDir, effectiveCellState, lastCheckpointStep, plannedSteps, type Sweep } from './store';

/** Same shape as the trainer's ProgressEvent (src/train/progress.ts), so one renderer shows both. */
export interface SweepProgressEvent {
  task: string;
  step: number;
  total: number;
  etaSec?: number;
  message?: string;
  done?: boolean;
}

export interface SweepCounts {
  total: number;
  done: number;
  running: number;
  failed: number;
  interrupted: number;
  pending: number;
  /** Done before this run started. */
  skipped: number;
  /** Claimed by another live process (another sweep on this folder, a Slurm task): left to it. */
  busy?: number;
}

export type SweepEvent =
  | { type: 'start'; counts: SweepCounts; jobs: number }
  | { type: 'cell-start'; cell: SweepCell; stage: string; pid: number }
  | { type: 'cell-end'; cell: SweepCell; result: CellResult }
  | { type: 'progress'; counts: SweepCounts; etaSec?: number; fraction: number }
  | { type: 'end'; counts: SweepCounts; seconds: number };

export interface LocalRunOptions {
  /** Cells at once (default: number of cores). */
  jobs?: number;
  /** First abort: SIGINT to every running cell (they save and stop); no new cell starts. */
  signal?: AbortSignal;
  /** Second abort: SIGKILL to every running cell. */
  killSignal?: AbortSignal;
  onEvent?: (e: SweepEvent) => void;
  /** The same progress as ProgressEvents (task "sweep"). */
  onProgress?: (e: SweepProgressEvent) => void;
  /** Seconds between progress events (default 2). */
  progressEverySec?: number;
  /** Only these cells (indices). */
  only?: number[];
  env?: RunCellOptions['env'];
  /** Job slots shared with other sweeps running at the same time: a cell starts only when it holds one. */
  slots?: JobSlots;
}

/**
 * A counting pool of job slots, for several sweeps run side by side on one machine
 * (`groundlab reproduce` runs its groups at once, so a group of one run does not leave a core idle).
 * Waiters are served first come, first served.
 */
export class JobSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`job slots: ${size} (expected a whole number >= 1)`);
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
  /** Slots not held (for tests and progress). */
  get available(): number {
    return this.free;
  }
}

export interface LocalRunResult {
  counts: SweepCounts;
  results: CellResult[];
  seconds: number;
  interrupted: boolean;
}

export function defaultJobs(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Run (or resume) a sweep on this machine. */
export async function runSweepLocal(sweep: Sweep, opts: LocalRunOptions = {}): Promise<LocalRunResult> {
  const jobs = Math.max(1, Math.floor(opts.jobs ?? defaultJobs()));
  const t0 = Date.now();
  const cells = opts.only ? sweep.cells.filter((c) => opts.only!.includes(c.index)) : sweep.cells;
  const counts: SweepCounts = { total: cells.length, done: 0, running: 0, failed: 0, interrupted: 0, pending: 0, skipped: 0 };
  const queue: SweepCell[] = [];
  const busyElsewhere: SweepCell[] = [];
  for (const c of cells) {
    const st = effectiveCellState(cellDir(sweep, c));
    if (st.state === 'done') {
      counts.done++;
      counts.skipped++;
    } else if (st.state === 'running') {
      // Alive on this host (another executor) or claimed by another host (Slurm): leave it alone.
      busyElsewhere.push(c);
    } else {
      queue.push(c);
    }
  }
  counts.pending = queue.length;
  counts.running = 0;
  const emit = (e: SweepEvent) => opts.onEvent?.(e);
  emit({ type: 'start', counts: { ...counts }, jobs });

  const running = new Map<number, SweepCell>();
  const finishedHere: number[] = []; // seconds of cells finished in this run
  const results: CellResult[] = [];
  const progress = () => {
    // Work in cell units: finished cells count 1, running ones the fraction of steps checkpointed.
    let partial = 0;
    for (const c of running.values()) {
      const total = plannedSteps(cellDir(sweep, c), c.flags);
      if (total) partial += Math.min(1, lastCheckpointStep(cellDir(sweep, c)) / total) * 0.95;
    }
    const doneHere = finishedHere.length + partial;
    const remaining = counts.pending + running.size - partial;
    const elapsed = (Date.now() - t0) / 1000;
    const etaSec = doneHere > 0 ? (remaining * elapsed) / doneHere : undefined;
    const toRun = counts.total - counts.skipped - busyElsewhere.length;
    const fraction = toRun > 0 ? doneHere / toRun : 1;
    const c = { ...counts, running: running.size };
    emit({ type: 'progress', counts: c, etaSec, fraction });
    opts.onProgress?.({
      task: 'sweep',
      step: counts.done,
      total: counts.total,
      etaSec,
      message: `${counts.done}/${counts.total} done, ${running.size} running, ${counts.failed} failed${counts.interrupted ? `, ${counts.interrupted} interrupted` : ''}${busyElsewhere.length ? `, ${busyElsewhere.length} busy elsewhere` : ''}`,
    });
  };
  const timer = setInterval(progress, Math.max(0.1, opts.progressEverySec ?? 2) * 1000);
  timer.unref();

  // A worker keeps its shared slot from one cell to the next while its queue lasts, so sweeps sharing
  // the slots finish in the order they got them (a reproduction's plan order: main first) instead of
  // the slot going to whichever other sweep waited longest each time a cell ends.
  const worker = async () => {
    let held = false;
    try {
      while (queue.length > 0 && !opts.signal?.aborted) {
        if (!held) {
          await opts.slots?.acquire();
          held = true;
        }
        if (queue.length === 0 || opts.signal?.aborted) break;
        await runNext(queue.shift()!);
      }
    } finally {
      if (held) opts.slots?.release();
    }
  };
  const runNext = async (cell: SweepCell) => {
    counts.pending--;
    running.set(cell.index, cell);
    let result: CellResult;
    try {
      result = await runCell(sweep, cell, {
        signal: opts.signal,
        killSignal: opts.killSignal,
        env: opts.env,
        onStage: (e) => emit({ type: 'cell-start', ...e }),
      });
    } finally {
      running.delete(cell.index);
    }
    results.push(result);
    if (result.state === 'busy')
      busyElsewhere.push(cell); // another process claimed it first: not a failure
    else if (result.state === 'done') {
      counts.done++;
      // Found done once claimed (another sweep finished it meanwhile): skipped, as if seen done at the start.
      if (result.skipped) counts.skipped++;
      else finishedHere.push(result.seconds);
    } else if (result.state === 'interrupted') counts.interrupted++;
    else counts.failed++;
    emit({ type: 'cell-end', cell, result });
    progress();
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, Math.max(1, queue.length)) }, worker));
  } finally {
    clearInterval(timer);
  }
  // Cells never started because of an abort stay pending.
  const seconds = (Date.now() - t0) / 1000;
  counts.running = busyElsewhere.length;
  counts.busy = busyElsewhere.length;
  emit({ type: 'end', counts: { ...counts }, seconds });
  opts.onProgress?.({
    task: 'sweep',
    step: counts.done,
    total: counts.total,
    done: true,
    message: `${counts.done}/${counts.total} done, ${counts.failed} failed`,
  });
  return { counts, results, seconds, interrupted: opts.signal?.aborted === true };
}
