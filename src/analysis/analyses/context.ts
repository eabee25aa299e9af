/**
 * The contract of one analysis of `analyzeRun` (see ../analyze.ts): its name, what it depends
 * on, the tables it writes (with their columns) and how it computes one checkpoint. The list of
 * analyses is ./index.ts; adding an analysis is one file here and one line there.
 */
import type { LanguageModel } from '../../models/types';
import type { EvalSet, EvalSequence } from '../../eval/evalset';
import type { NounCounts } from '../cooccurrence';
import type { AnalysisRun, AnalyzeOptions } from '../analyze';

export type Row = Record<string, unknown>;

/** What an analysis sees while one checkpoint is analysed. */
export interface StepContext {
  step: number;
  run: AnalysisRun;
  opts: AnalyzeOptions;
  set: EvalSet;
  /** Every evaluation sequence; the match contexts and their indices into `seqs`. */
  seqs: EvalSequence[];
  match: EvalSequence[];
  matchIdx: number[];
  /** Evaluation batch size and padding id. */
  bs: number;
  padId: number;
  /** The corpus's per-noun co-occurrence counts. */
  counts: NounCounts[];
  /** Analyses still to compute at this step (requested ones and their dependencies, minus what is stored). */
  missing: ReadonlySet<string>;
  /** The checkpoint's model, loaded on first use. */
  model(): Promise<LanguageModel>;
  /** Progress message for this step. */
  say(what: string): void;
  /** Account the time since the last tick to a part ("surprisal", "load", ...). */
  tick(part: string): void;
  /** Record that an analysis was computed at this step. */
  note(name: string): void;
  /** Replace this step's rows of a table. */
  upsert(table: string, rows: Row[]): Promise<void>;
  /** Rows of a table (empty when it does not exist). */
  readRows(table: string): Promise<Row[]>;
  /** A value computed once per checkpoint and shared between analyses (e.g. surprisal, saliency). */
  once<T>(key: string, f: () => Promise<T>): Promise<T>;
  /** A shared value if some analysis computed it at this step. */
  shared<T>(key: string): T | undefined;
}

export interface AnalysisModule<N extends string = string> {
  readonly name: N;
  /** Analyses whose results this one reads (computed first when missing). */
  readonly depends: readonly string[];
  /** The table whose rows for a step mean "done". */
  readonly table: string;
  /** For a table shared with another analysis: the rows that are this analysis's. */
  doneRows?(rows: Row[]): Row[];
  /** Tables written and their columns (every per-checkpoint table has `step`). */
  readonly writes: Readonly<Record<string, readonly string[]>>;
  /** Supported on image-grounded runs (continuous ENV features). */
  readonly image: boolean;
  /** Compute this checkpoint and write its rows. */
  compute(ctx: StepContext): Promise<void>;
  /** Its section of the CLI summary (`runReport`), from its tables' rows of the reported steps; [] when there is nothing. */
  report?(read: (table: string) => Promise<Row[]>): Promise<string[]>;
  /** Its section of a reproduction's REPORT.md (src/reproduce/report.ts), over every run of the reproduction. */
  readonly reproduce?: ReproduceSection;
}

/** One run of a reproduction as a REPORT.md section sees it (src/reproduce/collect's RunTables is one). */
export interface ReportRun {
  /** Group folder (main, noise, ...) and the figure label ("transformer", "transformer (realistic corpus)", ...). */
  group: string;
  label: string;
  seed: number;
  /** The run's analysis tables by name without the `analysis/` prefix (those in TABLES of collect.ts and every section's `reads`). */
  tables: Record<string, Row[]>;
}

/** What a REPORT.md section is given: the runs, and the reproduction's own aggregation over seeds. */
export interface ReportContext {
  runs: readonly ReportRun[];
  /** Mean and 95% CI over seeds of `field` of `table`, per label, step and the `by` columns (rows: { ...by, label, step, mean, lo, hi, n }). */
  overSeeds(runs: readonly ReportRun[], table: string, field: string, filter?: (r: Row) => boolean, by?: string[]): Row[];
}

/** A table of a REPORT.md section: written as tables/<name>.md and .csv, and shown in REPORT.md unless `show` is false. */
export interface ReportTable {
  name: string;
  rows: Row[];
  /** [column, header] pairs. */
  cols: Array<[string, string]>;
  show?: boolean;
}

/** A section of REPORT.md that comes from one analysis: a heading, a paragraph, its tables. */
export interface ReproduceSection {
  title: string;
  /** What the tables show and how they were measured (a paragraph under the heading). */
  intro?: string;
  /** Tables the section needs beyond collect.ts's TABLES (names without `analysis/`). */
  reads?: readonly string[];
  /** The section's tables from every run; [] leaves the section out. */
  tables(ctx: ReportContext): ReportTable[];
  /** Markdown lines after the tables (e.g. a verdict counted from the runs). */
  notes?(ctx: ReportContext): string[];
}

export function defineAnalysis<N extends string>(m: AnalysisModule<N>): AnalysisModule<N> {
  return m;
}
