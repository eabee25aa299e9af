/**
 * The sweep folder: `<sweep>/sweep.json` (the spec as run, the cells, Slurm submissions), one
 * ordinary run directory per cell `<sweep>/<cell>/` (only what the trainer and analyses write), and
 * the sweep's own files under `<sweep>/_sweep/`: `<cell>.json` (the cell's state: running, done,
 * failed, interrupted; which stages are done), `<cell>.log` (the output of every stage) and
 * `slurm/` (job-array scripts and task logs). Every write is atomic (temp file + rename), so a killed
 * process never leaves half a file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { atomicWriteSync } from '../io/atomic';
import { expandCells, readSpec, specToJSON, validateSpec, type SweepCell, type SweepSpec } from './spec';

export const MANIFEST = 'sweep.json';
/** The sweep's own files (cell states, logs, Slurm scripts), beside the cells: `<sweep>/_sweep/`. */
export const SWEEP_FILES = '_sweep';

export interface SlurmSubmission {
  jobId: string;
  submittedAt: string;
  script: string;
  /** Cell indices in the array. */
  indices: number[];
}

export interface SweepManifest {
  version: 1;
  name: string;
  createdAt: string;
  updatedAt: string;
  /** The spec file the sweep was last started from, if any. */
  specFile?: string;
  spec: Record<string, unknown>;
  cells: Array<{ index: number; name: string; params: SweepCell['params'] }>;
  slurm?: { jobs: SlurmSubmission[] };
}

export interface Sweep {
  dir: string;
  spec: SweepSpec;
  cells: SweepCell[];
  manifest: SweepManifest;
}

export type CellStateName = 'pending' | 'running' | 'done' | 'failed' | 'interrupted';

export interface CellState {
  name: string;
  index: number;
  state: Exclude<CellStateName, 'pending'>;
  /** Stage name -> 'done' once it exited 0 ("train", then each analysis). */
  stages: Record<string, 'done'>;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  /** Seconds the last attempt took. */
  seconds?: number;
  /** Seconds over all attempts (states written before this field existed count their last attempt only). */
  totalSeconds?: number;
  /** Seconds per stage, summed over attempts ("train", "eval", "analyze", ...). */
  stageSeconds?: Record<string, number>;
  host?: string;
  /** The process running the cell (sweep executor or `sweep cell` task) and its current child. */
  pid?: number;
  childPid?: number;
  stage?: string;
  error?: string;
  /** Slurm job and array task, when run by Slurm. */
  slurmJob?: string;
  /** The groundlab build that ran the last attempt (version, git commit). */
  build?: string;
}

export function writeJSONAtomic(file: string, obj: unknown): void {
  atomicWriteSync(file, JSON.stringify(obj, null, 2) + '\n');
}

function readJSON<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new GroundlabError('BAD_FILE', `not valid JSON (${(e as Error).message})`, {
      file,
      hint: 'delete the file to reset this state, or restore it',
    });
  }
}

export function cellDir(sweep: Sweep, cell: SweepCell): string {
  return path.join(sweep.dir, cell.name);
}

/** `<sweep>/_sweep/<cell>.json` for the cell directory `<sweep>/<cell>`. */
export function cellStatePath(dir: string): string {
  return path.join(path.dirname(dir), SWEEP_FILES, `${path.basename(dir)}.json`);
}

/** `<sweep>/_sweep/<cell>.log` for the cell directory `<sweep>/<cell>`. */
export function cellLogPath(dir: string): string {
  return path.join(path.dirname(dir), SWEEP_FILES, `${path.basename(dir)}.log`);
}

/** `<sweep>/_sweep/<cell>.lock`: the claim of the process running the cell (see ../io/lock.ts). */
export function cellLockPath(dir: string): string {
  return path.join(path.dirname(dir), SWEEP_FILES, `${path.basename(dir)}.lock`);
}

/** The state of the cell whose run directory is `dir`. */
export function readCellState(dir: string): CellState | undefined {
  return readJSON<CellState>(cellStatePath(dir));
}

export function writeCellState(dir: string, s: CellState): void {
  writeJSONAtomic(cellStatePath(dir), s);
}

/** Whether a process that claims a cell is still alive on this machine (and is still about that cell). */
export function processAlive(pid: number | undefined, mustMention?: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
  if (mustMention) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes(mustMention);
    } catch {
      return true; // no /proc: trust kill(0)
    }
  }
  return true;
}

/**
 * The effective state of a cell: its state file, except that a "running" cell whose process is gone
 * (on this host) reads as "failed" (killed). Cells run by Slurm on other hosts are taken at their word.
 */
export function effectiveCellState(dir: string): { state: CellStateName; info?: CellState; stale?: boolean } {
  const info = readCellState(dir);
  if (!info) return { state: 'pending' };
  if (info.state === 'running' && info.host === os.hostname()) {
    const alive = processAlive(info.childPid, dir) || processAlive(info.pid);
    if (!alive) return { state: 'failed', info, stale: true };
  }
  return { state: info.state, info };
}

function sameCells(a: SweepManifest['cells'], b: SweepManifest['cells']): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Open a sweep from a spec file (creating or updating `<out>/sweep.json`) or from a sweep folder
 * (reading the spec stored in its sweep.json).
 */
export function openSweep(target: string, opts: { out?: string; write?: boolean; spec?: SweepSpec } = {}): Sweep {
  let spec: SweepSpec;
  let old: SweepManifest | undefined;
  if (opts.spec) {
    spec = opts.spec;
  } else {
    const abs = path.resolve(target);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (e) {
      throw new GroundlabError('NOT_FOUND', `no sweep spec or sweep folder at ${abs}`, {
        cause: e,
        hint: 'give a spec file (.json) or a folder made by `groundlab sweep run`',
      });
    }
    if (st.isDirectory()) {
      const mf = path.join(abs, MANIFEST);
      old = readJSON<SweepManifest>(mf);
      if (!old)
        throw new GroundlabError('NOT_FOUND', `${abs} has no ${MANIFEST}: it is not a sweep folder`, {
          hint: 'give the spec file, or the folder a sweep wrote',
        });
      if (!old.spec || typeof old.spec !== 'object') throw new GroundlabError('BAD_FILE', 'no "spec" field', { file: mf });
      spec = validateSpec({ ...old.spec, out: abs }, { file: mf, dir: abs });
      spec.out = abs;
    } else {
      spec = readSpec(abs, { out: opts.out });
    }
  }
  if (opts.out) spec.out = path.resolve(opts.out);
  const dir = spec.out;
  old ??= readJSON<SweepManifest>(path.join(dir, MANIFEST));
  const cells = expandCells(spec);
  const now = new Date().toISOString();
  const cellList = cells.map((c) => ({ index: c.index, name: c.name, params: c.params }));
  const manifest: SweepManifest = {
    version: 1,
    name: spec.name,
    createdAt: old?.createdAt ?? now,
    updatedAt: now,
    specFile: spec.file ?? old?.specFile,
    spec: specToJSON(spec),
    cells: cellList,
    slurm: old?.slurm,
  };
  if (old && JSON.stringify(old.spec) === JSON.stringify(manifest.spec) && sameCells(old.cells, cellList)) {
    manifest.updatedAt = old.updatedAt;
  }
  const sweep: Sweep = { dir, spec, cells, manifest };
  if (opts.write !== false && (!old || manifest.updatedAt !== old.updatedAt || old.specFile !== manifest.specFile)) saveManifest(sweep);
  return sweep;
}

export function saveManifest(sweep: Sweep): void {
  writeJSONAtomic(path.join(sweep.dir, MANIFEST), sweep.manifest);
}

/** The highest checkpoint step of a run directory (`checkpoints/step-000500` -> 500), or 0. */
export function lastCheckpointStep(runDir: string): number {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(runDir, 'checkpoints'));
  } catch {
    return 0;
  }
  let best = 0;
  for (const n of names) {
    const m = /^step-(\d+)$/.exec(n);
    if (m) best = Math.max(best, Number(m[1]));
  }
  return best;
}

/**
 * The planned number of training steps of a cell: its `steps` flag, else what the trainer wrote in
 * the run's config.json (`train.steps`), else undefined.
 */
export function plannedSteps(runDir: string, flags: Record<string, unknown>): number | undefined {
  if (typeof flags.steps === 'number' && flags.steps > 0) return flags.steps;
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { train?: { steps?: unknown }; steps?: unknown };
    const s = cfg.train?.steps ?? cfg.steps;
    return typeof s === 'number' && s > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}
