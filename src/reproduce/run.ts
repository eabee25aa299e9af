/**
 * `reproduce(opts)`: train what is missing (as local sweeps: finished runs are skipped, unfinished
 * ones resume from their last checkpoint), analyse every run, then write figures, tables and
 * REPORT.md. Interrupting stops the running cells cleanly; running it again picks up where it stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { openSweep } from '../sweep/store';
import { JobSlots, defaultJobs, runSweepLocal, type SweepCounts } from '../sweep/local';
import type { ProgressFn } from '../train/progress';
import { reproducePlan, type ReproduceOptions } from './plan';
import { collectRuns, findArchivedRun, type RunTables } from './collect';
import { writeReport, type ReportFiles } from './report';

export interface ReproduceRunOptions extends ReproduceOptions {
  /** Runs trained at once, one process each (default: the number of cores). */
  jobs?: number;
  signal?: AbortSignal;
  killSignal?: AbortSignal;
  onProgress?: ProgressFn;
  /** One line per finished or failed run (default: stderr). */
  log?: (line: string) => void;
  /** The command line, for REPORT.md. */
  command?: string;
  /** Write figures, tables and REPORT.md (default true; notebooks that only need the runs say false). */
  report?: boolean;
  /** Only the runs of these architectures (default all; a notebook that reads one run trains only it). */
  archs?: string[];
  /**
   * Report folders whose run archives (`archive/`, written beside every REPORT.md) fill in the runs
   * whose folders are not in `out` (or not finished there): runs trained in another session or on
   * another machine. A run archived there finished is not trained again.
   */
  merge?: string[];
  /**
   * Train and analyse what is missing (default true). false: train nothing and report on the runs
   * whose sweep cell is done (e.g. the finished runs of a reproduction still under way elsewhere).
   */
  train?: boolean;
}

export interface ReproduceResult extends Partial<ReportFiles> {
  /** Every run of the plan with its analysis tables. */
  runs: RunTables[];
  wallSec: number;
  failed: string[];
  interrupted: boolean;
}

export async function reproduce(opts: ReproduceRunOptions): Promise<ReproduceResult> {
  const t0 = Date.now();
  const out = path.resolve(opts.out);
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const specs = reproducePlan({ ...opts, out });
  for (const m of opts.merge ?? [])
    if (!fs.existsSync(path.join(m, 'archive')))
      throw new GroundlabError('NOT_FOUND', `--merge ${m}: no run archive there (${path.join(m, 'archive')} is missing)`, {
        hint: 'name a report folder written by groundlab reproduce (it holds REPORT.md and archive/), e.g. docs/results-medium',
        codeHint: 'name in merge a report folder written by reproduce() (it holds REPORT.md and archive/)',
      });
  const failed: string[] = [];
  let interrupted = false;
  // The groups run side by side and share one pool of job slots, so a group of a single run does not
  // leave the other cores idle; cells start in plan order (main first).
  const jobs = Math.max(1, Math.floor(opts.jobs ?? defaultJobs()));
  const slots = new JobSlots(jobs);
  const groups = new Map<string, { counts: SweepCounts; fraction: number }>();
  const report = (finished = false) => {
    if (!opts.onProgress) return;
    let total = 0,
      done = 0,
      running = 0,
      failedNow = 0,
      toRun = 0,
      doneHere = 0,
      skipped = 0;
    const active: string[] = [];
    for (const [group, g] of groups) {
      total += g.counts.total;
      done += g.counts.done;
      running += g.counts.running;
      failedNow += g.counts.failed;
      const n = g.counts.total - g.counts.skipped;
      toRun += n;
      skipped += g.counts.skipped;
      doneHere += g.fraction * n;
      if (g.counts.running > 0) active.push(group);
    }
    const elapsed = (Date.now() - t0) / 1000;
    const etaSec = doneHere > 0 ? ((toRun - doneHere) * elapsed) / doneHere : undefined;
    opts.onProgress({
      task: 'reproduce',
      step: done,
      total,
      etaSec: finished ? undefined : etaSec,
      // The bar moves while runs train (checkpointed steps), not only when a run finishes.
      fraction: total > 0 ? (finished ? done / total : Math.min(1, (skipped + doneHere) / total)) : undefined,
      done: finished || undefined,
      message: `${done}/${total} runs done, ${running} running${active.length ? ` (${active.join(', ')})` : ''}, ${failedNow} failed`,
    });
  };
  const timer = opts.onProgress && opts.train !== false ? setInterval(() => report(), 2000) : undefined;
  timer?.unref();
  try {
    if (opts.train !== false)
      await Promise.all(
        specs.map(async (spec) => {
          const sweep = openSweep(spec.out, { spec });
          const group = path.relative(out, spec.out);
          // A run that a --merge report holds finished counts as done: it is not trained again.
          const only = sweep.cells
            .filter((c) => !opts.archs || opts.archs.includes(String(c.params.arch ?? 'transformer')))
            .filter((c) => !opts.merge?.length || !findArchivedRun(opts.merge, group, c.name, path.join(spec.out, c.name), true))
            .map((c) => c.index);
          if (only.length === 0) return;
          const res = await runSweepLocal(sweep, {
            only,
            jobs,
            slots,
            signal: opts.signal,
            killSignal: opts.killSignal,
            onEvent: (e) => {
              if (e.type === 'start') groups.set(group, { counts: e.counts, fraction: 0 });
              else if (e.type === 'progress') groups.set(group, { counts: e.counts, fraction: e.fraction });
              else if (e.type === 'end') groups.set(group, { counts: e.counts, fraction: 1 });
              if (e.type !== 'cell-end') return;
              const r = e.result;
              if (r.state === 'done') log(`reproduce: ${group}/${r.name} done (${r.seconds.toFixed(0)} s)`);
              else {
                failed.push(`${group}/${r.name}`);
                log(`reproduce: ${group}/${r.name} ${r.state}: ${r.error ?? ''} (log: ${r.log})`);
              }
            },
          });
          if (res.interrupted) interrupted = true;
        }),
      );
  } finally {
    if (timer) clearInterval(timer);
  }
  if (opts.train !== false) report(true);
  if (interrupted || opts.signal?.aborted) {
    throw new GroundlabError('ABORTED', 'reproduce was interrupted; finished runs are kept', {
      hint: 'run the same command again to resume',
    });
  }
  const runs = (await collectRuns(out, specs, opts.merge ?? [])).filter(
    (r) => (!opts.archs || opts.archs.includes(r.arch)) && (r.archived || opts.train !== false || r.done),
  );
  const wallSec = (Date.now() - t0) / 1000;
  if (opts.report === false) return { runs, wallSec, failed, interrupted };
  const files = await writeReport(out, runs, {
    preset: opts.preset,
    wallSec,
    command: opts.command ?? `groundlab reproduce --preset ${opts.preset} --out ${opts.out}`,
  });
  return { ...files, runs, wallSec, failed, interrupted };
}
