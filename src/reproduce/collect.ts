/**
 * Read the analysis tables of every run of a reproduction into plain rows, grouped the way the
 * paper's figures and tables need them (per architecture / condition, mean and 95% CI over seeds).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openRun } from '../train/run';
import { meanCI } from '../metrics/stats';
import type { SweepSpec } from '../sweep/spec';
import { expandCells } from '../sweep/spec';
import { readCellState } from '../sweep/store';
import { atomicWrite } from '../io/atomic';
import { GroundlabError } from '../errors';
import { REGISTRY } from '../analysis/analyses';
import { TRAIN_PRESETS, type TrainPreset } from '../train/presets';
import type { RunConfig } from '../train/run';

export type Row = Record<string, unknown>;

/** A row of `overSeeds`: the `by` columns plus label, step and the mean with its 95% CI over seeds. */
export type SeriesRow = Row & { label: string; step: number; mean: number; lo: number; hi: number; n: number };

/** One trained run of the reproduction and the tables found in it. */
export interface RunTables {
  /** Group folder (main, checks/residual-lstm, ...) and cell name. */
  group: string;
  cell: string;
  /** A label for figures: "transformer", "lstm (residual)", "transformer (realistic corpus)", ... */
  label: string;
  arch: string;
  seed: number;
  dir: string;
  steps: number[];
  tables: Record<string, Row[]>;
  /**
   * The named setting of the synthetic corpus the run trained on ("simple", "realistic") when its
   * corpus has no knobs beyond its preset's own; undefined for other corpora and knob changes.
   */
  setting?: string;
  /** What the run cost (absent parts were not recorded). */
  timing?: RunTiming;
  /** The archive file the run was read from, when its folder was not there (see `writeArchive`). */
  archived?: string;
  /** Whether the run's sweep cell had finished (trained and analysed) when it was read; absent in archives written before this was kept. */
  done?: boolean;
}

export interface RunTiming {
  /** Training wall seconds over all sessions (the last checkpoint's `elapsedSec`). */
  trainSec?: number;
  /** Seconds of the run's sweep cell over all attempts: training, eval and analyses. */
  cellSec?: number;
  /** Seconds per sweep stage (train, eval, analyze), summed over attempts; absent for cells run before this was recorded. */
  stageSec?: Record<string, number>;
  attempts?: number;
}

function runTiming(dir: string, lastCheckpoint: string | undefined): RunTiming {
  const timing: RunTiming = {};
  if (lastCheckpoint) {
    try {
      const st = JSON.parse(fs.readFileSync(path.join(lastCheckpoint, 'state.json'), 'utf8')) as { elapsedSec?: number };
      if (typeof st.elapsedSec === 'number') timing.trainSec = st.elapsedSec;
    } catch {
      // a checkpoint without a readable state has no training time to report
    }
  }
  const cell = readCellState(dir);
  if (cell) {
    timing.cellSec = cell.totalSeconds ?? cell.seconds;
    if (cell.stageSeconds && Object.keys(cell.stageSeconds).length) timing.stageSec = cell.stageSeconds;
    timing.attempts = cell.attempts;
  }
  return timing;
}

/** The analysis tables read from every run: those the report's own figures and claims use, and those the registry's REPORT.md sections ask for. */
export const TABLES: readonly string[] = [
  ...new Set([
    ...['gain_summary', 'gain', 'cooccurrence', 'saliency', 'head_counts', 'heads', 'lens', 'ablation', 'das_grounding'],
    ...REGISTRY.flatMap((a) => a.reproduce?.reads ?? []),
  ]),
];

function labelOf(group: string, params: Record<string, unknown>): string {
  const arch = String(params.arch ?? 'transformer');
  if (group === 'checks/residual-lstm') return 'lstm (residual)';
  if (group === 'checks/shared-vocab') return 'transformer (shared vocabulary)';
  if (group === 'noise') return `${arch} (${params.corpus} corpus)`;
  if (group === 'dialogue') return `transformer (${params['corpus-kind']} dialogue)`;
  if (group === 'emergence/settings') return `${arch} [${params.corpus}]`;
  if (group === 'emergence/knobs') return `${arch} [simple + ${params.knob}]`;
  if (group === 'architectures/ablations') return `transformer (${params.model})`;
  if (group === 'architectures/one-layer') {
    const layers = String(params.model)
      .replace(/^mixing=/, '')
      .split('/');
    return `transformer (softmax in layer ${layers.indexOf('softmax')} only)`;
  }
  return arch;
}

function namedSetting(config: RunConfig): string | undefined {
  const c = config.corpus as { kind?: string; setting?: string; knobs?: Record<string, unknown> };
  if (c.kind !== 'synthetic' || !c.setting) return undefined;
  const own = (TRAIN_PRESETS[config.preset] as TrainPreset | undefined)?.corpusKnobs ?? {};
  const knobs = Object.entries(c.knobs ?? {});
  return knobs.every(([k, v]) => (own as Record<string, unknown>)[k] === v) ? c.setting : undefined;
}

/**
 * Every run of the plan that has at least its config (runs that never started are skipped). A run
 * whose folder is not there, or whose cell has not finished (training again, failed, stopped), is
 * read from a run archive instead (`writeArchive`) when one holds it: `root`'s own, then each of
 * `archives` in turn (report folders, e.g. a committed docs/results-medium), so that runs trained in
 * other sessions or on other machines count in the report. With its folder there, only an archive
 * of the finished run stands in for it; otherwise the unfinished folder is read (`done: false`).
 */
export async function collectRuns(root: string, specs: SweepSpec[], archives: string[] = []): Promise<RunTables[]> {
  const out: RunTables[] = [];
  for (const spec of specs) {
    const group = path.relative(path.resolve(root), spec.out).split(path.sep).join('/');
    for (const cell of expandCells(spec)) {
      const dir = path.join(spec.out, cell.name);
      const present = fs.existsSync(path.join(dir, 'config.json'));
      const done = present && readCellState(dir)?.state === 'done';
      if (!done) {
        const stand = findArchivedRun([root, ...archives], group, cell.name, dir, present);
        if (stand) out.push(stand);
        if (stand || !present) continue;
      }
      const run = await openRun(dir);
      const tables: Record<string, Row[]> = {};
      for (const t of TABLES) {
        const tab = await run.readTable(`analysis/${t}`);
        tables[t] = tab ? (tab.objects() as Row[]) : [];
      }
      out.push({
        group,
        cell: cell.name,
        label: labelOf(group, cell.params),
        arch: String(cell.params.arch ?? 'transformer'),
        seed: Number(cell.params.seed ?? 0),
        dir,
        steps: run.checkpoints.map((c) => c.step),
        tables,
        setting: namedSetting(run.config),
        timing: runTiming(dir, run.checkpoints.at(-1)?.dir),
        done,
      });
    }
  }
  return out;
}

/**
 * The first run archived for `group`/`cell` in `reports` (report folders, in order); with
 * `finishedOnly`, only an archive of a finished run counts (archives written before `done` was kept
 * count as finished). `dir`: where the run's folder would be.
 */
export function findArchivedRun(reports: string[], group: string, cell: string, dir: string, finishedOnly = false): RunTables | undefined {
  for (const report of reports) {
    const file = archiveFile(report, group, cell);
    if (!fs.existsSync(file)) continue;
    const r = readArchivedRun(file, dir);
    if (!finishedOnly || r.done !== false) return r;
  }
  return undefined;
}

/** The archive's format tag (a file of another format is refused, not misread). */
export const ARCHIVE_FORMAT = 'groundlab-run-tables/1';

/** Where a run's archive file lives in a report folder: `<report>/archive/<group>/<cell>.json`. */
export function archiveFile(report: string, group: string, cell: string): string {
  return path.join(report, 'archive', ...group.split('/'), `${cell}.json`);
}

/**
 * Write one archive file per run into `<report>/archive/`: the analysis tables the report reads, the
 * run's labels and what it cost, a few hundred kB a run, no weights. Commit it with REPORT.md: a
 * later report reads a run from there when the run's folder is gone (`collectRuns`).
 */
export async function writeArchive(report: string, runs: RunTables[]): Promise<string[]> {
  const files: string[] = [];
  for (const r of runs) {
    const file = archiveFile(report, r.group, r.cell);
    if (r.archived && path.resolve(r.archived) === path.resolve(file)) {
      files.push(file);
      continue;
    }
    const { dir: _dir, archived: _archived, ...rest } = r;
    const tables = Object.fromEntries(
      Object.entries(r.tables).map(([k, rows]) => [
        k,
        rows.map((row) => Object.fromEntries(Object.entries(row).map(([c, v]) => [c, toJSONValue(v)]))),
      ]),
    );
    await atomicWrite(file, JSON.stringify({ format: ARCHIVE_FORMAT, ...rest, tables }) + '\n');
    files.push(file);
  }
  return files;
}

/** Table values as JSON keeps them: big integers as numbers, NaN and infinities as their names (JSON has no such numbers). */
function toJSONValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** Read one archive file (`dir`: where the run's folder would be). */
export function readArchivedRun(file: string, dir: string): RunTables {
  let obj: Partial<RunTables> & { format?: string };
  try {
    obj = JSON.parse(fs.readFileSync(file, 'utf8'), (_k, v) => (typeof v === 'string' && Object.hasOwn(NON_FINITE, v) ? NON_FINITE[v] : v));
  } catch (e) {
    throw new GroundlabError('BAD_FILE', `${file}: not a readable run archive (${(e as Error).message})`, {
      hint: 'restore it from git (git checkout -- <file>) or delete it',
      file,
    });
  }
  if (obj.format !== ARCHIVE_FORMAT || !obj.group || !obj.cell || !obj.tables)
    throw new GroundlabError('BAD_FILE', `${file}: not a run archive of format ${ARCHIVE_FORMAT} (format ${obj.format ?? 'missing'})`, {
      hint: 'write it again from the run folders (groundlab reproduce --report-only) or delete it',
      codeHint: 'write it again from the run folders (reproduce({ ..., train: false })) or delete it',
      file,
    });
  return { ...(obj as RunTables), tables: Object.fromEntries(TABLES.map((t) => [t, obj.tables![t] ?? []])), dir, archived: file };
}

const num = (v: unknown) => (typeof v === 'bigint' ? Number(v) : Number(v));

/**
 * Mean and 95% CI over seeds of `field` in table `table`, per label, step and the `by` columns
 * (rows: { ...by, label, step, mean, lo, hi, n }); with one seed lo = hi = mean.
 */
export function overSeeds(
  runs: RunTables[],
  table: string,
  field: string,
  filter: (r: Row) => boolean = () => true,
  by: string[] = [],
): SeriesRow[] {
  const acc = new Map<string, { label: string; step: number; extra: Row; xs: number[] }>();
  for (const run of runs) {
    for (const r of run.tables[table] ?? []) {
      if (!filter(r)) continue;
      const v = num(r[field]);
      if (!Number.isFinite(v)) continue;
      const step = num(r.step);
      const extra: Row = Object.fromEntries(by.map((k) => [k, r[k]]));
      const key = [run.label, step, ...by.map((k) => String(r[k]))].join('\u0000');
      const e = acc.get(key) ?? { label: run.label, step, extra, xs: [] };
      e.xs.push(v);
      acc.set(key, e);
    }
  }
  return [...acc.values()]
    .map((e): SeriesRow => {
      const ci = meanCI(e.xs);
      return {
        ...e.extra,
        label: e.label,
        step: e.step,
        mean: ci.mean,
        lo: Number.isFinite(ci.lo) ? ci.lo : ci.mean,
        hi: Number.isFinite(ci.hi) ? ci.hi : ci.mean,
        n: ci.n,
      };
    })
    .sort(
      (a, b) =>
        String(a.label).localeCompare(String(b.label)) ||
        Number(a.step) - Number(b.step) ||
        by.reduce((c, k) => c || Number(a[k]) - Number(b[k]), 0),
    );
}

/** The last step every run of a label has in a table (for "at the end of training" claims). */
export function lastStep(runs: RunTables[], label: string, table: string): number | undefined {
  let last: number | undefined;
  for (const run of runs.filter((r) => r.label === label)) {
    const steps = (run.tables[table] ?? []).map((r) => num(r.step));
    if (!steps.length) return undefined;
    const m = Math.max(...steps);
    last = last === undefined ? m : Math.min(last, m);
  }
  return last;
}

/** The row of `rows` (from overSeeds) for a label at a step. */
export function at(rows: Row[], label: string, step: number | undefined): Row | undefined {
  return step === undefined ? undefined : rows.find((r) => r.label === label && num(r.step) === step);
}
