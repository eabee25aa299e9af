/**
 * The run directory, the unit of record:
 *
 *   <run>/config.json                      model config, train config, corpus spec, seed
 *   <run>/tokenizer.json                   the tokenizer (WordTokenizer.fromJSON restores it)
 *   <run>/checkpoints/step-000500/         model.safetensors, optimizer.safetensors, state.json
 *   <run>/metrics/train.arrow (+ .csv)     loss per step
 *   <run>/analysis/*.arrow, probes/*.arrow tables written by later stages (writeTable)
 *
 * Every file is written atomically; a checkpoint folder is filled under a temporary name and
 * renamed into place, so a listed checkpoint is always complete.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as aq from 'arquero';
import type { ColumnTable } from 'arquero';
import { GroundlabError } from '../errors';
import { atomicWrite, atomicWriteJSON } from '../io/atomic';
import { loadTensorsInto } from '../io/safetensors';
import type { Arch, LanguageModel } from '../models/types';
import type { CorpusSpec, Tokenizer } from '../data/types';
import { knownArchs, withDefaults, type AnyModelConfig, type TrainDeps, type TrainingData } from './deps';
import { validateTrainConfig, type PresetName, type TrainConfig } from './presets';
import type { RngState } from '../engine/rng';

export type { ColumnTable };

export const RUN_FORMAT = 'groundlab-run';
export const RUN_VERSION = 1;

export interface RunConfig {
  format: typeof RUN_FORMAT;
  version: number;
  arch: Arch;
  preset: PresetName;
  /** Seed of the initialisation and of the data order. */
  seed: number;
  /** The full model config (createModel(model, seed) rebuilds the model). */
  model: AnyModelConfig;
  train: TrainConfig;
  /** How to rebuild the corpus exactly. */
  corpus: CorpusSpec;
  createdAt: string;
  /** Engine the run was started with, for the record. */
  engine?: { backend: string; threads: number };
  /**
   * Present for a run made by `groundlab import` (src/io/hf-import.ts): where the model came
   * from. Its data are `corpus` tokenized with the run's own tokenizer (the evaluation corpus).
   */
  imported?: { format: string; from: string; tokenizer: string; at: string };
  /**
   * Present for a run started from another run's weights (`groundlab train --init-from`): the
   * source run's folder and checkpoint step. Its checkpoint 0 holds those weights; the optimiser,
   * the data order and the step count started fresh.
   */
  initFrom?: InitFrom;
}

/** A source of initial weights: a run folder and one of its checkpoint steps. */
export interface InitFrom {
  run: string;
  step: number;
}

export interface CheckpointInfo {
  step: number;
  dir: string;
}

/** state.json of a checkpoint. */
export interface CheckpointState {
  step: number;
  /** Loss of the last step before this checkpoint (undefined at step 0). */
  loss?: number;
  /** Data order: epoch, position in the epoch's permutation, RNG state before the epoch's shuffle. */
  data: { epoch: number; pos: number; epochRng: RngState };
  tokensSeen: number;
  /** Wall-clock seconds of training so far (all sessions). */
  elapsedSec: number;
  savedAt: string;
  /** The model config the weights were trained with (checkpoints written since groundlab 0.x have it). */
  model?: Record<string, unknown>;
}

export interface Run {
  dir: string;
  config: RunConfig;
  /** Complete checkpoints, sorted by step. */
  checkpoints: CheckpointInfo[];
  tokenizer: Tokenizer;
  /** The model at a checkpoint (default: the last). The caller disposes it. */
  loadModel(step?: number): Promise<LanguageModel>;
  /** The corpus and dataset, rebuilt from config.corpus (cached). */
  data(): Promise<TrainingData>;
  /** Write `<run>/<name>.arrow` atomically ("analysis/surprisal" -> analysis/surprisal.arrow). */
  writeTable(name: string, table: ColumnTable): Promise<void>;
  readTable(name: string): Promise<ColumnTable | undefined>;
  /** Write `<run>/<name>.json` atomically (".json" is added unless the name has an extension). */
  writeJSON(name: string, obj: unknown): Promise<void>;
  readJSON<T = unknown>(name: string): Promise<T | undefined>;
  /** Re-read the checkpoint list (after training wrote more). */
  refresh(): Promise<void>;
}

export const checkpointDirName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/** List complete checkpoints of a run directory (sorted by step). */
export function listCheckpoints(dir: string): CheckpointInfo[] {
  const root = path.join(dir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  const out: CheckpointInfo[] = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    const m = /^step-(\d+)$/.exec(e.name);
    if (!m || !e.isDirectory()) continue;
    const d = path.join(root, e.name);
    if (fs.existsSync(path.join(d, 'state.json'))) out.push({ step: Number(m[1]), dir: d });
  }
  return out.sort((a, b) => a.step - b.step);
}

function relName(dir: string, name: string, ext: string): string {
  if (!name || path.isAbsolute(name) || name.split(/[\\/]/).some((p) => p === '..' || p === '')) {
    throw new GroundlabError('BAD_ARGUMENT', `table/JSON name "${name}" must be a relative path inside the run, like "analysis/surprisal"`);
  }
  return path.join(dir, path.extname(name) ? name : name + ext);
}

export async function readJSONFile<T>(file: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new GroundlabError('NOT_FOUND', `${what} does not exist`, { file, cause: e });
    throw new GroundlabError('BAD_FILE', `cannot read ${what}: ${(e as Error).message}`, { file, cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new GroundlabError('BAD_FILE', `${what} is not valid JSON (${(e as Error).message})`, {
      file,
      cause: e,
      hint: 'the file is damaged; restore it or start a new run',
    });
  }
}

/** Check config.json's shape; throws BAD_CONFIG naming the file. */
export function validateRunConfig(c: unknown, file: string): RunConfig {
  const bad = (what: string) =>
    new GroundlabError('BAD_CONFIG', `run config ${what}`, {
      file,
      hint: 'config.json was edited or damaged; restore it from the run that wrote the checkpoints',
    });
  if (!c || typeof c !== 'object') throw bad('is not a JSON object');
  const r = c as Partial<RunConfig>;
  if (r.format !== RUN_FORMAT) throw bad(`has format ${JSON.stringify(r.format)}, expected "${RUN_FORMAT}"`);
  if (typeof r.version !== 'number' || r.version > RUN_VERSION)
    throw bad(`has version ${r.version}; this groundlab reads version <= ${RUN_VERSION}`);
  if (!knownArchs().includes(String(r.arch))) throw bad(`has arch ${JSON.stringify(r.arch)} (known: ${knownArchs().join(', ')})`);
  if (!r.model || typeof r.model !== 'object' || r.model.arch !== r.arch) throw bad('has no model config for its arch');
  for (const k of ['vocabSize', 'contextLength', 'dModel', 'nLayers'] as const) {
    if (!Number.isInteger(r.model[k]) || (r.model[k] as number) < 1) throw bad(`model.${k} is ${JSON.stringify(r.model[k])}`);
  }
  if (!r.train || typeof r.train !== 'object') throw bad('has no train config');
  try {
    validateTrainConfig(r.train);
  } catch (e) {
    throw bad(`is invalid: ${(e as Error).message}`);
  }
  if (!r.corpus || typeof r.corpus !== 'object') throw bad('has no corpus spec');
  if (!Number.isInteger(r.seed)) throw bad(`has seed ${JSON.stringify(r.seed)}`);
  return r as RunConfig;
}

export interface OpenRunOptions {
  /** Replace the models/data stages (tests, toy models). */
  deps?: Partial<TrainDeps>;
}

/** Open an existing run directory. Missing folder or config: NOT_FOUND; damaged files: BAD_FILE / BAD_CONFIG. */
export async function openRun(dir: string, opts: OpenRunOptions = {}): Promise<Run> {
  const deps = withDefaults(opts.deps);
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs))
    throw new GroundlabError('NOT_FOUND', `run directory ${dir} does not exist`, {
      hint: 'give the --out folder of a `groundlab train` run; `groundlab runs` lists runs',
      codeHint: 'give the folder of a trained run (the `out` of `train({ out, ... })`); `findRuns("runs")` lists the runs under a folder',
    });
  if (!fs.statSync(abs).isDirectory()) throw new GroundlabError('BAD_ARGUMENT', `${dir} is a file, not a run directory`);
  const cfgFile = path.join(abs, 'config.json');
  if (!fs.existsSync(cfgFile)) {
    throw new GroundlabError('NOT_FOUND', `${dir} is not a run directory (it has no config.json)`, {
      file: cfgFile,
      hint: '`groundlab runs <folder>` lists the runs under a folder',
    });
  }
  const config = validateRunConfig(await readJSONFile(cfgFile, 'run config'), cfgFile);
  const tokFile = path.join(abs, 'tokenizer.json');
  const tokJson = await readJSONFile(tokFile, 'tokenizer');
  let tokenizer: Tokenizer;
  try {
    tokenizer = deps.tokenizerFromJSON(tokJson);
  } catch (e) {
    if (e instanceof GroundlabError && e.code === 'UNSUPPORTED') throw e;
    throw new GroundlabError('BAD_FILE', `tokenizer.json cannot be read: ${(e as Error).message}`, { file: tokFile, cause: e });
  }
  if (tokenizer.vocabSize !== config.model.vocabSize) {
    throw new GroundlabError(
      'CONFIG_MISMATCH',
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model config says vocabSize ${config.model.vocabSize}`,
      { file: tokFile },
    );
  }
  let dataCache: Promise<TrainingData> | undefined;
  const run: Run = {
    dir: abs,
    config,
    checkpoints: listCheckpoints(abs),
    tokenizer,
    async loadModel(step?: number) {
      const ck = step === undefined ? run.checkpoints[run.checkpoints.length - 1] : run.checkpoints.find((c) => c.step === step);
      if (!ck) {
        const have = run.checkpoints.map((c) => c.step);
        throw new GroundlabError(
          'NOT_FOUND',
          step === undefined ? `run ${dir} has no checkpoint yet` : `run ${dir} has no checkpoint at step ${step}`,
          {
            hint: have.length ? `available steps: ${have.join(', ')}` : 'train it first (`groundlab train --out ' + dir + '`)',
            codeHint: have.length
              ? `available steps: ${have.join(', ')}`
              : `train it first (\`await train({ out: ${JSON.stringify(dir)}, ... })\`)`,
          },
        );
      }
      return loadCheckpointModel(config, ck.dir, deps);
    },
    data() {
      dataCache ??= deps.prepareData(config.corpus, { seqLen: config.train.seqLen, ...(config.imported ? { tokenizer } : {}) });
      dataCache.catch(() => (dataCache = undefined));
      return dataCache;
    },
    async writeTable(name, table) {
      await atomicWrite(relName(abs, name, '.arrow'), aq.toArrowIPC(table));
    },
    async readTable(name) {
      const f = relName(abs, name, '.arrow');
      if (!fs.existsSync(f)) return undefined;
      try {
        return aq.fromArrow(await fsp.readFile(f));
      } catch (e) {
        throw new GroundlabError('BAD_FILE', `not a readable Arrow table: ${(e as Error).message}`, { file: f, cause: e });
      }
    },
    async writeJSON(name, obj) {
      await atomicWriteJSON(relName(abs, name, '.json'), obj);
    },
    async readJSON<T>(name: string) {
      const f = relName(abs, name, '.json');
      if (!fs.existsSync(f)) return undefined;
      return readJSONFile<T>(f, name);
    },
    async refresh() {
      run.checkpoints = listCheckpoints(abs);
    },
  };
  return run;
}

/** Build the model of a run config and load a checkpoint's weights into it (checked). */
export async function loadCheckpointModel(config: RunConfig, ckDir: string, deps: TrainDeps): Promise<LanguageModel> {
  let model: LanguageModel;
  try {
    model = deps.createModel(config.model, config.seed);
  } catch (e) {
    if (e instanceof GroundlabError && (e.code === 'UNSUPPORTED' || e.code === 'BACKEND')) throw e;
    throw new GroundlabError('BAD_CONFIG', `the model config in config.json cannot be built: ${(e as Error).message}`, {
      file: path.join(path.dirname(path.dirname(ckDir)), 'config.json'),
      cause: e,
    });
  }
  try {
    const cfgFile = path.join(path.dirname(path.dirname(ckDir)), 'config.json');
    const st = fs.existsSync(path.join(ckDir, 'state.json')) ? await readCheckpointState(ckDir) : undefined;
    if (st) checkCheckpointFits(config, st, ckDir, cfgFile);
    await loadCheckpointWeights(model, ckDir, cfgFile);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

const CONFIG_AT_FAULT =
  'config.json was edited by hand or belongs to another run: restore the model config the checkpoints were trained with; the checkpoints themselves are intact (do not delete them)';

/**
 * A checkpoint that records its model config (state.json `model`) must agree with config.json field
 * by field; a difference is a CONFIG_MISMATCH naming the field and both values (never blamed on the
 * checkpoint). Fields only one side has (added by a newer groundlab) are not compared.
 */
export function checkCheckpointFits(config: RunConfig, st: CheckpointState, ckDir: string, cfgFile: string): void {
  if (!st.model || typeof st.model !== 'object') return;
  const cur = config.model as Record<string, unknown>;
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(st.model)) {
    if (!(k in cur) || v === undefined) continue;
    if (JSON.stringify(cur[k]) !== JSON.stringify(v))
      diffs.push(`model.${k} is ${JSON.stringify(cur[k])} in config.json but ${JSON.stringify(v)} in ${path.basename(ckDir)}`);
  }
  if (diffs.length)
    throw new GroundlabError(
      'CONFIG_MISMATCH',
      `config.json does not match the model config the checkpoints were trained with: ${diffs.join('; ')}`,
      { file: cfgFile, hint: CONFIG_AT_FAULT },
    );
}

/**
 * Load a checkpoint's weights into a model built from the run's config.json: NaN or Inf weights are
 * CORRUPT_CHECKPOINT naming the tensor; tensors whose names or shapes do not fit the model mean that
 * config.json no longer describes the run (the trainer always saves the model it built from it),
 * so they are reported as a CONFIG_MISMATCH, never as a damaged checkpoint.
 */
export async function loadCheckpointWeights(model: LanguageModel, ckDir: string, cfgFile: string): Promise<void> {
  const file = path.join(ckDir, 'model.safetensors');
  try {
    await loadTensorsInto(file, model.params, { finite: true });
  } catch (e) {
    if (
      e instanceof GroundlabError &&
      e.code === 'CORRUPT_CHECKPOINT' &&
      /has shape \[|^(.*: )?missing \d+ tensor|that the model does not have/.test(e.message.split('\n')[0])
    ) {
      const what = e.message.split('\n')[0].replace(`${file}: `, '');
      throw new GroundlabError('CONFIG_MISMATCH', `the model config in config.json does not fit ${path.basename(ckDir)}: ${what}`, {
        file: cfgFile,
        cause: e,
        hint: CONFIG_AT_FAULT,
      });
    }
    throw e;
  }
}

/** Read a checkpoint's state.json (checked). */
export async function readCheckpointState(ckDir: string): Promise<CheckpointState> {
  const file = path.join(ckDir, 'state.json');
  const s = await readJSONFile<CheckpointState>(file, 'checkpoint state');
  const ok =
    s &&
    Number.isInteger(s.step) &&
    s.data &&
    Number.isInteger(s.data.epoch) &&
    Number.isInteger(s.data.pos) &&
    Array.isArray(s.data.epochRng) &&
    s.data.epochRng.length === 4;
  if (!ok) throw new GroundlabError('CORRUPT_CHECKPOINT', 'state.json lacks step or data-order state', { file });
  return s;
}

export interface RunSummary {
  dir: string;
  config?: RunConfig;
  checkpoints: CheckpointInfo[];
  /** Why the folder could not be read as a run, if it could not. */
  error?: string;
  lastLoss?: number;
}

/** Find run directories (folders with a config.json) at `root` and up to `depth` levels below it. */
export function findRuns(root: string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (d: string, left: number) => {
    if (fs.existsSync(path.join(d, 'config.json')) && fs.existsSync(path.join(d, 'checkpoints'))) {
      out.push(d);
      return;
    }
    if (left <= 0) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(path.join(d, e.name), left - 1);
    }
  };
  walk(path.resolve(root), depth);
  return out;
}
