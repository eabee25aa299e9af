/**
 * `train()` (./trainer.ts) as named steps, each one function with one contract, run in this order:
 *
 *   checkOptions   the arch, preset and seed are known and valid (nothing touched yet)
 *   prepareRun     the run's config and training data: read and checked against the options
 *                  (`resumeConfig`) or built from the preset, the options and the corpus
 *                  (`freshConfig`); nothing is written
 *   buildModel     the model of the config, initialised from the run's seed
 *   openRunDir     the run folder created and locked, half-done files of a killed trainer
 *                  removed, config.json and tokenizer.json written for a fresh run; on failure
 *                  it removes what it wrote and leaves no lock
 *   startSession   the optimiser and the session state (step 0, a fresh data order)
 *   resume         the last checkpoint's weights, optimiser state, data order, token count,
 *                  time and loss trace loaded into the session (nothing for a fresh run)
 *   firstCheckpoint  checkpoint 0 of a fresh run, and the "training into" progress line
 *   stepLoop       optimisation steps (`trainStep`) until the last step or the abort signal,
 *                  a checkpoint (`checkpoint`: loss trace first, then weights) at every
 *                  scheduled step, progress after every step
 *   finish         the last checkpoint if the last step has none, the final progress event and
 *                  the result
 *
 * `train()` is those calls, the retry when another process created the run first, the removal of
 * a fresh run that failed before its first step, and the release of the model, optimiser and lock.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError, fromSystemError, isGroundlabError } from '../errors';
import { engineInfo } from '../engine/backend';
import { atomicWriteJSON, mkdirp } from '../io/atomic';
import { firstNonFinite, readSafetensors } from '../io/safetensors';
import type { Lock } from '../io/lock';
import { unknownNameHint } from '../names';
import type { Arch, LanguageModel } from '../models/types';
import type { CorpusSpec } from '../data/types';
import { knownArchs, type AnyModelConfig, type TrainDeps, type TrainingData } from './deps';
import { AdamW, clipByGlobalNorm } from './optimizer';
import { trainPreset, validateTrainConfig, PRESET_NAMES, type PresetName, type TrainConfig } from './presets';
import { checkpointSteps, learningRate } from './schedule';
import type { ProgressFn } from './progress';
import {
  checkCheckpointFits,
  checkpointDirName,
  listCheckpoints,
  loadCheckpointWeights,
  openRun,
  readCheckpointState,
  readJSONFile,
  validateRunConfig,
  RUN_FORMAT,
  RUN_VERSION,
  type CheckpointInfo,
  type CheckpointState,
  type InitFrom,
  type RunConfig,
} from './run';
import { loadTensorsInto } from '../io/safetensors';
import { DataOrder, makeBatch, type MaskedDataset } from './steps-data';
import {
  acquireRunLock,
  readMetrics,
  removeFreshRun,
  removePartials,
  saveCheckpoint,
  writeMetrics,
  type TrainMetricsRow,
} from './steps-io';
import type { TrainOptions, TrainResult } from './trainer';

// Option checks (used by prepareRun).

export function resolveTrainConfig(opts: TrainOptions, base: TrainConfig): TrainConfig {
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
export function checkResumeOptions(opts: TrainOptions, cfg: RunConfig, cfgFile: string): void {
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
  if (opts.initFrom) {
    const stored = cfg.initFrom;
    const given = path.resolve(opts.initFrom.run);
    if (!stored || stored.run !== given || (opts.initFrom.step !== undefined && opts.initFrom.step !== stored.step))
      throw clash('initFrom', { run: given, ...(opts.initFrom.step !== undefined ? { step: opts.initFrom.step } : {}) }, stored ?? null);
  }
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

/** Step 1: the arch, preset and seed are ones the trainer knows (before anything is touched). */
export function checkOptions(opts: TrainOptions): void {
  if (!knownArchs().includes(opts.arch)) {
    throw new GroundlabError('BAD_ARGUMENT', `unknown arch "${opts.arch}"`, { hint: `use one of: ${knownArchs().join(', ')}` });
  }
  if (!PRESET_NAMES.includes(opts.preset))
    throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${opts.preset}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  checkSeed(opts.seed);
}

/** What `prepareRun` settles: the run's config and data, and whether the run is new. */
export interface PreparedRun {
  opts: TrainOptions;
  /** Absolute run folder and its config.json. */
  dir: string;
  cfgFile: string;
  fresh: boolean;
  config: RunConfig;
  data: TrainingData;
}

/**
 * Step 2: the run's config and training data. An existing run (config.json present) is resumed
 * (`resumeConfig`), otherwise a new config is built (`freshConfig`). Everything is checked before
 * anything is written: a refused command leaves no folder behind.
 */
export async function prepareRun(opts: TrainOptions, deps: TrainDeps): Promise<PreparedRun> {
  const dir = path.resolve(opts.out);
  const cfgFile = path.join(dir, 'config.json');
  const fresh = !fs.existsSync(cfgFile);
  const { config, data } = fresh ? await freshConfig(opts, deps, dir) : await resumeConfig(opts, deps, dir, cfgFile);
  const ds = data.train;
  if (ds.seqLen !== config.train.seqLen)
    throw new GroundlabError(
      'CONFIG_MISMATCH',
      `the dataset has rows of ${ds.seqLen} tokens but the run's seqLen is ${config.train.seqLen}`,
      {
        file: cfgFile,
      },
    );
  return { opts, dir, cfgFile, fresh, config, data };
}

/** An existing run's config.json, checked against the options, and its data rebuilt and checked against tokenizer.json. */
export async function resumeConfig(
  opts: TrainOptions,
  deps: TrainDeps,
  dir: string,
  cfgFile: string,
): Promise<{ config: RunConfig; data: TrainingData }> {
  if (opts.resume === false) {
    throw new GroundlabError('BAD_ARGUMENT', `${opts.out} already holds a run`, {
      hint: 'choose a new --out folder, delete the old run, or resume it',
      codeHint: 'give `train()` a new `out` folder, delete the old run, or resume it (leave out `resume: false`)',
    });
  }
  const config = validateRunConfig(await readJSONFile(cfgFile, 'run config'), cfgFile);
  if (config.imported)
    throw new GroundlabError(
      'UNSUPPORTED',
      `${opts.out} was imported (groundlab import, from ${config.imported.from}): it has no optimizer state to resume`,
      {
        file: cfgFile,
        hint: 'an imported run is read, not trained: fine-tune the model in PyTorch and import it again, or train a new run in another folder',
      },
    );
  checkModelKeys(opts.arch, opts.preset, opts.model, deps, config.model);
  checkResumeOptions(opts, config, cfgFile);
  const data = opts.data ?? (await deps.prepareData(config.corpus, { seqLen: config.train.seqLen }));
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
  return { config, data };
}

/** A new run's config (preset + options) and data (the corpus spec's, or `opts.data`); `dir` must be new or empty. */
export async function freshConfig(opts: TrainOptions, deps: TrainDeps, dir: string): Promise<{ config: RunConfig; data: TrainingData }> {
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
  const data = opts.data ?? (await deps.prepareData(corpus, { seqLen: trainCfg.seqLen }));
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
  const initFrom = opts.initFrom ? await resolveInitFrom(opts.initFrom, opts.arch, data.tokenizer, deps) : undefined;
  const info = engineInfo();
  const config: RunConfig = {
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
    ...(initFrom ? { initFrom } : {}),
  };
  return { config, data };
}

const initHint = (run: string) => `init-from run ${run}`;

/**
 * `opts.initFrom` of a new run, checked before anything is written: the source is a run of the
 * same architecture with the checkpoint asked for and the same vocabulary (token by token) as the
 * new run's corpus. Parameter shapes are checked when the weights are loaded (`loadInitWeights`).
 */
export async function resolveInitFrom(
  init: { run: string; step?: number },
  arch: Arch,
  tokenizer: { vocabSize: number; token(id: number): string; toJSON(): unknown },
  deps: TrainDeps,
): Promise<InitFrom> {
  const src = await openRun(init.run, { deps }).catch((e: unknown) => {
    if (!isGroundlabError(e)) throw e;
    const first = e.message.split('\n')[0];
    const what = e.file && first.startsWith(`${e.file}: `) ? first.slice(e.file.length + 2) : first;
    throw new GroundlabError(e.code, `${initHint(init.run)}: ${what}`, {
      file: e.file,
      line: e.line,
      cause: e,
      hint: e.hint,
      codeHint: e.codeHint,
    });
  });
  if (src.config.arch !== arch)
    throw new GroundlabError('CONFIG_MISMATCH', `${initHint(init.run)} is a ${src.config.arch} run, but the new run is a ${arch}`, {
      hint: `give --arch ${src.config.arch}, or start from a ${arch} run`,
      codeHint: `give \`arch: "${src.config.arch}"\`, or start from a ${arch} run`,
    });
  const ck = init.step === undefined ? src.checkpoints[src.checkpoints.length - 1] : src.checkpoints.find((c) => c.step === init.step);
  if (!ck) {
    const have = src.checkpoints.map((c) => c.step);
    throw new GroundlabError(
      'NOT_FOUND',
      init.step === undefined
        ? `${initHint(init.run)} has no checkpoint yet`
        : `${initHint(init.run)} has no checkpoint at step ${init.step}`,
      {
        hint: have.length ? `available steps: ${have.join(', ')} (--init-from ${init.run}@<step>)` : 'train it first',
        codeHint: have.length ? `available steps: ${have.join(', ')} (\`initFrom: { run, step }\`)` : 'train it first',
      },
    );
  }
  if (!same(src.tokenizer.toJSON(), tokenizer.toJSON())) {
    const n = Math.min(src.tokenizer.vocabSize, tokenizer.vocabSize);
    let i = 0;
    while (i < n && src.tokenizer.token(i) === tokenizer.token(i)) i++;
    const where =
      i < n
        ? `token ${i} is ${JSON.stringify(src.tokenizer.token(i))} there and ${JSON.stringify(tokenizer.token(i))} here`
        : `${src.tokenizer.vocabSize} tokens there, ${tokenizer.vocabSize} here`;
    throw new GroundlabError('CONFIG_MISMATCH', `${initHint(init.run)} has another vocabulary than the new run's corpus (${where})`, {
      file: path.join(src.dir, 'tokenizer.json'),
      hint: 'start from a run trained on a corpus with the same vocabulary (the same corpus kind and vocabulary knobs; group counts, query forms and lengths may differ)',
    });
  }
  return { run: src.dir, step: ck.step };
}

/** Load the weights of `initFrom` into a new run's model; weights that do not fit its shapes are a CONFIG_MISMATCH naming the tensor. */
export async function loadInitWeights(model: LanguageModel, init: InitFrom): Promise<void> {
  const file = path.join(init.run, 'checkpoints', checkpointDirName(init.step), 'model.safetensors');
  try {
    await loadTensorsInto(file, model.params, { finite: true });
  } catch (e) {
    if (
      isGroundlabError(e) &&
      e.code === 'CORRUPT_CHECKPOINT' &&
      /has shape \[|^(.*: )?missing \d+ tensor|that the model does not have/.test(e.message.split('\n')[0])
    ) {
      const what = e.message.split('\n')[0].replace(`${file}: `, '');
      throw new GroundlabError('CONFIG_MISMATCH', `${initHint(init.run)} (step ${init.step}) does not fit the new model: ${what}`, {
        file,
        cause: e,
        hint: 'the new run needs the same model sizes and switches as the run it starts from (give it the same --model overrides); only the corpus, the training settings and the seed may differ',
        codeHint:
          'the new run needs the same model sizes and switches as the run it starts from (the same `model` overrides); only the corpus, the training settings and the seed may differ',
      });
    }
    throw e;
  }
}

/** Step 3: the model of the run's config, initialised from its seed; a stored config that cannot be built is a BAD_CONFIG naming config.json. */
export function buildModel(run: PreparedRun, deps: TrainDeps): LanguageModel {
  try {
    return deps.createModel(run.config.model, run.config.seed);
  } catch (e) {
    if (!run.fresh && isGroundlabError(e) && e.code !== 'UNSUPPORTED' && e.code !== 'BACKEND') {
      throw new GroundlabError('BAD_CONFIG', `the model config in config.json cannot be built: ${e.message}`, {
        file: run.cfgFile,
        cause: e,
      });
    }
    throw e;
  }
}

/** The run folder as `openRunDir` leaves it: locked by this process. */
export interface OpenRun {
  lock: Lock;
  /** This session created the folder (a fresh run that fails before its first step removes it). */
  createdDir: boolean;
}

/**
 * Step 4: create and lock the run folder, remove what a killed trainer left half-done, and write a
 * fresh run's tokenizer.json and config.json. Returns 'raced' (lock released, model disposed) when
 * another process created the run between `prepareRun` and the lock: the caller starts again and
 * resumes it. On failure it disposes the model and removes what it wrote (and the folder it
 * created), never a folder another process holds.
 */
export async function openRunDir(run: PreparedRun, model: LanguageModel): Promise<OpenRun | 'raced'> {
  const { dir, cfgFile, fresh } = run;
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
      return 'raced';
    }
    removePartials(dir);
    if (fresh) {
      wrote = true;
      await atomicWriteJSON(path.join(dir, 'tokenizer.json'), run.data.tokenizer.toJSON());
      await atomicWriteJSON(cfgFile, run.config);
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
  return { lock, createdDir };
}

/** The state of one training session: what the steps read and advance. */
export interface TrainSession {
  run: PreparedRun;
  open: OpenRun;
  model: LanguageModel;
  opt: AdamW;
  /** The model's trainable variables, and each variable's parameter name. */
  vars: tf.Variable[];
  nameOf: Map<string, string>;
  ds: MaskedDataset;
  /** Steps that get a checkpoint. */
  schedule: Set<number>;
  progress?: ProgressFn;
  order: DataOrder;
  /** Steps done (in the whole run), tokens seen, training seconds before this session. */
  step: number;
  tokensSeen: number;
  elapsedBefore: number;
  /** The loss trace of steps 1..step. */
  metrics: TrainMetricsRow[];
  /** The checkpoint this session resumed from. */
  resumedFrom?: CheckpointInfo;
  /** Last checkpoint on disk (-1: none yet), and the session's first step. */
  lastSaved: number;
  startStep: number;
  /** Date.now() when the session's clock started (after `resume`). */
  t0: number;
  lastLoss?: number;
}

/** Step 5: the optimiser (AdamW with the run's settings) and a session at step 0 with a fresh data order. */
export function startSession(run: PreparedRun, open: OpenRun, model: LanguageModel, progress?: ProgressFn): TrainSession {
  const tc = run.config.train;
  const vars = [...model.params.values()];
  const names = [...model.params.keys()];
  const nameOf = new Map(vars.map((v, i) => [v.name, names[i]]));
  const opt = new AdamW(model.params, { beta1: tc.beta1, beta2: tc.beta2, eps: tc.eps, weightDecay: tc.weightDecay });
  return {
    run,
    open,
    model,
    opt,
    vars,
    nameOf,
    ds: run.data.train as MaskedDataset,
    schedule: new Set(checkpointSteps(tc.steps, tc.checkpoints)),
    progress,
    order: undefined as unknown as DataOrder, // set by resume()
    step: 0,
    tokensSeen: 0,
    elapsedBefore: 0,
    metrics: [],
    lastSaved: -1,
    startStep: 0,
    t0: Date.now(),
  };
}

/**
 * Step 6: load the run's last checkpoint into the session (weights, optimiser state, data order,
 * step, tokens, time, loss trace), or give a fresh run its seeded data order. A damaged last
 * checkpoint is refused with the advice to delete it and resume from the one before.
 */
export async function resume(s: TrainSession): Promise<void> {
  const { run, model, opt } = s;
  const { dir, config, cfgFile } = run;
  const cks = run.fresh ? [] : listCheckpoints(dir);
  const ck: CheckpointInfo | undefined = cks[cks.length - 1];
  s.resumedFrom = ck;
  if (!ck) {
    if (config.initFrom) await loadInitWeights(model, config.initFrom);
    s.order = DataOrder.fresh(s.ds.size, config.seed);
  } else {
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
          {
            file: optFile,
          },
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
    s.order = new DataOrder(s.ds.size, st.data);
    s.step = st.step;
    s.tokensSeen = st.tokensSeen;
    s.elapsedBefore = st.elapsedSec;
    s.metrics = await readMetrics(dir, s.step);
    s.lastSaved = ck.step;
  }
  s.t0 = Date.now();
  s.startStep = s.step;
  s.lastLoss = s.metrics.length ? s.metrics[s.metrics.length - 1].loss : undefined;
}

/** Training seconds of the whole run so far (earlier sessions and this one). */
export const elapsed = (s: TrainSession): number => s.elapsedBefore + (Date.now() - s.t0) / 1000;

/**
 * Write checkpoint `step`: the loss trace of steps 1..step first, then the checkpoint folder
 * (weights, optimiser, state with the data order): a kill at any moment loses no row.
 */
export async function checkpoint(s: TrainSession, step: number, loss?: number): Promise<void> {
  await writeMetrics(s.run.dir, s.metrics);
  const state: CheckpointState = {
    step,
    loss,
    data: s.order.state(),
    tokensSeen: s.tokensSeen,
    elapsedSec: elapsed(s),
    savedAt: new Date().toISOString(),
    model: s.run.config.model,
  };
  await saveCheckpoint(s.run.dir, s.model, s.opt, state);
  s.lastSaved = step;
}

/** Step 7: checkpoint 0 of a fresh run; the progress line that says what this session does. */
export async function firstCheckpoint(s: TrainSession): Promise<void> {
  if (!s.resumedFrom) await checkpoint(s, 0);
  const { config, train: tc } = { config: s.run.config, train: s.run.config.train };
  const nParams = s.vars.reduce((a, v) => a + v.size, 0);
  const init =
    config.initFrom && !s.resumedFrom
      ? ` from the weights of ${path.relative(process.cwd(), config.initFrom.run) || '.'} at step ${config.initFrom.step}`
      : '';
  const what = s.resumedFrom ? `resuming ${s.run.opts.out} from step ${s.step}` : `training into ${s.run.opts.out}${init}`;
  const sizes = `${config.arch}, ${nParams.toLocaleString('en-US')} parameters, ${tc.batchSize} x ${tc.seqLen} tokens per step`;
  s.progress?.({ task: 'train', step: s.step, total: tc.steps, message: `${what}: ${sizes}` });
}

/** The outcome of one optimisation step. */
export interface StepOutcome {
  loss: number;
  gradNorm: number;
  lr: number;
  /** Loss and gradient norm are finite (only then were the weights updated). */
  finite: boolean;
}

/**
 * One optimisation step on the next batch of the data order: loss and gradients, global-norm
 * clipping, AdamW at the schedule's learning rate for step s.step + 1 (skipped when the loss or
 * the gradient norm is not finite). Disposes every tensor it makes; does not advance s.step.
 */
export async function trainStep(s: TrainSession): Promise<StepOutcome> {
  const tc = s.run.config.train;
  const rows = Array.from({ length: tc.batchSize }, () => s.order.next());
  const batch = makeBatch(s.ds, rows);
  const fopts = batch.feats ? { envFeatures: batch.feats as tf.Tensor3D } : undefined;
  const { value, grads } = tf.variableGrads(() => s.model.loss(batch.x, batch.y, batch.mask, fopts), s.vars);
  const named = new Map<string, tf.Tensor>();
  for (const [vn, g] of Object.entries(grads)) named.set(s.nameOf.get(vn) ?? vn, g);
  const clipped = clipByGlobalNorm(named, tc.gradClip);
  const [lossArr, normArr] = await Promise.all([value.data(), clipped.norm.data()]);
  const loss = lossArr[0];
  const gradNorm = normArr[0];
  const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
  const lr = learningRate({ ...tc }, s.step + 1);
  if (finite) s.opt.apply(clipped.grads, lr);
  tf.dispose([value, clipped.norm, ...Object.values(grads), ...clipped.grads.values(), batch.x, batch.y]);
  if (batch.mask) batch.mask.dispose();
  if (batch.feats) batch.feats.dispose();
  return { loss, gradNorm, lr, finite };
}

/**
 * Step 8: optimisation steps until the run's last step or the abort signal (checked before every
 * step): after each, the loss trace row, a checkpoint where the schedule has one, a progress event.
 * A non-finite first step is a NUMERIC error that removes the fresh run; a later one writes the
 * trace and keeps the last good checkpoint.
 */
export async function stepLoop(s: TrainSession): Promise<TrainResult['status']> {
  const tc = s.run.config.train;
  const { opts, dir, fresh } = s.run;
  const tokensPerStep = tc.batchSize * tc.seqLen;
  const window: number[] = [];
  while (s.step < tc.steps) {
    // Let timers, I/O and signal handlers run (SIGINT, a notebook's interrupt): on the wasm and cpu
    // backends a step's awaits resolve as microtasks only, which would starve them until the next
    // checkpoint write.
    await new Promise((resolve) => setImmediate(resolve));
    if (opts.signal?.aborted) return 'aborted';
    const ts = Date.now();
    const { loss, gradNorm, lr, finite } = await trainStep(s);
    if (!finite) {
      const what = Number.isFinite(loss) ? `the gradient norm is ${gradNorm}` : `the loss is ${loss}`;
      if (s.step === 0) {
        // The very first step: the initial model (or the data) gives non-finite values. A fresh
        // run's folder is removed, so a corrected command starts cleanly in the same --out.
        const removed = fresh && removeFreshRun(dir, s.open.createdDir);
        throw new GroundlabError('NUMERIC', `the first training step is not finite: ${what}`, {
          file: dir,
          hint: `the initial model gives non-finite values: check the --model values (e.g. initStd, lnEps/normEps) and the learning rate (now ${tc.lr})${removed ? `; ${opts.out} was removed, so the corrected command can use it again` : ''}`,
          codeHint: `the initial model gives non-finite values: check the \`model\` values (e.g. initStd, lnEps/normEps) and the learning rate (now ${tc.lr})${removed ? `; ${opts.out} was removed, so the corrected call can use it again` : ''}`,
        });
      }
      await writeMetrics(dir, s.metrics);
      throw new GroundlabError('NUMERIC', `training diverged at step ${s.step + 1}: ${what}`, {
        file: dir,
        hint: `the last good checkpoint (step ${s.lastSaved}) is kept; lower the learning rate (now ${tc.lr}) or raise the warm-up, then start a new run`,
      });
    }
    s.step++;
    s.tokensSeen += tokensPerStep;
    s.lastLoss = loss;
    s.metrics.push({ step: s.step, loss, lr, grad_norm: gradNorm, tokens: s.tokensSeen, elapsed_sec: elapsed(s) });
    window.push((Date.now() - ts) / 1000);
    if (window.length > 20) window.shift();
    const stepSec = window.reduce((a, b) => a + b, 0) / window.length;
    if (s.schedule.has(s.step)) await checkpoint(s, s.step, loss);
    s.progress?.({
      task: 'train',
      step: s.step,
      total: tc.steps,
      loss,
      tokensPerSec: tokensPerStep / stepSec,
      etaSec: (tc.steps - s.step) * stepSec,
    });
  }
  return 'completed';
}

/**
 * Step 9: a checkpoint at the last step reached if it has none (a session that trained nothing
 * rewrites the loss trace instead), the final progress event, and the result.
 */
export async function finish(s: TrainSession, status: TrainResult['status']): Promise<TrainResult> {
  const tc = s.run.config.train;
  const { dir } = s.run;
  if (s.lastSaved !== s.step) {
    await checkpoint(s, s.step, s.lastLoss);
  } else if (s.step === s.startStep) {
    await writeMetrics(dir, s.metrics); // nothing trained: rewrite the trace (e.g. a lost train.csv from the Arrow file)
  }
  const wallSec = (Date.now() - s.t0) / 1000;
  const sessionSteps = s.step - s.startStep;
  const tokensPerStep = tc.batchSize * tc.seqLen;
  const tokensPerSec = wallSec > 0 ? (sessionSteps * tokensPerStep) / wallSec : 0;
  s.progress?.({
    task: 'train',
    step: s.step,
    total: tc.steps,
    loss: s.lastLoss,
    tokensPerSec: sessionSteps > 0 ? tokensPerSec : undefined,
    done: true,
    message:
      status === 'aborted'
        ? `stopped at step ${s.step}; checkpoint saved (train again with the same settings to resume)`
        : sessionSteps === 0
          ? `already trained to step ${s.step}: nothing to do`
          : `done in ${wallSec.toFixed(1)} s`,
  });
  return {
    dir,
    status,
    step: s.step,
    steps: tc.steps,
    resumedFrom: s.resumedFrom?.step,
    losses: s.metrics.map((m) => m.loss),
    sessionSteps,
    wallSec,
    tokensPerSec,
    checkpoints: listCheckpoints(dir),
  };
}
