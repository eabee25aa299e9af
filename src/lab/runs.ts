/**
 * The runs the curated notebooks share: `labRuns()` makes sure the runs a notebook needs exist
 * (training and analysing what is missing, with a live progress display in a notebook) and
 * returns them with their analysis tables. They live in `<repo>/runs/reproduce-<preset>/`, the
 * same folders `groundlab reproduce --preset <preset>` uses, so the CLI and the notebooks share work.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { reproduce } from '../reproduce/run';
import { REPRODUCE_GROUPS, type ReproduceGroup } from '../reproduce/plan';
import type { RunTables } from '../reproduce/collect';
import type { ProgressFn } from '../train/progress';
import { PRESET_NAMES, type PresetName } from '../train/presets';
import { inNotebook, interruptSignal } from '../notebook/bridge';
import { progressDisplay } from '../notebook/progress';

/** The checkout's root (the folder of groundlab's package.json). */
export function repoRoot(): string {
  let d = __dirname;
  for (;;) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'groundlab') return d;
    const up = path.dirname(d);
    if (up === d) throw new GroundlabError('INTERNAL', 'cannot find the groundlab checkout above ' + __dirname);
    d = up;
  }
}

/** The preset notebooks use: `GROUNDLAB_PRESET` (CI sets tiny), else quick. */
export function labPreset(): PresetName {
  const p = process.env.GROUNDLAB_PRESET ?? 'quick';
  if (!(PRESET_NAMES as readonly string[]).includes(p))
    throw new GroundlabError('BAD_ARGUMENT', `GROUNDLAB_PRESET is "${p}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  return p as PresetName;
}

/** Where the shared runs of a preset live (`GROUNDLAB_RUNS` overrides). */
export function labDir(preset: PresetName = labPreset()): string {
  return process.env.GROUNDLAB_RUNS ?? path.join(repoRoot(), 'runs', `reproduce-${preset}`);
}

/** `GROUNDLAB_MERGE`: report folders (comma-separated, relative to the checkout) whose run archives notebooks read. */
export function labMerge(): string[] {
  return (process.env.GROUNDLAB_MERGE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => path.resolve(repoRoot(), s));
}

export interface LabRunsOptions {
  preset?: PresetName;
  /** Groups of runs (default main). */
  groups?: ReproduceGroup[];
  /**
   * Only the runs of these architectures (default all of each group): a notebook that reads the
   * Transformer asks for `["transformer"]` and waits for nothing else.
   */
  archs?: Array<'transformer' | 'mamba2' | 'lstm'>;
  /** Seeds of the main comparison (default: [0]; `groundlab reproduce` uses 2 for quick). */
  seeds?: number[];
  /** Default in a notebook: a live progress bar (`progressDisplay()`); elsewhere none. */
  onProgress?: ProgressFn;
  /** Default in a notebook: the stop button (`interruptSignal()`). */
  signal?: AbortSignal;
  /** Runs trained at once (default: cores). */
  jobs?: number;
  /**
   * Report folders whose run archives stand in for runs not trained here (`reproduce`'s `merge`):
   * their tables are read, nothing is trained for them. Default: `GROUNDLAB_MERGE` (folders
   * separated by commas, relative to the checkout), e.g. `docs/results-medium`.
   */
  merge?: string[];
  /**
   * The notebook opens the runs' checkpoints (an inspector, a forward pass), which an archive does
   * not hold: `merge` is ignored and every run is trained here (default false).
   */
  weights?: boolean;
  log?: (line: string) => void;
}

const ARCHS = ['transformer', 'mamba2', 'lstm'];

/**
 * Make sure the runs of `groups` (of `archs`) exist, training and analysing what is missing, and
 * return them. In a notebook it always shows its progress (one bar: runs done, running, and how far
 * the running ones are) and stops on the stop button, keeping finished runs and checkpoints.
 */
export async function labRuns(opts: LabRunsOptions = {}): Promise<RunTables[]> {
  const preset = opts.preset ?? labPreset();
  const groups = opts.groups ?? ['main'];
  for (const g of groups)
    if (!REPRODUCE_GROUPS.includes(g))
      throw new GroundlabError('BAD_ARGUMENT', `labRuns: unknown group "${g}"`, { hint: `groups: ${REPRODUCE_GROUPS.join(', ')}` });
  for (const a of opts.archs ?? [])
    if (!ARCHS.includes(a))
      throw new GroundlabError('BAD_ARGUMENT', `labRuns: unknown architecture "${a}"`, { hint: `archs: ${ARCHS.join(', ')}` });
  const notebook = inNotebook();
  const merge = opts.weights ? [] : (opts.merge ?? labMerge());
  const res = await reproduce({
    merge,
    preset,
    out: labDir(preset),
    groups,
    archs: opts.archs,
    seeds: opts.seeds ?? [0],
    report: false,
    onProgress: opts.onProgress ?? (notebook ? progressDisplay() : undefined),
    signal: opts.signal ?? (notebook ? interruptSignal() : undefined),
    jobs: opts.jobs,
    log: opts.log ?? (() => {}),
  });
  if (res.failed.length)
    throw new GroundlabError('EXTERNAL', `some runs failed: ${res.failed.join(', ')}`, {
      hint: `their logs are under ${labDir(preset)}/<group>/_sweep/`,
    });
  return res.runs;
}

/** The run of a label (e.g. "transformer", "lstm (residual)") with the lowest seed. */
export function pickRun(runs: RunTables[], label: string): RunTables {
  const r = runs.filter((x) => x.label === label).sort((a, b) => a.seed - b.seed)[0];
  if (!r)
    throw new GroundlabError('NOT_FOUND', `no run labelled "${label}"`, {
      hint: `labels: ${[...new Set(runs.map((x) => x.label))].join(', ')}`,
    });
  return r;
}
