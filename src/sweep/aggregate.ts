/**
 * Aggregation across the cells of a sweep: mean and Student-t 95% confidence interval over seeds
 * (every grid axis except `seed` is a group key) of
 *  - the final training measures (last row of `metrics/train.arrow`: loss and any other numeric
 *    column that is not a timing or schedule column) -> `aggregate/final.arrow`, one row per group;
 *  - every analysis and probe table (`analysis/<name>.arrow`, `probes/<name>.arrow`) ->
 *    `aggregate/analysis-<name>.arrow`, `aggregate/probes-<name>.arrow`: first, in
 *    each cell, the mean over rows per key (step, layer, head and string columns other than items
 *    such as noun/env_noun/context/frame), then mean and CI over seeds per group and key. Item
 *    columns and columns that are already statistics (ci_lo, sem, n, *_count, ...) are not measures.
 * Per-cell values go to `aggregate/cells.arrow`. Each table is also written as CSV.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as aq from 'arquero';
import type { ColumnTable } from 'arquero';
import { GroundlabError } from '../errors';
import { meanCI as tInterval, std } from '../metrics/stats';
import { atomicWriteSync } from '../io/atomic';
import type { FlagValue } from './spec';
import { cellDir, effectiveCellState, type Sweep } from './store';

/** Numeric columns of the training table that are not measures of the model. */
const NOT_A_MEASURE =
  /(^step$|^epoch$|time|sec|elapsed|wall|clock|date|tokens_?per|per_?s(ec)?$|throughput|^lr$|learning_?rate|^tokens$|^seen)/i;
/** Folders of a run whose tables are aggregated (`analysis/gain.arrow` -> `aggregate/analysis-gain.arrow`). */
const TABLE_FOLDERS = ['analysis', 'probes'];
/** Numeric columns of analysis tables that index rather than measure. */
const NUMERIC_KEYS = /^(step|checkpoint|layer|head|block|position|pos|k|rank)$/i;
/** Columns naming items (nouns, contexts, ...): averaged over inside a cell rather than kept as keys. */
const ITEM_COLUMNS =
  /(^|_)(nouns?|words?|tokens?|items?|frames?|templates?|ids?|examples?|contexts?|sentences?|targets?|seq|sequences?|ngram|reason)$/i;
/** Columns that are already statistics or counts of items (a mean over seeds of them means nothing). */
const STAT_COLUMNS = /^(ci|ci_lo|ci_hi|sem|se|sd|std|n|count|lo|hi)$|_(lo|hi|sd|sem|se|std|n|count)$/i;

/** Mean, sample sd and Student-t interval over the finite values (the seeds of a group); NaN bounds for n < 2. */
export function seedStats(values: readonly number[], level = 0.95): { n: number; mean: number; sd: number; lo: number; hi: number } {
  const xs = values.filter((v) => Number.isFinite(v));
  const ci = tInterval(xs, level);
  return { n: xs.length, mean: ci.mean, sd: xs.length < 2 ? NaN : std(xs), lo: ci.lo, hi: ci.hi };
}

export interface AggregateOptions {
  /** Confidence level (default 0.95). */
  level?: number;
  /** Only cells in state done (default true); otherwise any cell with tables. */
  doneOnly?: boolean;
  /** Write tables (default true). */
  write?: boolean;
}

export interface AggregateResult {
  /** Tables by name: "cells", "final", "analysis-<name>", "probes-<name>". */
  tables: Record<string, ColumnTable>;
  /** Files written. */
  files: string[];
  /** Cells that contributed. */
  cells: string[];
}

export function readArrowFile(file: string): ColumnTable {
  try {
    return aq.fromArrow(fs.readFileSync(file)) as ColumnTable;
  } catch (e) {
    throw new GroundlabError('BAD_FILE', `cannot read this Arrow table (${(e as Error).message})`, { file, cause: e });
  }
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}

function columnKind(t: ColumnTable, col: string): 'number' | 'string' | 'other' {
  const n = t.numRows();
  for (let i = 0; i < n; i++) {
    const v = t.get(col, i);
    if (v === null || v === undefined) continue;
    if (typeof v === 'number' || typeof v === 'bigint') return 'number';
    if (typeof v === 'string') return 'string';
    return 'other';
  }
  return 'other';
}

function listArrowFiles(dir: string, prefix = ''): string[] {
  let ents: fs.Dirent[];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of ents.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) out.push(...listArrowFiles(path.join(dir, e.name), `${prefix}${e.name}/`));
    else if (e.name.endsWith('.arrow')) out.push(`${prefix}${e.name.slice(0, -'.arrow'.length)}`);
  }
  return out;
}

/** The last row (by step when there is a step column) of a training table, as measure -> value. */
export function finalMeasures(t: ColumnTable): Record<string, number> {
  const n = t.numRows();
  if (n === 0) return {};
  const cols = t.columnNames();
  let last = n - 1;
  if (cols.includes('step')) {
    let best = -Infinity;
    for (let i = 0; i < n; i++) {
      const s = num(t.get('step', i));
      if (s >= best) {
        best = s;
        last = i;
      }
    }
  }
  const out: Record<string, number> = {};
  if (cols.includes('step')) out.step = num(t.get('step', last));
  for (const c of cols) {
    if (NOT_A_MEASURE.test(c) || columnKind(t, c) !== 'number') continue;
    out[c] = num(t.get(c, last));
  }
  return out;
}

interface CellRow {
  name: string;
  params: Record<string, FlagValue>;
}

function groupKey(params: Record<string, FlagValue>, keys: string[]): string {
  return JSON.stringify(keys.map((k) => params[k]));
}

/** Within one cell: mean over item rows of each measure, per key tuple. */
function perCellMeans(t: ColumnTable): {
  keys: string[];
  measures: string[];
  rows: Map<string, { key: unknown[]; values: Record<string, number> }>;
} {
  const cols = t.columnNames();
  const keys: string[] = [];
  const measures: string[] = [];
  for (const c of cols) {
    const kind = columnKind(t, c);
    if (kind === 'number') {
      if (NUMERIC_KEYS.test(c)) keys.push(c);
      else if (!ITEM_COLUMNS.test(c) && !STAT_COLUMNS.test(c)) measures.push(c);
    } else if (kind === 'string' && !ITEM_COLUMNS.test(c)) keys.push(c);
  }
  const acc = new Map<string, { key: unknown[]; sums: Record<string, number>; counts: Record<string, number> }>();
  const n = t.numRows();
  for (let i = 0; i < n; i++) {
    const key = keys.map((k) => {
      const v = t.get(k, i);
      return typeof v === 'bigint' ? Number(v) : v;
    });
    const ks = JSON.stringify(key);
    let a = acc.get(ks);
    if (!a) acc.set(ks, (a = { key, sums: {}, counts: {} }));
    for (const m of measures) {
      const v = num(t.get(m, i));
      if (!Number.isFinite(v)) continue;
      a.sums[m] = (a.sums[m] ?? 0) + v;
      a.counts[m] = (a.counts[m] ?? 0) + 1;
    }
  }
  const rows = new Map<string, { key: unknown[]; values: Record<string, number> }>();
  for (const [ks, a] of acc) {
    const values: Record<string, number> = {};
    for (const m of measures) values[m] = a.counts[m] ? a.sums[m] / a.counts[m] : NaN;
    rows.set(ks, { key: a.key, values });
  }
  return { keys, measures, rows };
}

function compareKeys(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y));
  }
  return 0;
}

/** Aggregate the cells of a sweep into tables (and write them under `<sweep>/aggregate/`). */
export function aggregateSweep(sweep: Sweep, opts: AggregateOptions = {}): AggregateResult {
  const level = opts.level ?? 0.95;
  const groupKeys = Object.keys(sweep.spec.grid).filter((k) => k !== 'seed');
  const used: CellRow[] = [];
  const finals = new Map<string, Record<string, number>>();
  const analysis = new Map<string, Map<string, ColumnTable>>(); // table name -> cell name -> table
  for (const cell of sweep.cells) {
    const dir = cellDir(sweep, cell);
    const st = effectiveCellState(dir);
    if ((opts.doneOnly ?? true) && st.state !== 'done') continue;
    const metrics = path.join(dir, 'metrics', 'train.arrow');
    const hasMetrics = fs.existsSync(metrics);
    // Analysis and probe tables, as "analysis/<name>" and "probes/<name>".
    const tables = TABLE_FOLDERS.flatMap((f) => listArrowFiles(path.join(dir, f)).map((n) => `${f}/${n}`));
    if (!hasMetrics && tables.length === 0) continue;
    used.push({ name: cell.name, params: cell.params });
    if (hasMetrics) finals.set(cell.name, finalMeasures(readArrowFile(metrics)));
    for (const name of tables) {
      let m = analysis.get(name);
      if (!m) analysis.set(name, (m = new Map()));
      m.set(cell.name, readArrowFile(path.join(dir, `${name}.arrow`)));
    }
  }
  const tables: Record<string, ColumnTable> = {};
  const axes = Object.keys(sweep.spec.grid);
  const cellOrder = new Map(sweep.cells.map((c) => [c.name, c.index]));
  used.sort((a, b) => cellOrder.get(a.name)! - cellOrder.get(b.name)!);

  // Per-cell final values.
  const measureNames = [...new Set([...finals.values()].flatMap((f) => Object.keys(f)))];
  {
    const cols: Record<string, unknown[]> = { cell: used.map((c) => c.name) };
    for (const a of axes) cols[a] = used.map((c) => c.params[a]);
    for (const m of measureNames) cols[m === 'step' ? 'final_step' : m] = used.map((c) => finals.get(c.name)?.[m] ?? NaN);
    tables.cells = aq.table(cols) as ColumnTable;
  }
  // Groups (all axes but seed), in grid order.
  const groups = new Map<string, CellRow[]>();
  for (const c of used) {
    const k = groupKey(c.params, groupKeys);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(c);
  }
  const addStats = (cols: Record<string, unknown[]>, m: string, ci: ReturnType<typeof seedStats>) => {
    (cols[`${m}_mean`] ??= []).push(ci.mean);
    (cols[`${m}_sd`] ??= []).push(ci.sd);
    (cols[`${m}_lo`] ??= []).push(ci.lo);
    (cols[`${m}_hi`] ??= []).push(ci.hi);
  };
  {
    const cols: Record<string, unknown[]> = {};
    for (const k of groupKeys) cols[k] = [];
    cols.n = [];
    const ms = measureNames.filter((m) => m !== 'step');
    if (measureNames.includes('step')) cols.final_step = [];
    for (const [, cells] of groups) {
      const withFinal = cells.filter((c) => finals.has(c.name));
      if (withFinal.length === 0) continue;
      for (const k of groupKeys) cols[k].push(cells[0].params[k]);
      cols.n.push(withFinal.length);
      if (cols.final_step) cols.final_step.push(Math.max(...withFinal.map((c) => finals.get(c.name)!.step ?? NaN)));
      for (const m of ms)
        addStats(
          cols,
          m,
          seedStats(
            withFinal.map((c) => finals.get(c.name)![m] ?? NaN),
            level,
          ),
        );
    }
    if (cols.n.length > 0) tables.final = aq.table(cols) as ColumnTable;
  }
  // Analysis tables.
  for (const [name, byCell] of analysis) {
    const per = new Map<string, ReturnType<typeof perCellMeans>>();
    for (const [cell, t] of byCell) per.set(cell, perCellMeans(t));
    const first = [...per.values()][0];
    const keys = first.keys;
    const measures = [...new Set([...per.values()].flatMap((p) => p.measures))];
    const cols: Record<string, unknown[]> = {};
    for (const k of groupKeys) cols[k] = [];
    for (const k of keys) cols[k] = [];
    cols.n = [];
    for (const [, cells] of groups) {
      const present = cells.filter((c) => per.has(c.name));
      if (present.length === 0) continue;
      const allKeys = new Map<string, unknown[]>();
      for (const c of present) for (const [ks, r] of per.get(c.name)!.rows) if (!allKeys.has(ks)) allKeys.set(ks, r.key);
      const sorted = [...allKeys.entries()].sort((a, b) => compareKeys(a[1], b[1]));
      for (const [ks, key] of sorted) {
        for (const k of groupKeys) cols[k].push(present[0].params[k]);
        keys.forEach((k, i) => cols[k].push(key[i]));
        const vals = (m: string) => present.map((c) => per.get(c.name)!.rows.get(ks)?.values[m] ?? NaN);
        cols.n.push(Math.max(0, ...measures.map((m) => vals(m).filter(Number.isFinite).length)));
        for (const m of measures) addStats(cols, m, seedStats(vals(m), level));
      }
    }
    tables[name.replace(/\//g, '-')] = aq.table(cols) as ColumnTable;
  }
  const files: string[] = [];
  if (opts.write ?? true) {
    const outDir = path.join(sweep.dir, 'aggregate');
    for (const [name, t] of Object.entries(tables)) {
      const arrow = path.join(outDir, `${name}.arrow`);
      atomicWriteSync(arrow, aq.toArrowIPC(t) as Uint8Array);
      const csv = path.join(outDir, `${name}.csv`);
      atomicWriteSync(csv, aq.toCSV(t) + '\n');
      files.push(arrow, csv);
    }
  }
  return { tables, files, cells: used.map((c) => c.name) };
}
