/**
 * Running one cell: its stages (training, then each analysis) as child processes, output appended
 * to `<sweep>/_sweep/<cell>.log`, state kept in `<sweep>/_sweep/<cell>.json`. A stage that exited 0 is not run
 * again; training resumes from its last checkpoint when re-run on the same folder, so a killed or
 * failed cell picks up where it stopped.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGroundlabError } from '../errors';
import { acquireLock, type Lock } from '../io/lock';
import { flagsToArgv, type SweepCell } from './spec';
import { cellDir, cellLockPath, cellLogPath, readCellState, writeCellState, type CellState, type Sweep } from './store';

/**
 * The command that runs the groundlab CLI in a child process: this same build (node + the entry
 * script beside this file; under tsx, the TypeScript sources with tsx's loader).
 * `GROUNDLAB_SWEEP_CLI` (a command line split on spaces) replaces it.
 */
export function groundlabCommand(): string[] {
  const env = process.env.GROUNDLAB_SWEEP_CLI;
  if (env && env.trim()) return env.trim().split(/\s+/);
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `entry${ext}`);
  if (ext === '.ts') {
    const loader = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs');
    return [process.execPath, '--import', 'file://' + loader, entry];
  }
  return [process.execPath, entry];
}

let buildCache: string | undefined;

/**
 * Which groundlab build runs the cells: the package version, and the git commit (with "+dirty" when
 * the checkout has uncommitted changes) when the package is a git checkout. Recorded in each cell's
 * state, so a sweep whose cells ran on different code says so (`sweep status`).
 */
export function buildId(): string {
  if (buildCache !== undefined) return buildCache;
  let dir = __dirname;
  let root: string | undefined;
  let version = '?';
  for (let i = 0; i < 6; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'groundlab') {
          root = dir;
          version = pkg.version ?? '?';
          break;
        }
      } catch {
        /* keep looking */
      }
    }
    dir = path.dirname(dir);
  }
  let id = `groundlab ${version}`;
  if (root && fs.existsSync(path.join(root, '.git'))) {
    const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5000 });
    if (head.status === 0 && head.stdout.trim()) {
      const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 5000,
      });
      id += ` ${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() ? '+dirty' : ''}`;
    }
  }
  buildCache = id;
  return id;
}

function substitute(tokens: string[], vars: Record<string, string>, gl: string[]): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    if (t === '{groundlab}') {
      out.push(...gl);
      continue;
    }
    out.push(t.replace(/\{([A-Za-z][A-Za-z0-9._-]*)\}/g, (m, k: string) => (k in vars ? vars[k] : m)));
  }
  return out;
}

export interface Stage {
  name: string;
  argv: string[];
}

/** The stages of a cell, as argv lists. */
export function cellStages(sweep: Sweep, cell: SweepCell, gl: string[] = groundlabCommand()): Stage[] {
  const dir = cellDir(sweep, cell);
  const vars: Record<string, string> = { out: dir, node: process.execPath, name: cell.name, index: String(cell.index), sweep: sweep.dir };
  for (const [k, v] of Object.entries(cell.flags)) vars[k] = String(v);
  const flags = flagsToArgv(cell.flags);
  const train = sweep.spec.command
    ? [...substitute(sweep.spec.command, vars, gl), ...flags, '--out', dir]
    : [...gl, 'train', ...flags, '--out', dir];
  const stages: Stage[] = [{ name: 'train', argv: train }];
  for (const a of sweep.spec.analyses) {
    const argv = a.command ? substitute(a.command, vars, gl) : [...gl, a.name, dir, ...substitute(a.args ?? [], vars, gl)];
    stages.push({ name: a.name, argv });
  }
  return stages;
}

export interface CellResult {
  name: string;
  index: number;
  /** "busy": another live process (another sweep, a Slurm task) holds the cell's claim; nothing ran here. */
  state: 'done' | 'failed' | 'interrupted' | 'busy';
  /** True when the cell was already done and nothing ran. */
  skipped: boolean;
  seconds: number;
  error?: string;
  log: string;
}

export interface RunCellOptions {
  /** Aborting sends SIGINT to the running stage (it saves a checkpoint and exits). */
  signal?: AbortSignal;
  /** Aborting this one sends SIGKILL. */
  killSignal?: AbortSignal;
  /** Called with each child process id when a stage starts. */
  onStage?: (e: { cell: SweepCell; stage: string; pid: number }) => void;
  /** Run again even if the cell is done. */
  force?: boolean;
  /** Extra environment for the children. */
  env?: Record<string, string>;
  /** Recorded in the state file. */
  slurmJob?: string;
}

function fmtExit(code: number | null, sig: NodeJS.Signals | null): string {
  return sig ? `was killed by ${sig}` : `exited with code ${code}`;
}

/** Run one stage with its output appended to the log; resolves with its exit code and signal. */
function runStage(
  argv: string[],
  logFd: number,
  env: NodeJS.ProcessEnv,
  opts: RunCellOptions,
  onPid: (pid: number) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', logFd, logFd], env, detached: true });
    const sendTo = (sig: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, sig); // the whole process group of the stage
      } catch {
        try {
          child.kill(sig);
        } catch {
          /* gone */
        }
      }
    };
    let graceTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      sendTo('SIGINT');
      // A stage that does not stop within a minute of SIGINT is killed.
      graceTimer = setTimeout(() => sendTo('SIGKILL'), 60_000);
      graceTimer.unref();
    };
    const onKill = () => sendTo('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    opts.killSignal?.addEventListener('abort', onKill, { once: true });
    const done = (r: { code: number | null; signal: NodeJS.Signals | null; error?: string }) => {
      if (settled) return;
      settled = true;
      if (graceTimer) clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      opts.killSignal?.removeEventListener('abort', onKill);
      resolve(r);
    };
    child.on('error', (e) => done({ code: null, signal: null, error: `could not start ${argv[0]}: ${e.message}` }));
    child.on('exit', (code, sig) => done({ code, signal: sig }));
    if (child.pid !== undefined) onPid(child.pid);
    if (opts.signal?.aborted) onAbort();
  });
}

/**
 * Run a cell's remaining stages. A cell already done is skipped (unless `force`). The returned state
 * is also written to `<sweep>/_sweep/<cell>.json`.
 */
export async function runCell(sweep: Sweep, cell: SweepCell, opts: RunCellOptions = {}): Promise<CellResult> {
  const dir = cellDir(sweep, cell);
  const log = cellLogPath(dir);
  fs.mkdirSync(path.dirname(log), { recursive: true });
  // The claim: one process runs a cell at a time. Taking it is atomic (../io/lock.ts), so two sweeps
  // started together on one folder never both run a cell; the second one reports it as busy.
  let claim: Lock;
  try {
    claim = acquireLock(cellLockPath(dir), {
      what: `sweep cell ${cell.name}`,
      busyMessage: (h) => `already running in process ${h.pid} on ${h.host}`,
    });
  } catch (e) {
    if (isGroundlabError(e) && e.code === 'BUSY')
      return {
        name: cell.name,
        index: cell.index,
        state: 'busy',
        skipped: true,
        seconds: 0,
        error: e.message.split('\n')[0].replace(/^.*?: /, ''),
        log,
      };
    throw e;
  }
  try {
    return await runClaimed(sweep, cell, opts, dir, log);
  } finally {
    claim.release();
  }
}

async function runClaimed(sweep: Sweep, cell: SweepCell, opts: RunCellOptions, dir: string, log: string): Promise<CellResult> {
  const prev = readCellState(dir);
  if (prev?.state === 'done' && !opts.force) {
    return { name: cell.name, index: cell.index, state: 'done', skipped: true, seconds: 0, log };
  }
  const t0 = Date.now();
  const state: CellState = {
    name: cell.name,
    index: cell.index,
    state: 'running',
    stages: opts.force ? {} : { ...(prev?.stages ?? {}) },
    stageSeconds: opts.force ? {} : { ...(prev?.stageSeconds ?? {}) },
    attempts: (prev?.attempts ?? 0) + 1,
    startedAt: new Date(t0).toISOString(),
    host: os.hostname(),
    pid: process.pid,
    slurmJob: opts.slurmJob,
    build: buildId(),
  };
  writeCellState(dir, state);
  const logFd = fs.openSync(log, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, GROUNDLAB_SWEEP_CELL: cell.name, ...(opts.env ?? {}) };
  try {
    for (const stage of cellStages(sweep, cell)) {
      if (state.stages[stage.name] === 'done') continue;
      if (opts.signal?.aborted) break;
      fs.writeSync(
        logFd,
        `\n=== ${new Date().toISOString()} ${cell.name}: ${stage.name} (attempt ${state.attempts}) on ${os.hostname()}\n$ ${stage.argv.join(' ')}\n`,
      );
      state.stage = stage.name;
      const s0 = Date.now();
      const r = await runStage(stage.argv, logFd, env, opts, (pid) => {
        state.childPid = pid;
        writeCellState(dir, state);
        opts.onStage?.({ cell, stage: stage.name, pid });
      });
      state.childPid = undefined;
      state.stageSeconds![stage.name] = (state.stageSeconds![stage.name] ?? 0) + (Date.now() - s0) / 1000;
      if (r.code === 0) {
        state.stages[stage.name] = 'done';
        writeCellState(dir, state);
        continue;
      }
      const interrupted = opts.signal?.aborted === true;
      state.state = interrupted ? 'interrupted' : 'failed';
      state.error = r.error ?? `${stage.name} ${fmtExit(r.code, r.signal)}`;
      fs.writeSync(logFd, `=== ${cell.name}: ${state.error}\n`);
      break;
    }
    if (state.state === 'running') {
      if (opts.signal?.aborted) {
        state.state = 'interrupted';
        state.error = 'stopped before all stages ran';
      } else {
        state.state = 'done';
        state.error = undefined;
        state.stage = undefined;
      }
    }
  } finally {
    const t1 = Date.now();
    state.endedAt = new Date(t1).toISOString();
    state.seconds = (t1 - t0) / 1000;
    state.totalSeconds = (opts.force ? 0 : (prev?.totalSeconds ?? prev?.seconds ?? 0)) + state.seconds;
    if (state.state === 'running') {
      state.state = 'failed';
      state.error = 'the executor stopped unexpectedly';
    }
    writeCellState(dir, state);
    fs.closeSync(logFd);
  }
  return {
    name: cell.name,
    index: cell.index,
    state: state.state as CellResult['state'],
    skipped: false,
    seconds: state.seconds ?? 0,
    error: state.error,
    log,
  };
}
