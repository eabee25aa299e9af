/**
 * `train(opts)`: causal language modelling of a Transformer, Mamba-2 or LSTM on a tokenised corpus,
 * into a run directory (see ./run.ts). AdamW with warm-up and cosine/linear decay, global-norm
 * gradient clipping, seeded data order, checkpoints dense early then regular. Resuming from the last
 * checkpoint reproduces the uninterrupted run's loss trace exactly (same backend).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as aq from 'arquero';
import * as flechette from '@uwdata/flechette';
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError, fromSystemError, isGroundlabError } from '../errors';
import { engineInfo, initEngine } from '../engine/backend';
import { Rng, type RngState } from '../engine/rng';
import { atomicWrite, atomicWriteJSON, mkdirp, removeStaleTemps } from '../io/atomic';
import { faultPoint } from '../io/faults';
import { acquireLock, removeStaleLockTemps, type Lock } from '../io/lock';
import { firstNonFinite, readSafetensors, saveTensors, writeSafetensors } from '../io/safetensors';
import { unknownNameHint } from '../names';
import type { Arch, LanguageModel } from '../models/types';
import type { CorpusSpec, TokenDataset } from '../data/types';
import { knownArchs, withDefaults, type AnyModelConfig, type TrainDeps, type TrainingData } from './deps';
import { AdamW, clipByGlobalNorm } from './optimizer';
import { trainPreset, validateTrainConfig, PRESET_NAMES, type PresetName, type TrainConfig } from './presets';
import { checkpointSteps, learningRate } from './schedule';
import { terminalProgress, type ProgressFn } from './progress';
import {
  checkpointDirName,
  checkCheckpointFits,
  listCheckpoints,
  loadCheckpointWeights,
  readCheckpointState,
  readJSONFile,
  validateRunConfig,
  RUN_FORMAT,
  RUN_VERSION,
  type CheckpointInfo,
  type CheckpointState,
  type RunConfig,
} from './run';

export interface TrainOptions {
  /** Run directory (created; resumed when it already holds a run). */
  out: string;
  arch: Arch;
  preset: PresetName;
  /** Seed of the initialisation and the data order (default 0). */
  seed?: number;
  /** Total number of optimisation steps (default: the preset's). */
  steps?: number;
  /** Model config overrides on top of the preset (e.g. { nLayers: 2 }). */
  model?: Record<string, unknown>;
  /** Corpus spec overrides (default: { kind: "synthetic", setting: <preset's>, seed: 0 }). */
  corpus?: Partial<CorpusSpec>;
  batchSize?: number;
  seqLen?: number;
  lr?: number;
  /** Any other train config overrides. */
  train?: Partial<TrainConfig>;
  /** Resume when `out` already holds a run (default true); false refuses to touch an existing run. */
  resume?: boolean;
  /** Abort: training stops before the next step and saves a checkpoint. */
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /** Print progress to stderr when no onProgress is given (default false). */
  log?: boolean;
  /** Use this corpus/dataset instead of building it from the corpus spec (its spec is still recorded). */
  data?: TrainingData;
  /** Replace the models/data stages (tests, toy models). */
  deps?: Partial<TrainDeps>;
}

export interface TrainResult {
  dir: string;
  /** "completed": reached the last step; "aborted": stopped by the signal (a checkpoint was saved). */
  status: 'completed' | 'aborted';
  /** Last step reached (= the last checkpoint). */
  step: number;
  steps: number;
  /** Step of the checkpoint this session resumed from (undefined for a fresh run). */
  resumedFrom?: number;
  /** Loss per step of the whole run so far (index i = step i + 1). */
  losses: number[];
  /** Steps done in this session, wall seconds and throughput of this session. */
  sessionSteps: number;
  wallSec: number;
  tokensPerSec: number;
  checkpoints: CheckpointInfo[];
}

/** One row of metrics/train.arrow. */
export interface TrainMetricsRow {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  elapsed_sec: number;
}

/** Seeded epoch-wise shuffling of dataset rows whose state (epoch, position, RNG) is saved. */
export class DataOrder {
  epoch = 0;
  pos = 0;
  epochRng: RngState;
  private rng: Rng;
  private perm: Int32Array;

  constructor(
    readonly size: number,
    start: { epoch: number; pos: number; epochRng: RngState },
  ) {
    if (size < 1)
      throw new GroundlabError('BAD_CONFIG', 'the training dataset is empty', { hint: 'use a larger corpus or a shorter seqLen' });
    this.epoch = start.epoch;
    this.pos = start.pos;
    this.epochRng = start.epochRng;
    this.rng = new Rng(start.epochRng);
    this.perm = this.shuffle();
  }

  static fresh(size: number, seed: number): DataOrder {
    return new DataOrder(size, { epoch: 0, pos: 0, epochRng: new Rng(`${seed}/data-order`).state() });
  }

  private shuffle(): Int32Array {
    const idx = Array.from({ length: this.size }, (_, i) => i);
    return Int32Array.from(this.rng.shuffle(idx));
  }

  /** Next row index. */
  next(): number {
    if (this.pos >= this.size) {
      this.epoch++;
      this.pos = 0;
      this.epochRng = this.rng.state();
      this.perm = this.shuffle();
    }
    return this.perm[this.pos++];
  }

  state(): { epoch: number; pos: number; epochRng: RngState } {
    return { epoch: this.epoch, pos: this.pos, epochRng: [...this.epochRng] as RngState };
  }
}

/** Datasets may mark target positions that count in the loss (e.g. 0 for padding). */
type MaskedDataset = TokenDataset & { mask?(i: number): ArrayLike<number> };

/** A batch of rows: inputs [B, T], targets [B, T], optional mask [B, T] and features [B, T, F]. */
function makeBatch(ds: MaskedDataset, rows: number[]) {
  const T = ds.seqLen;
  const B = rows.length;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  let mask: Float32Array | undefined;
  let feats: Float32Array | undefined;
  const F = ds.featureDim;
  if (ds.mask) mask = new Float32Array(B * T);
  if (F > 0 && ds.features) feats = new Float32Array(B * T * F);
  rows.forEach((r, b) => {
    const row = ds.row(r);
    if (row.length !== T + 1)
      throw new GroundlabError('INTERNAL', `dataset row ${r} has ${row.length} ids, expected seqLen + 1 = ${T + 1}`);
    x.set(row.subarray(0, T), b * T);
    y.set(row.subarray(1, T + 1), b * T);
    if (mask) mask.set(ds.mask!(r), b * T);
    if (feats) feats.set(ds.features!(r), b * T * F);
  });
  return {
    x: tf.tensor2d(x, [B, T], 'int32'), // [B, T]
    y: tf.tensor2d(y, [B, T], 'int32'), // [B, T]
    mask: mask ? tf.tensor2d(mask, [B, T], 'float32') : undefined, // [B, T]
    feats: feats ? tf.tensor3d(feats, [B, T, F], 'float32') : undefined, // [B, T, F]
  };
}

const METRIC_COLUMNS = ['step', 'loss', 'lr', 'grad_norm', 'tokens', 'elapsed_sec'] as const;
/** Column types given explicitly, so that an empty table (no step done yet) is written too. */
const METRIC_TYPES = {
  step: flechette.int32(),
  loss: flechette.float64(),
  lr: flechette.float64(),
  grad_norm: flechette.float64(),
  tokens: flechette.float64(),
  elapsed_sec: flechette.float64(),
};

function metricsTable(rows: TrainMetricsRow[]) {
  return aq.table({
    step: Int32Array.from(rows, (r) => r.step),
    loss: Float64Array.from(rows, (r) => r.loss),
    lr: Float64Array.from(rows, (r) => r.lr),
    grad_norm: Float64Array.from(rows, (r) => r.grad_norm),
    tokens: Float64Array.from(rows, (r) => r.tokens),
    elapsed_sec: Float64Array.from(rows, (r) => r.elapsed_sec),
  });
}

async function writeMetrics(dir: string, rows: TrainMetricsRow[]): Promise<void> {
  const t = metricsTable(rows);
  await atomicWrite(path.join(dir, 'metrics', 'train.arrow'), aq.toArrowIPC(t, { types: METRIC_TYPES }));
  await atomicWrite(path.join(dir, 'metrics', 'train.csv'), aq.toCSV(t) + '\n');
}

/**
 * The loss trace of steps 1..upTo, from metrics/train.arrow or, when that file is missing, damaged
 * or short, from metrics/train.csv (the same rows). Rows after `upTo` (written before a checkpoint
 * that never completed) are dropped. If neither file holds every row, resuming is refused: starting
 * the trace at the checkpoint would silently lose the earlier rows and overwrite the CSV.
 */
export async function readMetrics(dir: string, upTo: number): Promise<TrainMetricsRow[]> {
  if (upTo === 0) return [];
  const arrow = path.join(dir, 'metrics', 'train.arrow');
  const csv = path.join(dir, 'metrics', 'train.csv');
  const problems: string[] = [];
  const readers: Array<[string, (b: Buffer) => aq.ColumnTable]> = [
    [arrow, (b) => aq.fromArrow(b)],
    [csv, (b) => aq.fromCSV(b.toString('utf8'))],
  ];
  for (const [file, parse] of readers) {
    let rows: Array<Record<string, unknown>>;
    try {
      rows = parse(fs.readFileSync(file)).objects() as Array<Record<string, unknown>>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      problems.push(
        `${path.basename(file)} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message.split('\n')[0]})`}`,
      );
      continue;
    }
    const kept: TrainMetricsRow[] = [];
    let ok = true;
    for (const r of rows) {
      if (typeof r.step !== 'number' || r.step > upTo) continue;
      if (r.step !== kept.length + 1 || !METRIC_COLUMNS.every((c) => typeof r[c] === 'number')) {
        ok = false;
        break;
      }
      kept.push(Object.fromEntries(METRIC_COLUMNS.map((c) => [c, r[c]])) as unknown as TrainMetricsRow);
    }
    if (ok && kept.length === upTo) return kept;
    problems.push(`${path.basename(file)} does not hold the rows of steps 1..${upTo} (it has ${kept.length} in order)`);
  }
  throw new GroundlabError('BAD_FILE', `cannot resume from step ${upTo}: the loss trace up to that step is lost (${problems.join('; ')})`, {
    file: arrow,
    hint: 'restore metrics/train.arrow or metrics/train.csv (from a backup or a copy of the run); the checkpoints are intact, and resuming without the trace would lose its earlier rows',
  });
}

/**
 * Fill `checkpoints/.step-N.partial-PID/` and rename it to `checkpoints/step-N/`: a listed
 * checkpoint is always complete. The metrics of steps 1..N are written before (see train()), so a
 * kill right after the rename loses nothing. A failed attempt (disk full) removes its partial folder;
 * one left by a killed process is removed when the run starts again (`removePartials`).
 */
async function saveCheckpoint(dir: string, model: LanguageModel, opt: AdamW, state: CheckpointState): Promise<CheckpointInfo> {
  const root = path.join(dir, 'checkpoints');
  const name = checkpointDirName(state.step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.partial-${process.pid}`);
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    mkdirp(tmp);
    await saveTensors(path.join(tmp, 'model.safetensors'), model.params as Map<string, tf.Tensor>, {
      format: 'pt',
      groundlab_step: String(state.step),
    });
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), await opt.stateTensors(), { optimizer: 'adamw' });
    await atomicWriteJSON(path.join(tmp, 'state.json'), state);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw fromSystemError(e, {
      file: final,
      doing: `save the checkpoint of step ${state.step}`,
      hint: 'its partial folder was removed and the earlier checkpoints are intact: run the same command again to resume from the last one',
    });
  }
  faultPoint('checkpoint-renamed');
  return { step: state.step, dir: final };
}

/**
 * Remove what a killed trainer of this run left half-done: partial checkpoint folders and the
 * temporary files of atomic writes in the folders only the trainer writes. Call under the run lock.
 */
export function removePartials(dir: string): string[] {
  const removed: string[] = [];
  const root = path.join(dir, 'checkpoints');
  let names: string[] = [];
  try {
    names = fs.readdirSync(root);
  } catch {
    // no checkpoints yet
  }
  for (const n of names) {
    if (/^\.step-\d+\.partial-\d+$/.test(n)) {
      fs.rmSync(path.join(root, n), { recursive: true, force: true });
      removed.push(path.join('checkpoints', n));
    }
  }
  for (const n of removeStaleTemps(dir, { all: true, only: /^\.(config|tokenizer)\.json\.tmp-/ })) removed.push(n);
  for (const n of removeStaleTemps(path.join(dir, 'metrics'), { all: true })) removed.push(path.join('metrics', n));
  return removed;
}

function resolveTrainConfig(opts: TrainOptions, base: TrainConfig): TrainConfig {
  const c: TrainConfig = { ...base, ...(opts.train ?? {}), checkpoints: { ...base.checkpoints, ...(opts.train?.checkpoints ?? {}) } };
  if (opts.steps !== undefined) c.steps = opts.steps;
  if (opts.batchSize !== undefined) c.batchSize = opts.batchSize;
  if (opts.seqLen !== undefined) c.seqLen = opts.seqLen;
  if (opts.lr !== undefined) c.lr = opts.lr;
  validateTrainConfig(c);
  return c;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Options given for a resumed run must agree with its config.json. */
function checkResumeOptions(opts: TrainOptions, cfg: RunConfig, cfgFile: string): void {
  const clash = (what: string, given: unknown, stored: unknown) =>
    new GroundlabError(
      'CONFIG_MISMATCH',
      `${opts.out} already holds a run with ${what} ${JSON.stringify(stored)}, but ${JSON.stringify(given)} was asked for`,
      {
        file: cfgFile,
        hint: 'resume it with the same settings, or choose a new --out folder for a new run',
        codeHint: 'resume it with the same settings, or give `train()` a new `out` folder for a new run',
      },
    );
  if (opts.arch !== cfg.arch) throw clash('arch', opts.arch, cfg.arch);
  if (opts.preset !== cfg.preset) throw clash('preset', opts.preset, cfg.preset);
  if (opts.seed !== undefined && opts.seed !== cfg.seed) throw clash('seed', opts.seed, cfg.seed);
  const t = resolveTrainConfig(opts, trainPreset(cfg.preset).train);
  for (const k of Object.keys(t) as Array<keyof TrainConfig>) {
    const given =
      k === 'steps'
        ? opts.steps
        : k === 'batchSize'
          ? opts.batchSize
          : k === 'seqLen'
            ? opts.seqLen
            : k === 'lr'
              ? opts.lr
              : opts.train?.[k];
    if (given !== undefined && !same(k === 'checkpoints' ? { ...cfg.train.checkpoints, ...(given as object) } : given, cfg.train[k]))
      throw clash(`train.${k}`, given, cfg.train[k]);
  }
  for (const [k, v] of Object.entries(opts.model ?? {})) if (!same(v, cfg.model[k])) throw clash(`model.${k}`, v, cfg.model[k]);
  for (const [k, v] of Object.entries(opts.corpus ?? {}))
    if (!same(v, (cfg.corpus as unknown as Record<string, unknown>)[k]))
      throw clash(`corpus.${k}`, v, (cfg.corpus as unknown as Record<string, unknown>)[k]);
}

/** Seeds are whole numbers from 0 to 2^53 - 1: larger ones cannot be stored exactly. */
export function checkSeed(seed: number | undefined, what = 'seed'): void {
  if (seed === undefined) return;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new GroundlabError('BAD_ARGUMENT', `${what} must be a whole number from 0 to 2^53 - 1 (9007199254740991), got ${seed}`, {
      hint: 'larger numbers lose their last digits in JavaScript (and in config.json), so two different seeds could give the same run',
    });
  }
}

/**
 * Model config overrides must name fields of the architecture's config (the keys of its resolved
 * preset), so that a typo (`nlayers`) is refused instead of being stored and ignored.
 */
export function checkModelKeys(
  arch: Arch,
  preset: PresetName,
  model: Record<string, unknown> | undefined,
  deps: TrainDeps,
  stored?: Record<string, unknown>,
): void {
  const given = Object.keys(model ?? {});
  if (!given.length) return;
  const known = new Set([...Object.keys(deps.modelPreset(arch, preset, 64)), ...Object.keys(stored ?? {})]);
  for (const k of given) {
    if (!known.has(k)) {
      throw new GroundlabError('BAD_ARGUMENT', `unknown ${arch} model config field "${k}"`, {
        hint: unknownNameHint(
          k,
          [...known].filter((x) => x !== 'arch'),
          `the ${arch} fields`,
        ),
      });
    }
  }
}

/** Train a model into `opts.out` (resuming it when it already holds a run). */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  if (!knownArchs().includes(opts.arch)) {
    throw new GroundlabError('BAD_ARGUMENT', `unknown arch "${opts.arch}"`, { hint: `use one of: ${knownArchs().join(', ')}` });
  }
  if (!PRESET_NAMES.includes(opts.preset))
    throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${opts.preset}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  checkSeed(opts.seed);
  await initEngine();
  const deps = withDefaults(opts.deps);
  const dir = path.resolve(opts.out);
  const cfgFile = path.join(dir, 'config.json');
  const progress = opts.onProgress ?? (opts.log ? terminalProgress() : undefined);

  // Everything is checked before anything is written: a refused command leaves no folder behind.
  let config: RunConfig;
  let data: TrainingData;
  const fresh = !fs.existsSync(cfgFile);
  if (!fresh) {
    if (opts.resume === false) {
      throw new GroundlabError('BAD_ARGUMENT', `${opts.out} already holds a run`, {
        hint: 'choose a new --out folder, delete the old run, or resume it',
        codeHint: 'give `train()` a new `out` folder, delete the old run, or resume it (leave out `resume: false`)',
      });
    }
    config = validateRunConfig(await readJSONFile(cfgFile, 'run config'), cfgFile);
    checkModelKeys(opts.arch, opts.preset, opts.model, deps, config.model);
    checkResumeOptions(opts, config, cfgFile);
    data = opts.data ?? (await deps.prepareData(config.corpus, { seqLen: config.train.seqLen }));
    const tokFile = path.join(dir, 'tokenizer.json');
    const saved = await readJSONFile(tokFile, 'tokenizer');
    if (!same(saved, data.tokenizer.toJSON())) {
      throw new GroundlabError(
        'CONFIG_MISMATCH',
        "the corpus rebuilt from config.json has a different vocabulary than the run's tokenizer.json",
        {
          file: tokFile,
          hint: 'the corpus generator or its files changed since the run started; start a new run',
        },
      );
    }
    if (data.tokenizer.vocabSize !== config.model.vocabSize) {
      throw new GroundlabError(
        'CONFIG_MISMATCH',
        `config.json has model.vocabSize ${config.model.vocabSize} but the run's tokenizer has ${data.tokenizer.vocabSize} tokens`,
        {
          file: cfgFile,
          hint: 'config.json was edited by hand or belongs to another run: restore it (the checkpoints are intact)',
        },
      );
    }
  } else {
    if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0)) {
      throw new GroundlabError('BAD_ARGUMENT', `${opts.out} exists and is not a run directory (no config.json)`, {
        hint: 'choose a new or empty --out folder',
        codeHint: 'give `train()` a new or empty `out` folder',
      });
    }
    checkModelKeys(opts.arch, opts.preset, opts.model, deps);
    const preset = trainPreset(opts.preset);
    const trainCfg = resolveTrainConfig(opts, preset.train);
    const kind = opts.corpus?.kind ?? 'synthetic';
    // The preset's setting names a synthetic-generator setting; other corpus kinds get none by default.
    const corpus = {
      kind,
      ...(kind === 'synthetic' ? { setting: preset.corpusSetting } : {}),
      seed: 0,
      ...(opts.corpus ?? {}),
    } as CorpusSpec;
    // The preset's knob overrides (e.g. medium's larger corpus) apply to its own setting only; the user's win.
    if (kind === 'synthetic' && preset.corpusKnobs && corpus.setting === preset.corpusSetting)
      corpus.knobs = { ...preset.corpusKnobs, ...(corpus.knobs ?? {}) };
    data = opts.data ?? (await deps.prepareData(corpus, { seqLen: trainCfg.seqLen }));
    if (data.train.seqLen !== trainCfg.seqLen) {
      throw new GroundlabError(
        'CONFIG_MISMATCH',
        `the dataset has rows of ${data.train.seqLen} tokens but the train config asks for seqLen ${trainCfg.seqLen}`,
      );
    }
    const overrides: Record<string, unknown> = { ...(opts.model ?? {}) };
    if (data.train.featureDim > 0 && overrides.envFeatureDim === undefined) overrides.envFeatureDim = data.train.featureDim;
    const model: AnyModelConfig = deps.modelPreset(opts.arch, opts.preset, data.tokenizer.vocabSize, overrides);
    if (model.contextLength < trainCfg.seqLen) {
      throw new GroundlabError(
        'BAD_CONFIG',
        `the model's contextLength ${model.contextLength} is shorter than the training seqLen ${trainCfg.seqLen}`,
        {
          hint: 'raise the model contextLength or lower --seq-len',
          codeHint: 'raise the model contextLength (`model: { contextLength }`) or lower `seqLen`',
        },
      );
    }
    const info = engineInfo();
    config = {
      format: RUN_FORMAT,
      version: RUN_VERSION,
      arch: opts.arch,
      preset: opts.preset,
      seed: opts.seed ?? 0,
      model,
      train: trainCfg,
      corpus,
      createdAt: new Date().toISOString(),
      engine: { backend: info.backend, threads: info.threads },
    };
  }

  const tc = config.train;
  const ds = data.train as MaskedDataset;
  if (ds.seqLen !== tc.seqLen)
    throw new GroundlabError('CONFIG_MISMATCH', `the dataset has rows of ${ds.seqLen} tokens but the run's seqLen is ${tc.seqLen}`, {
      file: cfgFile,
    });
  const schedule = new Set(checkpointSteps(tc.steps, tc.checkpoints));
  let model: LanguageModel;
  try {
    model = deps.createModel(config.model, config.seed);
  } catch (e) {
    if (!fresh && isGroundlabError(e) && e.code !== 'UNSUPPORTED' && e.code !== 'BACKEND') {
      throw new GroundlabError('BAD_CONFIG', `the model config in config.json cannot be built: ${e.message}`, { file: cfgFile, cause: e });
    }
    throw e;
  }
  const createdDir = !fs.existsSync(dir);
  let lock: Lock | undefined;
  let wrote = false;
  try {
    mkdirp(dir);
    lock = acquireRunLock(dir);
    if (fresh && fs.existsSync(cfgFile)) {
      // Another process created this run between our check and our lock: resume it instead.
      model.dispose();
      lock.release();
      return train(opts);
    }
    removePartials(dir);
    if (fresh) {
      wrote = true;
      await atomicWriteJSON(path.join(dir, 'tokenizer.json'), data.tokenizer.toJSON());
      await atomicWriteJSON(cfgFile, config);
    }
  } catch (e) {
    model.dispose();
    if (lock) {
      // Ours alone (we hold the lock): remove what this session wrote of the fresh run.
      if (wrote || createdDir) removeFreshRun(dir, createdDir);
      lock.release();
    } else if (createdDir) {
      // Not ours (e.g. another process took the lock first): only an empty folder we made goes.
      try {
        fs.rmdirSync(dir);
      } catch {
        // not empty: someone else's now
      }
    }
    throw fromSystemError(e);
  }
  const cks = fresh ? [] : listCheckpoints(dir);
  const resumeFrom: CheckpointInfo | undefined = cks[cks.length - 1];
  const vars = [...model.params.values()];
  const nameOf = new Map(vars.map((v, i) => [v.name, [...model.params.keys()][i]]));
  const opt = new AdamW(model.params, { beta1: tc.beta1, beta2: tc.beta2, eps: tc.eps, weightDecay: tc.weightDecay });
  let order: DataOrder;
  let step = 0;
  let tokensSeen = 0;
  let elapsedBefore = 0;
  let metrics: TrainMetricsRow[] = [];
  try {
    if (resumeFrom) {
      const ck = resumeFrom;
      let st: CheckpointState;
      try {
        st = await readCheckpointState(ck.dir);
        checkCheckpointFits(config, st, ck.dir, cfgFile);
        await loadCheckpointWeights(model, ck.dir, cfgFile);
        const optFile = path.join(ck.dir, 'optimizer.safetensors');
        const optState = await readSafetensors(optFile);
        const bad = firstNonFinite(optState.tensors);
        if (bad)
          throw new GroundlabError(
            'CORRUPT_CHECKPOINT',
            `optimizer tensor "${bad.name}" holds ${bad.value} at index ${bad.index}: the file is damaged`,
            { file: optFile },
          );
        opt.loadState(optState, optFile);
        if (opt.step !== st.step)
          throw new GroundlabError('CORRUPT_CHECKPOINT', `optimizer step ${opt.step} differs from state.json step ${st.step}`, {
            file: optFile,
          });
      } catch (e) {
        if (!(e instanceof GroundlabError) || e.code === 'CONFIG_MISMATCH') throw e; // the config is at fault, not the checkpoint
        const prev = listCheckpoints(dir)
          .filter((c) => c.step < ck.step)
          .pop();
        throw new GroundlabError(e.code, `cannot resume from the last checkpoint (step ${ck.step}): ${e.message}`, {
          cause: e,
          hint: prev ? `delete ${ck.dir} to resume from step ${prev.step} instead` : 'start a new run',
        });
      }
      order = new DataOrder(ds.size, st.data);
      step = st.step;
      tokensSeen = st.tokensSeen;
      elapsedBefore = st.elapsedSec;
      metrics = await readMetrics(dir, step);
    } else {
      order = DataOrder.fresh(ds.size, config.seed);
    }
    const t0 = Date.now();
    const elapsed = () => elapsedBefore + (Date.now() - t0) / 1000;
    const stateAt = (s: number, loss?: number): CheckpointState => ({
      step: s,
      loss,
      data: order.state(),
      tokensSeen,
      elapsedSec: elapsed(),
      savedAt: new Date().toISOString(),
      model: config.model,
    });
    // The metrics of steps 1..N are on disk before checkpoint N is: a kill at any moment loses no row.
    const checkpoint = async (s: number, loss?: number) => {
      await writeMetrics(dir, metrics);
      await saveCheckpoint(dir, model, opt, stateAt(s, loss));
    };
    let lastSaved = resumeFrom?.step ?? -1;
    if (!resumeFrom) {
      await checkpoint(0);
      lastSaved = 0;
    }
    const startStep = step;
    const nParams = vars.reduce((a, v) => a + v.size, 0);
    const tokensPerStep = tc.batchSize * tc.seqLen;
    const window: number[] = [];
    let status: TrainResult['status'] = 'completed';
    let lastLoss: number | undefined = metrics.length ? metrics[metrics.length - 1].loss : undefined;
    const what = resumeFrom ? `resuming ${opts.out} from step ${step}` : `training into ${opts.out}`;
    const sizes = `${config.arch}, ${nParams.toLocaleString('en-US')} parameters, ${tc.batchSize} x ${tc.seqLen} tokens per step`;
    progress?.({ task: 'train', step, total: tc.steps, message: `${what}: ${sizes}` });

    while (step < tc.steps) {
      // Let timers, I/O and signal handlers run (SIGINT, a notebook's interrupt): on the wasm and cpu
      // backends a step's awaits resolve as microtasks only, which would starve them until the next
      // checkpoint write.
      await new Promise((resolve) => setImmediate(resolve));
      if (opts.signal?.aborted) {
        status = 'aborted';
        break;
      }
      const ts = Date.now();
      const rows = Array.from({ length: tc.batchSize }, () => order.next());
      const batch = makeBatch(ds, rows);
      const fopts = batch.feats ? { envFeatures: batch.feats as tf.Tensor3D } : undefined;
      const { value, grads } = tf.variableGrads(() => model.loss(batch.x, batch.y, batch.mask, fopts), vars);
      const named = new Map<string, tf.Tensor>();
      for (const [vn, g] of Object.entries(grads)) named.set(nameOf.get(vn) ?? vn, g);
      const clipped = clipByGlobalNorm(named, tc.gradClip);
      const [lossArr, normArr] = await Promise.all([value.data(), clipped.norm.data()]);
      const loss = lossArr[0];
      const gradNorm = normArr[0];
      const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
      const lr = learningRate({ ...tc }, step + 1);
      if (finite) opt.apply(clipped.grads, lr);
      tf.dispose([value, clipped.norm, ...Object.values(grads), ...clipped.grads.values(), batch.x, batch.y]);
      if (batch.mask) batch.mask.dispose();
      if (batch.feats) batch.feats.dispose();
      if (!finite) {
        const what = Number.isFinite(loss) ? `the gradient norm is ${gradNorm}` : `the loss is ${loss}`;
        if (step === 0) {
          // The very first step: the initial model (or the data) gives non-finite values. A fresh
          // run's folder is removed, so a corrected command starts cleanly in the same --out.
          const removed = fresh && removeFreshRun(dir, createdDir);
          throw new GroundlabError('NUMERIC', `the first training step is not finite: ${what}`, {
            file: dir,
            hint: `the initial model gives non-finite values: check the --model values (e.g. initStd, lnEps/normEps) and the learning rate (now ${tc.lr})${removed ? `; ${opts.out} was removed, so the corrected command can use it again` : ''}`,
            codeHint: `the initial model gives non-finite values: check the \`model\` values (e.g. initStd, lnEps/normEps) and the learning rate (now ${tc.lr})${removed ? `; ${opts.out} was removed, so the corrected call can use it again` : ''}`,
          });
        }
        await writeMetrics(dir, metrics);
        throw new GroundlabError('NUMERIC', `training diverged at step ${step + 1}: ${what}`, {
          file: dir,
          hint: `the last good checkpoint (step ${lastSaved}) is kept; lower the learning rate (now ${tc.lr}) or raise the warm-up, then start a new run`,
        });
      }
      step++;
      tokensSeen += tokensPerStep;
      lastLoss = loss;
      metrics.push({ step, loss, lr, grad_norm: gradNorm, tokens: tokensSeen, elapsed_sec: elapsed() });
      window.push((Date.now() - ts) / 1000);
      if (window.length > 20) window.shift();
      const stepSec = window.reduce((a, b) => a + b, 0) / window.length;
      if (schedule.has(step)) {
        await checkpoint(step, loss);
        lastSaved = step;
      }
      progress?.({
        task: 'train',
        step,
        total: tc.steps,
        loss,
        tokensPerSec: tokensPerStep / stepSec,
        etaSec: (tc.steps - step) * stepSec,
      });
    }
    if (lastSaved !== step) {
      await checkpoint(step, lastLoss);
      lastSaved = step;
    } else if (step === startStep) {
      await writeMetrics(dir, metrics); // nothing trained: rewrite the trace (e.g. a lost train.csv from the Arrow file)
    }
    const wallSec = (Date.now() - t0) / 1000;
    const sessionSteps = step - startStep;
    const tokensPerSec = wallSec > 0 ? (sessionSteps * tokensPerStep) / wallSec : 0;
    progress?.({
      task: 'train',
      step,
      total: tc.steps,
      loss: lastLoss,
      tokensPerSec: sessionSteps > 0 ? tokensPerSec : undefined,
      done: true,
      message:
        status === 'aborted'
          ? `stopped at step ${step}; checkpoint saved (train again with the same settings to resume)`
          : sessionSteps === 0
            ? `already trained to step ${step}: nothing to do`
            : `done in ${wallSec.toFixed(1)} s`,
    });
    return {
      dir,
      status,
      step,
      steps: tc.steps,
      resumedFrom: resumeFrom?.step,
      losses: metrics.map((m) => m.loss),
      sessionSteps,
      wallSec,
      tokensPerSec,
      checkpoints: listCheckpoints(dir),
    };
  } catch (e) {
    // A fresh run that never completed a step holds nothing worth keeping (and would refuse a
    // corrected command as a CONFIG_MISMATCH): remove it.
    if (step === 0 && fresh) removeFreshRun(dir, createdDir);
    throw fromSystemError(e);
  } finally {
    opt.dispose();
    model.dispose();
    lock!.release();
  }
}

/**
 * Remove what this session wrote of a fresh run that never completed a step (config, tokenizer,
 * checkpoint 0, metrics), and the folder itself when this session created it. Returns whether it did.
 */
function removeFreshRun(dir: string, removeFolder: boolean): boolean {
  try {
    if (removeFolder) fs.rmSync(dir, { recursive: true, force: true });
    else
      for (const n of ['config.json', 'tokenizer.json', 'checkpoints', 'metrics'])
        fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * One training process per run directory: `<run>/.train.lock` names the trainer (see ../io/lock.ts:
 * taking a free or stale lock is atomic, a live holder gives a BUSY error).
 */
export function acquireRunLock(dir: string): Lock {
  removeStaleLockTemps(path.join(dir, '.train.lock'));
  return acquireLock(path.join(dir, '.train.lock'), {
    what: `run ${dir}`,
    busyMessage: (h) => `run ${dir} is being trained by process ${h.pid} on ${h.host}`,
    busyHint:
      'wait for it to finish, or stop it (Ctrl-C or kill PID: it saves a checkpoint); if that process is gone, delete the lock file',
  });
}
