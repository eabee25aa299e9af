/**
 * Sweep specs: a small JSON file that names a grid of training runs (architectures, presets,
 * seeds, any other `groundlab train` flag such as corpus knobs) and the analyses to run after each
 * training. The grid expands into cells with deterministic names; each cell is an ordinary run
 * directory `<sweep>/<cell-name>/`.
 *
 * ```json
 * {
 *   "name": "noise",
 *   "grid": { "arch": ["transformer", "lstm"], "preset": ["tiny"], "seed": [1, 2] },
 *   "train": { "steps": 300 },
 *   "analyses": ["analyze"]
 * }
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError, isGroundlabError } from '../errors';
import { nearestName, unknownNameHint } from '../names';

/** A flag value: strings and numbers become `--key value`; true becomes `--key`, false `--no-key`. */
export type FlagValue = string | number | boolean;

/** One step run after training, in the cell's folder. */
export interface AnalysisStep {
  /** Name shown in progress and used as the stage key in the cell's state file. */
  name: string;
  /**
   * The command. Default: `groundlab <name> <cell-dir> ...args`. With `command`, the tokens are used
   * as given after placeholder substitution (`{out}`, `{node}`, `{groundlab}`, `{<axis>}`).
   */
  args?: string[];
  command?: string[];
}

export interface SweepSpec {
  /** The sweep's name (default: the spec file's base name). */
  name: string;
  /** The sweep folder (default: `<spec dir>/<name>`; relative paths are relative to the spec file). */
  out: string;
  /** Axes, in order; each a non-empty list of values. The cells are their cartesian product. */
  grid: Record<string, FlagValue[]>;
  /** Flags given to every cell's training (`steps`, `batch-size`, ...). */
  train: Record<string, FlagValue>;
  /** Analyses run after training, in order. */
  analyses: AnalysisStep[];
  /**
   * Replaces `groundlab train`: the cell's flags and `--out <cell-dir>` are appended. Tokens may
   * use the placeholders `{node}`, `{groundlab}`, `{out}`, `{<axis>}`.
   */
  command?: string[];
  /** Where the spec came from (for error messages), when read from a file. */
  file?: string;
}

/** One run of the grid. */
export interface SweepCell {
  /** Position in the grid (Slurm array task id). */
  index: number;
  /** Folder name under the sweep folder. */
  name: string;
  /** The value of every axis for this cell. */
  params: Record<string, FlagValue>;
  /** Training flags (`train` merged with `params`), in order. */
  flags: Record<string, FlagValue>;
}

/**
 * Axes whose value alone names them in a cell name (`--knob noise=0.3` -> `noise=0.3`); `seed` is
 * written `s<N>` and always last; any other axis is `<key><value>`.
 */
const BARE_AXES = new Set(['arch', 'preset', 'corpus', 'knob', 'model']);
const KNOWN_FIELDS = new Set(['name', 'out', 'grid', 'train', 'analyses', 'command', '$schema', 'description']);

function bad(file: string | undefined, field: string, what: string, hint?: string): GroundlabError {
  return new GroundlabError('BAD_CONFIG', `sweep spec field "${field}": ${what}`, { file, hint });
}

function isFlagValue(v: unknown): v is FlagValue {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

function checkKey(file: string | undefined, field: string, key: string): void {
  if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(key)) {
    throw bad(
      file,
      field,
      `"${key}" is not a flag name`,
      'use the name of a `groundlab train` option without dashes, e.g. "steps" or "batch-size"',
    );
  }
}

/** Validate a parsed JSON object as a spec. `file` names the spec in errors; `dir` resolves `out`. */
export function validateSpec(raw: unknown, opts: { file?: string; dir?: string; name?: string } = {}): SweepSpec {
  const { file } = opts;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GroundlabError('BAD_CONFIG', 'a sweep spec must be a JSON object', { file, hint: 'see docs/sweep.md for an example' });
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN_FIELDS.has(k))
      throw bad(
        file,
        k,
        'unknown field',
        unknownNameHint(
          k,
          [...KNOWN_FIELDS].filter((f) => !f.startsWith('$')),
          'the fields are',
        ),
      );
  }
  let name = opts.name ?? 'sweep';
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.name)) {
      throw bad(file, 'name', `expected a simple name (letters, digits, . _ -), got ${JSON.stringify(o.name)}`);
    }
    name = o.name;
  }
  let out: string;
  if (o.out !== undefined) {
    if (typeof o.out !== 'string' || o.out === '') throw bad(file, 'out', `expected a folder path, got ${JSON.stringify(o.out)}`);
    out = path.resolve(opts.dir ?? process.cwd(), o.out);
  } else {
    out = path.resolve(opts.dir ?? process.cwd(), name);
  }
  if (o.grid === undefined || o.grid === null || typeof o.grid !== 'object' || Array.isArray(o.grid)) {
    throw bad(file, 'grid', 'expected an object of axes, e.g. {"arch": ["transformer"], "seed": [1, 2]}');
  }
  const grid: Record<string, FlagValue[]> = {};
  for (const [k, v] of Object.entries(o.grid as Record<string, unknown>)) {
    checkKey(file, `grid.${k}`, k);
    if (k === 'out') throw bad(file, 'grid.out', 'the output folder is set by the sweep, not by the grid');
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) throw bad(file, `grid.${k}`, 'an axis needs at least one value');
    list.forEach((x, i) => {
      if (!isFlagValue(x)) throw bad(file, `grid.${k}[${i}]`, `expected a string, number or boolean, got ${JSON.stringify(x)}`);
    });
    if (new Set(list.map((x) => JSON.stringify(x))).size !== list.length) throw bad(file, `grid.${k}`, 'a value appears twice');
    if (k === 'seed') {
      list.forEach((x, i) => {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
          throw bad(file, `grid.seed[${i}]`, `a seed is a whole number >= 0, got ${JSON.stringify(x)}`);
        if (!Number.isSafeInteger(x))
          throw bad(file, `grid.seed[${i}]`, `a seed is at most 2^53 - 1 (${Number.MAX_SAFE_INTEGER}); ${x} cannot be represented exactly`);
      });
    }
    grid[k] = list as FlagValue[];
  }
  if (Object.keys(grid).length === 0) throw bad(file, 'grid', 'no axes: name at least one, e.g. "seed": [1, 2]');
  const train: Record<string, FlagValue> = {};
  if (o.train !== undefined) {
    if (o.train === null || typeof o.train !== 'object' || Array.isArray(o.train))
      throw bad(file, 'train', 'expected an object of flags, e.g. {"steps": 300}');
    for (const [k, v] of Object.entries(o.train as Record<string, unknown>)) {
      checkKey(file, `train.${k}`, k);
      if (k === 'out') throw bad(file, 'train.out', 'the output folder of each cell is set by the sweep');
      if (!isFlagValue(v)) throw bad(file, `train.${k}`, `expected a string, number or boolean, got ${JSON.stringify(v)}`);
      if (k in grid) throw bad(file, `train.${k}`, `"${k}" is also an axis of the grid: keep it in one place`);
      train[k] = v;
    }
  }
  const analyses: AnalysisStep[] = [];
  if (o.analyses !== undefined) {
    if (!Array.isArray(o.analyses)) throw bad(file, 'analyses', 'expected a list, e.g. ["analyze"]');
    o.analyses.forEach((a, i) => {
      const f = `analyses[${i}]`;
      if (typeof a === 'string') {
        const toks = a.trim().split(/\s+/).filter(Boolean);
        if (toks.length === 0) throw bad(file, f, 'empty command');
        analyses.push({ name: toks[0], args: toks.slice(1) });
        return;
      }
      if (a === null || typeof a !== 'object' || Array.isArray(a))
        throw bad(file, f, 'expected "command args..." or {"name": ..., "args": [...]} or {"name": ..., "command": [...]}');
      const r = a as Record<string, unknown>;
      for (const k of Object.keys(r))
        if (!['name', 'args', 'command'].includes(k))
          throw bad(file, `${f}.${k}`, 'unknown field', unknownNameHint(k, ['name', 'args', 'command'], 'the fields are'));
      if (typeof r.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(r.name))
        throw bad(file, `${f}.name`, 'expected a simple name');
      const strList = (v: unknown, ff: string): string[] | undefined => {
        if (v === undefined) return undefined;
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(file, ff, 'expected a list of strings');
        return v as string[];
      };
      const step: AnalysisStep = { name: r.name, args: strList(r.args, `${f}.args`), command: strList(r.command, `${f}.command`) };
      if (step.command && step.command.length === 0) throw bad(file, `${f}.command`, 'empty command');
      analyses.push(step);
    });
    const names = analyses.map((a) => a.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw bad(file, 'analyses', `two analyses are named "${dup}"`, 'give each a distinct "name"');
    if (names.includes('train')) throw bad(file, 'analyses', '"train" is the training stage, not an analysis');
  }
  let command: string[] | undefined;
  if (o.command !== undefined) {
    if (!Array.isArray(o.command) || o.command.length === 0 || o.command.some((x) => typeof x !== 'string')) {
      throw bad(file, 'command', 'expected a non-empty list of strings, e.g. ["{groundlab}", "train"]');
    }
    command = o.command as string[];
  }
  if (!command) {
    // The cells run `groundlab train`: every axis and train flag must be one of its options.
    const options = trainOptionNames();
    for (const [where, keys] of [
      ['grid', Object.keys(grid)],
      ['train', Object.keys(train)],
    ] as const) {
      for (const k of keys) {
        if (!options.includes(k)) {
          const near = nearestName(k, options);
          throw bad(
            file,
            `${where}.${k}`,
            `"${k}" is not a \`groundlab train\` option`,
            `${near ? `did you mean "${near}"? ` : ''}the options are: ${options.join(', ')}`,
          );
        }
      }
    }
  }
  return { name, out, grid, train, analyses, command, file };
}

/** The option names of `groundlab train` (its command spec is the one place they are defined). */
function trainOptionNames(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../cli/commands/train') as { command: { spec: { options: Record<string, unknown> } } };
  return Object.keys(mod.command.spec.options);
}

/**
 * Check one cell's training flags the way `groundlab train` will, so that a bad value is refused
 * when the spec is read rather than when the cell fails: the option types and choices (the train
 * command's own parser), the model config keys of the cell's architecture, and its corpus knobs.
 */
function checkCellFlags(spec: SweepSpec, cell: SweepCell): void {
  const fail = (e: unknown): never => {
    if (!isGroundlabError(e)) throw e;
    throw new GroundlabError('BAD_CONFIG', `sweep spec: cell ${cell.name}: ${e.message.split('\n')[0]}`, { file: spec.file, hint: e.hint });
  };
  /* eslint-disable @typescript-eslint/no-require-imports */
  const cli = require('../cli/commands/train') as typeof import('../cli/commands/train');
  const args = require('../cli/args') as typeof import('../cli/args');
  let o: Record<string, unknown>;
  try {
    o = args.parseArgs((cli.command as unknown as { spec: import('../cli/args').CommandSpec }).spec, flagsToArgv(cell.flags)).options;
  } catch (e) {
    return fail(e);
  }
  try {
    const arch = (o.arch as string | undefined) ?? 'transformer';
    const preset = (o.preset as string | undefined) ?? 'tiny';
    const train = require('../train') as typeof import('../train');
    if (o.seed !== undefined) train.checkSeed(o.seed as number);
    if (o.model)
      train.checkModelKeys(arch as never, preset as never, cli.parseKeyValues(o.model as string[], 'model'), train.withDefaults());
    if (o.knob) {
      const data = require('../data') as typeof import('../data');
      const knobs = cli.parseKeyValues(o.knob as string[], 'knob') as Record<string, unknown>;
      for (const k of data.COMMON_KNOBS) delete knobs[k];
      const kind = (o['corpus-kind'] as string | undefined) ?? 'synthetic';
      const setting = (o.corpus as string | undefined) ?? (kind === 'synthetic' ? train.trainPreset(preset).corpusSetting : 'simple');
      if (kind === 'synthetic') data.syntheticKnobs(setting, knobs);
      else if (kind === 'caption') data.dialogKnobs(setting, knobs);
      else if (kind === 'image') data.imageKnobs(setting, knobs);
      else if (kind === 'chat') data.chatOptionsFromKnobs(knobs as Record<string, string>);
    }
  } catch (e) {
    fail(e);
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** 1-based line of a character offset. */
function lineAt(text: string, pos: number): number {
  return text.slice(0, pos).split('\n').length;
}

/** Read and validate a spec file. Errors name the file, the line (JSON syntax) or the field. */
export function readSpec(file: string, overrides: { out?: string } = {}): SweepSpec {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new GroundlabError('NOT_FOUND', `cannot read the sweep spec`, {
      file: abs,
      cause: e,
      hint: 'give the path of a sweep spec (.json) or of a sweep folder',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const lm = /line (\d+)/.exec(msg);
    const line = m ? lineAt(text, Number(m[1])) : lm ? Number(lm[1]) : undefined;
    throw new GroundlabError('PARSE', `the sweep spec is not valid JSON (${msg})`, { file: abs, line, cause: e });
  }
  const base = path.basename(abs).replace(/\.json$/i, '');
  const spec = validateSpec(raw, { file: abs, dir: path.dirname(abs), name: /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(base) ? base : 'sweep' });
  if (overrides.out) spec.out = path.resolve(overrides.out);
  return spec;
}

function nameToken(key: string, v: FlagValue): string {
  const s = typeof v === 'boolean' ? (v ? key : `no-${key}`) : String(v);
  const clean = s.replace(/[^A-Za-z0-9.=+-]+/g, '-').replace(/^-+|-+$/g, '');
  if (key === 'seed') return `s${clean}`;
  if (BARE_AXES.has(key) || typeof v === 'boolean') return clean;
  const short = key.replace(/^.*[.]/, '');
  return `${short}${clean}`;
}

/**
 * The cells of a spec: the cartesian product of the axes in the order they are written, except that
 * `seed` varies fastest and is written last in names (`transformer_tiny_s1`). Names are deterministic.
 */
export function expandCells(spec: SweepSpec): SweepCell[] {
  const keys = Object.keys(spec.grid).filter((k) => k !== 'seed');
  if ('seed' in spec.grid) keys.push('seed');
  const cells: SweepCell[] = [];
  const rec = (i: number, params: Record<string, FlagValue>) => {
    if (i === keys.length) {
      const name =
        keys
          .map((k) => nameToken(k, params[k]))
          .filter(Boolean)
          .join('_') || 'cell';
      cells.push({ index: cells.length, name, params: { ...params }, flags: { ...spec.train, ...params } });
      return;
    }
    for (const v of spec.grid[keys[i]]) rec(i + 1, { ...params, [keys[i]]: v });
  };
  rec(0, {});
  const seen = new Map<string, number>();
  for (const c of cells) {
    const j = seen.get(c.name);
    if (j !== undefined) {
      throw new GroundlabError('BAD_CONFIG', `sweep spec field "grid": cells ${j} and ${c.index} would share the folder name "${c.name}"`, {
        file: spec.file,
        hint: 'make the values of each axis differ in letters or digits (other characters are replaced by "-")',
      });
    }
    seen.set(c.name, c.index);
  }
  if (!spec.command) for (const c of cells) checkCellFlags(spec, c);
  return cells;
}

/** `{ steps: 300, fast: true }` -> `["--steps", "300", "--fast"]`. */
export function flagsToArgv(flags: Record<string, FlagValue>): string[] {
  const argv: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (v === true) argv.push(`--${k}`);
    else if (v === false) argv.push(`--no-${k}`);
    else argv.push(`--${k}`, String(v));
  }
  return argv;
}

/** A spec from CLI flags (`groundlab sweep run --arch a,b --seeds 1,2 --out DIR`). */
export function specFromFlags(f: {
  out: string;
  arch?: string[];
  preset?: string[];
  seeds?: number[];
  steps?: number;
  analyses?: string[];
}): SweepSpec {
  const grid: Record<string, FlagValue[]> = {};
  if (f.arch?.length) grid.arch = f.arch;
  if (f.preset?.length) grid.preset = f.preset;
  grid.seed = f.seeds?.length ? f.seeds : [1];
  const raw: Record<string, unknown> = { name: path.basename(path.resolve(f.out)).replace(/[^A-Za-z0-9._-]/g, '-') || 'sweep', grid };
  if (f.steps !== undefined) raw.train = { steps: f.steps };
  if (f.analyses?.length) raw.analyses = f.analyses;
  const spec = validateSpec(raw, { file: undefined, dir: process.cwd() });
  spec.out = path.resolve(f.out);
  return spec;
}

/** The JSON form of a spec as stored in `<sweep>/sweep.json` (absolute `out`, no `file`). */
export function specToJSON(spec: SweepSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { name: spec.name, out: spec.out, grid: spec.grid, train: spec.train };
  o.analyses = spec.analyses.map((a) => (a.command ? { name: a.name, command: a.command } : { name: a.name, args: a.args ?? [] }));
  if (spec.command) o.command = spec.command;
  return o;
}
