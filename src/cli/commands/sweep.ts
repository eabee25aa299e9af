/**
 * `groundlab sweep run|submit|cell|status|aggregate`: grids of runs on this machine or through Slurm.
 */
import * as aq from 'arquero';
import type { ColumnTable } from 'arquero';
import { GroundlabError } from '../../errors';
import { defineCommand, type Command, type CommandSpec, type Parsed } from '../args';
import {
  aggregateSweep,
  defaultJobs,
  openSweep,
  runCell,
  runSweepLocal,
  specFromFlags,
  submitSlurm,
  sweepStatus,
  waitForJobs,
  type Sweep,
  type SweepEvent,
} from '../../sweep';

function fmtSec(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

const out = (s: string) => process.stdout.write(s + '\n');

function printTable(t: ColumnTable, maxRows = 40): void {
  out(
    aq.toMarkdown(t, {
      limit: maxRows,
      format: Object.fromEntries(
        t.columnNames().map((c) => [c, (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(5) : String(v))]),
      ),
    }),
  );
}

function aggregateAndReport(sweep: Sweep, quiet: boolean): void {
  const agg = aggregateSweep(sweep);
  if (agg.cells.length === 0) {
    if (!quiet) out('sweep: no finished cell to aggregate yet');
    return;
  }
  if (!quiet) {
    out(
      `sweep: aggregated ${agg.cells.length} cells into ${sweep.dir}/aggregate/ (${Object.keys(agg.tables)
        .map((n) => n + '.arrow')
        .join(', ')}, + .csv)`,
    );
    if (agg.tables.final) printTable(agg.tables.final);
  }
}

/** Two abort controllers: the first Ctrl-C (or SIGTERM) asks cells to stop, the second kills them. */
function stopSignals(onFirst: () => void): { signal: AbortSignal; killSignal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const kill = new AbortController();
  const handler = () => {
    if (!stop.signal.aborted) {
      onFirst();
      stop.abort();
    } else {
      process.stderr.write('sweep: killing the running cells\n');
      kill.abort();
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: stop.signal,
    killSignal: kill.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

const RUN: CommandSpec = {
  name: 'sweep run',
  summary:
    'Run (or resume) a sweep on this machine: every cell a separate process, --jobs at once. Finished cells are skipped; failed or killed ones resume from their last checkpoint.',
  positionals: [
    { name: 'spec', help: 'a sweep spec (.json) or a sweep folder; omit it to give the grid with --arch/--preset/--seeds', optional: true },
  ],
  options: {
    jobs: { type: 'int', help: 'cells at once (one wasm thread each)', default: defaultJobs(), short: 'j' },
    out: { type: 'string', help: 'the sweep folder (default: the spec\'s "out", or <spec dir>/<name>)' },
    arch: { type: 'list', help: 'grid without a spec: architectures' },
    preset: { type: 'list', help: 'grid without a spec: presets' },
    seeds: { type: 'list', help: 'grid without a spec: seeds' },
    steps: { type: 'int', help: 'grid without a spec: training steps of every cell' },
    analyses: { type: 'list', help: 'grid without a spec: commands run after training (e.g. analyze)' },
    only: { type: 'list', help: 'run only these cells (names or indices, comma-separated)' },
    aggregate: { type: 'boolean', help: 'aggregate the finished cells at the end', default: true },
    quiet: { type: 'boolean', help: 'print only failures and the summary' },
  },
  examples: [
    'groundlab sweep run sweeps/noise.json --jobs 2',
    'groundlab sweep run --arch transformer,mamba2,lstm --preset tiny --seeds 1,2 --out sweeps/tiny',
  ],
};

function openFromArgs(p: Parsed, spec: CommandSpec): Sweep {
  const target = p.positionals[0];
  const o = p.options;
  if (target) {
    for (const k of ['arch', 'preset', 'seeds', 'steps', 'analyses']) {
      if (o[k] !== undefined)
        throw new GroundlabError('BAD_ARGUMENT', `--${k} builds a grid without a spec; with a spec, change the spec file instead`, {
          hint: `see \`groundlab ${spec.name} --help\``,
        });
    }
    return openSweep(target, { out: o.out as string | undefined });
  }
  if (!o.out)
    throw new GroundlabError('BAD_ARGUMENT', 'give a sweep spec, or the grid flags and --out', {
      hint: `see \`groundlab ${spec.name} --help\``,
    });
  const seeds = (o.seeds as string[] | undefined)?.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new GroundlabError('BAD_ARGUMENT', `--seeds: "${s}" is not a whole number`);
    return n;
  });
  const sp = specFromFlags({
    out: o.out as string,
    arch: o.arch as string[] | undefined,
    preset: o.preset as string[] | undefined,
    seeds,
    steps: o.steps as number | undefined,
    analyses: o.analyses as string[] | undefined,
  });
  return openSweep('', { spec: sp });
}

async function cmdRun(p: Parsed): Promise<number> {
  const sweep = openFromArgs(p, RUN);
  const quiet = Boolean(p.options.quiet);
  const jobs = p.options.jobs as number;
  if (jobs < 1) throw new GroundlabError('BAD_ARGUMENT', '--jobs must be at least 1');
  const tty = Boolean(process.stderr.isTTY);
  let lastLine = 0;
  let inPlace = false;
  const status = (s: string, force = false) => {
    if (quiet) return;
    if (tty) {
      process.stderr.write(`\r\x1b[2K${s}`);
      inPlace = true;
    } else if (force || Date.now() - lastLine > 10_000) {
      process.stderr.write(s + '\n');
      lastLine = Date.now();
    }
  };
  const say = (s: string, always = false) => {
    if (quiet && !always) return;
    if (inPlace) process.stderr.write('\r\x1b[2K');
    inPlace = false;
    process.stderr.write(s + '\n');
  };
  const stops = stopSignals(() => say('sweep: stopping: the running cells save a checkpoint and stop (Ctrl-C again kills them)', true));
  const onEvent = (e: SweepEvent) => {
    if (e.type === 'start') {
      say(
        `sweep ${sweep.spec.name}: ${e.counts.total} cells in ${sweep.dir}; ${e.counts.skipped} done already, ${e.counts.pending} to run, ${e.jobs} at once`,
      );
    } else if (e.type === 'cell-start') {
      say(`sweep: ${e.cell.name}: ${e.stage} (pid ${e.pid})`);
    } else if (e.type === 'cell-end') {
      const r = e.result;
      if (r.state === 'done') say(`sweep: ${r.name}: done in ${fmtSec(r.seconds)}`);
      else if (r.state === 'busy') say(`sweep: ${r.name}: ${r.error ?? 'already running in another process'}; left to it`);
      else say(`sweep: ${r.name}: ${r.state.toUpperCase()}: ${r.error ?? ''} (log: ${r.log})`, true);
    } else if (e.type === 'progress') {
      const c = e.counts;
      status(
        `sweep ${c.done}/${c.total} done, ${c.running} running, ${c.failed} failed${c.interrupted ? `, ${c.interrupted} interrupted` : ''}, ${(100 * e.fraction).toFixed(0)}% of this run, ETA ${fmtSec(e.etaSec)}`,
      );
    }
  };
  let only: number[] | undefined;
  if (p.options.only) {
    only = (p.options.only as string[]).map((x) => {
      const byName = sweep.cells.find((c) => c.name === x);
      if (byName) return byName.index;
      const i = Number(x);
      if (Number.isInteger(i) && sweep.cells[i]) return i;
      throw new GroundlabError('BAD_ARGUMENT', `--only: "${x}" is not a cell of this sweep`, {
        hint: `cells: ${sweep.cells.map((c) => `${c.index}=${c.name}`).join(', ')}`,
      });
    });
  }
  let res;
  try {
    res = await runSweepLocal(sweep, {
      jobs,
      only,
      signal: stops.signal,
      killSignal: stops.killSignal,
      onEvent,
      progressEverySec: tty ? 1 : 2,
    });
  } finally {
    stops.dispose();
  }
  const c = res.counts;
  say(
    `sweep ${sweep.spec.name}: ${c.done}/${c.total} done (${c.skipped} skipped), ${c.failed} failed, ${c.interrupted} interrupted, ${c.total - c.done - c.failed - c.interrupted} not run; wall ${fmtSec(res.seconds)} (${res.seconds.toFixed(1)} s)`,
    true,
  );
  if (c.busy) {
    const holders = [
      ...new Set(
        res.results
          .filter((r) => r.state === 'busy')
          .map((r) => /process (\d+ on \S+)/.exec(r.error ?? '')?.[1])
          .filter(Boolean),
      ),
    ];
    say(
      `sweep ${sweep.spec.name} is already running${holders.length ? ` (process ${holders.join(', ')})` : ''}: ${c.busy} cell(s) are being run there; follow them with \`groundlab sweep status ${sweep.dir}\``,
      true,
    );
  }
  if (c.failed || c.interrupted) say('sweep: run the same command again to resume the unfinished cells from their last checkpoints', true);
  for (const n of sweepStatus(sweep, { scheduler: false }).notes) say(`sweep: note: ${n}`, true);
  if (p.options.aggregate) aggregateAndReport(sweep, quiet);
  if (res.interrupted) return 130;
  return c.failed > 0 || c.done < c.total ? 1 : 0;
}

const CELL: CommandSpec = {
  name: 'sweep cell',
  summary: 'Run one cell of a sweep (what each Slurm array task runs). A cell already done is skipped.',
  positionals: [{ name: 'sweep', help: 'the sweep folder (or spec)' }],
  options: {
    index: { type: 'int', help: 'the cell index (Slurm: $SLURM_ARRAY_TASK_ID)' },
    force: { type: 'boolean', help: 'run it again even if done' },
  },
  examples: ['groundlab sweep cell sweeps/tiny --index 3'],
};

async function cmdCell(p: Parsed): Promise<number> {
  const sweep = openSweep(p.positionals[0], { write: false });
  const idx =
    (p.options.index as number | undefined) ??
    (process.env.SLURM_ARRAY_TASK_ID !== undefined ? Number(process.env.SLURM_ARRAY_TASK_ID) : undefined);
  if (idx === undefined || !Number.isInteger(idx))
    throw new GroundlabError('BAD_ARGUMENT', 'which cell? give --index N', { hint: `the cells are 0..${sweep.cells.length - 1}` });
  const cell = sweep.cells[idx];
  if (!cell) throw new GroundlabError('BAD_ARGUMENT', `--index ${idx}: the sweep has cells 0..${sweep.cells.length - 1}`);
  const job = process.env.SLURM_ARRAY_JOB_ID
    ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID}`
    : process.env.SLURM_JOB_ID;
  const stops = stopSignals(() => process.stderr.write(`sweep cell ${cell.name}: stopping (saving a checkpoint)\n`));
  let r;
  try {
    out(`sweep cell ${idx}: ${cell.name} in ${sweep.dir}`);
    r = await runCell(sweep, cell, { signal: stops.signal, killSignal: stops.killSignal, force: Boolean(p.options.force), slurmJob: job });
  } finally {
    stops.dispose();
  }
  out(
    `sweep cell ${cell.name}: ${r.state === 'busy' ? 'busy' : r.skipped ? 'done already' : r.state}${r.error ? `: ${r.error}` : ''} (log: ${r.log})`,
  );
  return r.state === 'done' ? 0 : r.state === 'interrupted' ? 130 : 1;
}

const SUBMIT: CommandSpec = {
  name: 'sweep submit',
  summary:
    'Submit a sweep to Slurm as a job array (one task per unfinished cell) with sbatch. The sweep folder must be on a filesystem the compute nodes share, and they must have Node >= 20 and this package at the same path.',
  positionals: [{ name: 'spec', help: 'a sweep spec (.json) or a sweep folder' }],
  options: {
    slurm: { type: 'boolean', help: 'submit to Slurm (the only scheduler supported)' },
    partition: { type: 'string', help: 'Slurm partition' },
    time: { type: 'string', help: 'time limit per cell (Slurm format, e.g. 2:00:00)' },
    cpus: { type: 'int', help: 'CPUs per cell', default: 1 },
    mem: { type: 'string', help: 'memory per cell (e.g. 4G)' },
    account: { type: 'string', help: 'Slurm account' },
    'max-parallel': { type: 'int', help: 'at most this many cells at once (array %N)' },
    sbatch: { type: 'list', help: 'more #SBATCH options, comma-separated (e.g. qos=short)' },
    out: { type: 'string', help: 'the sweep folder (default: from the spec)' },
    all: { type: 'boolean', help: 'submit every cell, also those done (they are skipped by the tasks)' },
    'dry-run': { type: 'boolean', help: 'write the script and print it; do not submit' },
    wait: { type: 'boolean', help: 'wait for the array to finish, then aggregate' },
    'poll-sec': { type: 'number', help: 'seconds between squeue polls with --wait', default: 5 },
  },
  examples: [
    'groundlab sweep submit --slurm sweeps/noise.json --partition cpu --time 4:00:00 --mem 4G',
    'groundlab sweep status sweeps/noise',
  ],
};

async function cmdSubmit(p: Parsed): Promise<number> {
  if (!p.options.slurm)
    throw new GroundlabError('BAD_ARGUMENT', 'say which scheduler: --slurm', {
      hint: 'groundlab sweep submit --slurm <spec>; for this machine use `groundlab sweep run`',
    });
  const sweep = openSweep(p.positionals[0], { out: p.options.out as string | undefined });
  const o = p.options;
  const r = submitSlurm(sweep, {
    partition: o.partition as string | undefined,
    time: o.time as string | undefined,
    cpus: o.cpus as number,
    mem: o.mem as string | undefined,
    account: o.account as string | undefined,
    maxParallel: o['max-parallel'] as number | undefined,
    extra: o.sbatch as string[] | undefined,
    all: Boolean(o.all),
    dryRun: Boolean(o['dry-run']),
  });
  if (r.indices.length === 0) {
    const st = sweepStatus(sweep);
    if (st.counts.done === sweep.cells.length) {
      out(`sweep ${sweep.spec.name}: every cell is done; nothing to submit`);
      aggregateAndReport(sweep, false);
    } else {
      out(
        `sweep ${sweep.spec.name}: nothing to submit: ${st.counts.done} cells done, the others are still queued or running (see \`groundlab sweep status ${sweep.dir}\`)`,
      );
    }
    return 0;
  }
  if (o['dry-run']) {
    out(`# ${r.script} (not submitted)`);
    process.stdout.write(require('node:fs').readFileSync(r.script, 'utf8'));
    return 0;
  }
  out(`sweep ${sweep.spec.name}: submitted job array ${r.jobId} (${r.indices.length} cells) with ${r.script}`);
  out(`  follow it with: groundlab sweep status ${sweep.dir}`);
  if (!o.wait) return 0;
  const stops = stopSignals(() => undefined);
  try {
    let last = -1;
    await waitForJobs([r.jobId!], {
      pollSec: o['poll-sec'] as number,
      signal: stops.signal,
      onPoll: (q) => {
        if (q !== last) process.stderr.write(`sweep: ${q} task(s) of job ${r.jobId} queued or running\n`);
        last = q;
      },
    });
  } finally {
    stops.dispose();
  }
  const st = sweepStatus(sweep);
  out(`sweep ${sweep.spec.name}: ${st.counts.done}/${sweep.cells.length} done, ${st.counts.failed} failed`);
  aggregateAndReport(sweep, false);
  return st.counts.done === sweep.cells.length ? 0 : 1;
}

const STATUS: CommandSpec = {
  name: 'sweep status',
  summary: 'The state of every cell of a sweep: its run directory (state, last checkpoint) and, when submitted to Slurm, squeue/sacct.',
  positionals: [{ name: 'sweep', help: 'the sweep folder (or spec)' }],
  options: { json: { type: 'boolean', help: 'print JSON' } },
};

async function cmdStatus(p: Parsed): Promise<number> {
  const sweep = openSweep(p.positionals[0], { write: false });
  const st = sweepStatus(sweep);
  if (p.options.json) {
    out(JSON.stringify(st, null, 2));
    return 0;
  }
  const c = st.counts;
  out(
    `sweep ${st.name} (${st.dir}): ${c.done}/${st.cells.length} done, ${c.running} running, ${c.failed} failed, ${c.interrupted} interrupted, ${c.pending} pending`,
  );
  const rows = st.cells.map((x) => ({
    index: x.index,
    cell: x.name,
    state: x.state,
    step: x.steps ? `${x.step}/${x.steps}` : String(x.step),
    attempts: x.attempts,
    time: x.seconds !== undefined ? fmtSec(x.seconds) : '',
    slurm: x.jobId ? `${x.jobId}_${x.index} ${x.scheduler ?? ''}`.trim() : '',
    note: x.error ?? '',
  }));
  printTable(aq.from(rows) as ColumnTable, 10_000);
  for (const n of st.notes) out(`note: ${n}`);
  return 0;
}

const AGGREGATE: CommandSpec = {
  name: 'sweep aggregate',
  summary:
    'Mean and 95% confidence interval over seeds of the final training measures and of every analysis table, written to <sweep>/aggregate/*.arrow and .csv.',
  positionals: [{ name: 'sweep', help: 'the sweep folder (or spec)' }],
  options: {},
};

async function cmdAggregate(p: Parsed): Promise<number> {
  const sweep = openSweep(p.positionals[0], { write: false });
  aggregateAndReport(sweep, false);
  return 0;
}

const SUBS: Record<string, { spec: CommandSpec; run: (p: Parsed) => Promise<number> }> = {
  run: { spec: RUN, run: cmdRun },
  submit: { spec: SUBMIT, run: cmdSubmit },
  cell: { spec: CELL, run: cmdCell },
  status: { spec: STATUS, run: cmdStatus },
  aggregate: { spec: AGGREGATE, run: cmdAggregate },
};

function usage(): string {
  return [
    'usage: groundlab sweep <run|submit|status|aggregate|cell> ...',
    '',
    'Grids of training runs (architectures x presets x seeds x corpus knobs), each cell an ordinary',
    'run directory under one sweep folder, run on this machine or as a Slurm job array.',
    '',
    ...Object.entries(SUBS).map(([k, v]) => `  ${k.padEnd(10)} ${v.spec.summary.split('. ')[0]}`),
    '',
    'groundlab sweep <sub> --help shows its options; docs/sweep.md describes the spec file.',
  ].join('\n');
}

export const command: Command = {
  async run(argv: string[]) {
    const [sub, ...rest] = argv;
    if (!sub || sub === '--help' || sub === '-h') {
      out(usage());
      return sub ? 0 : 2;
    }
    const s = SUBS[sub];
    if (!s) throw new GroundlabError('BAD_ARGUMENT', `unknown sweep command "${sub}"`, { hint: `one of: ${Object.keys(SUBS).join(', ')}` });
    return defineCommand(s.spec, s.run).run(rest);
  },
};
