/**
 * `train(opts)`: causal language modelling of a Transformer, Mamba-2 or LSTM on a tokenised corpus,
 * into a run directory (see ./run.ts). AdamW with warm-up and cosine/linear decay, global-norm
 * gradient clipping, seeded data order, checkpoints dense early then regular. Resuming from the last
 * checkpoint reproduces the uninterrupted run's loss trace exactly (same backend).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { engineInfo, initEngine } from '../engine/backend';
import { Rng, type RngState } from '../engine/rng';
import { atomicWrite, atomicWriteJSON } from '../io/atomic';
import { readSafetensors, loadTensorsInto, saveTensors, writeSafetensors } from '../io/safetensors';
import type { Arch, LanguageModel } from '../models/types';
import type { CorpusSpec, TokenDataset } from '../data/types';
import { knownArchs, withDefaults, type AnyModelConfig, type TrainDeps, type TrainingData } from './deps';
import { AdamW, clipByGlobalNorm } from './optimizer';
import { trainPreset, validateTrainConfig, PRESET_NAMES, type PresetName, type TrainConfig } from './presets';
import { checkpointSteps, learningRate } from './schedule';
import { terminalProgress, type ProgressFn } from './progress';
import {
  checkpointDirName,
  listCheckpoints,
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
    if (size < 1) throw new GroundlabError('BAD_CONFIG', 'the training dataset is empty', { hint: 'use a larger corpus or a shorter seqLen' });
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
    if (row.length !== T + 1) throw new GroundlabError('INTERNAL', `dataset row ${r} has ${row.length} ids, expected seqLen + 1 = ${T + 1}`);
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
  await atomicWrite(path.join(dir, 'metrics', 'train.arrow'), aq.toArrowIPC(t));
  await atomicWrite(path.join(dir, 'metrics', 'train.csv'), aq.toCSV(t) + '\n');
}

async function readMetrics(dir: string, upTo: number): Promise<TrainMetricsRow[]> {
  const f = path.join(dir, 'metrics', 'train.arrow');
  if (!fs.existsSync(f)) return [];
  try {
    const t = aq.fromArrow(fs.readFileSync(f));
    return (t.objects() as TrainMetricsRow[]).filter((r) => r.step <= upTo).map((r) => ({ ...r }));
  } catch (e) {
    throw new GroundlabError('BAD_FILE', `the metrics table cannot be read: ${(e as Error).message}`, { file: f, cause: e, hint: 'delete it to resume without the earlier loss trace' });
  }
}

async function saveCheckpoint(dir: string, model: LanguageModel, opt: AdamW, state: CheckpointState): Promise<CheckpointInfo> {
  const root = path.join(dir, 'checkpoints');
  const name = checkpointDirName(state.step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.partial-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await saveTensors(path.join(tmp, 'model.safetensors'), model.params as Map<string, tf.Tensor>, { format: 'pt', groundlab_step: String(state.step) });
  await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), await opt.stateTensors(), { optimizer: 'adamw' });
  await atomicWriteJSON(path.join(tmp, 'state.json'), state);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  return { step: state.step, dir: final };
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
    new GroundlabError('CONFIG_MISMATCH', `${opts.out} already holds a run with ${what} ${JSON.stringify(stored)}, but ${JSON.stringify(given)} was asked for`, {
      file: cfgFile,
      hint: 'resume it with the same settings, or choose a new --out folder for a new run',
    });
  if (opts.arch !== cfg.arch) throw clash('arch', opts.arch, cfg.arch);
  if (opts.preset !== cfg.preset) throw clash('preset', opts.preset, cfg.preset);
  if (opts.seed !== undefined && opts.seed !== cfg.seed) throw clash('seed', opts.seed, cfg.seed);
  const t = resolveTrainConfig(opts, trainPreset(cfg.preset).train);
  for (const k of Object.keys(t) as Array<keyof TrainConfig>) {
    const given = k === 'steps' ? opts.steps : k === 'batchSize' ? opts.batchSize : k === 'seqLen' ? opts.seqLen : k === 'lr' ? opts.lr : opts.train?.[k];
    if (given !== undefined && !same(k === 'checkpoints' ? { ...cfg.train.checkpoints, ...(given as object) } : given, cfg.train[k])) throw clash(`train.${k}`, given, cfg.train[k]);
  }
  for (const [k, v] of Object.entries(opts.model ?? {})) if (!same(v, cfg.model[k])) throw clash(`model.${k}`, v, cfg.model[k]);
  for (const [k, v] of Object.entries(opts.corpus ?? {})) if (!same(v, (cfg.corpus as unknown as Record<string, unknown>)[k])) throw clash(`corpus.${k}`, v, (cfg.corpus as unknown as Record<string, unknown>)[k]);
}

/** Train a model into `opts.out` (resuming it when it already holds a run). */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  if (!knownArchs().includes(opts.arch)) {
    throw new GroundlabError('BAD_ARGUMENT', `unknown arch "${opts.arch}"`, { hint: `use one of: ${knownArchs().join(', ')}` });
  }
  if (!PRESET_NAMES.includes(opts.preset)) throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${opts.preset}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  if (opts.seed !== undefined && !Number.isInteger(opts.seed)) throw new GroundlabError('BAD_ARGUMENT', `seed must be a whole number, got ${opts.seed}`);
  await initEngine();
  const deps = withDefaults(opts.deps);
  const dir = path.resolve(opts.out);
  const cfgFile = path.join(dir, 'config.json');
  const progress = opts.onProgress ?? (opts.log ? terminalProgress() : undefined);

  let config: RunConfig;
  let data: TrainingData;
  let resumeFrom: CheckpointInfo | undefined;
  if (fs.existsSync(cfgFile)) {
    if (opts.resume === false) {
      throw new GroundlabError('BAD_ARGUMENT', `${opts.out} already holds a run`, { hint: 'choose a new --out folder, delete the old run, or resume it' });
    }
    config = validateRunConfig(await readJSONFile(cfgFile, 'run config'), cfgFile);
    checkResumeOptions(opts, config, cfgFile);
    data = opts.data ?? (await deps.prepareData(config.corpus, { seqLen: config.train.seqLen }));
    const tokFile = path.join(dir, 'tokenizer.json');
    const saved = await readJSONFile(tokFile, 'tokenizer');
    if (!same(saved, data.tokenizer.toJSON())) {
      throw new GroundlabError('CONFIG_MISMATCH', 'the corpus rebuilt from config.json has a different vocabulary than the run\'s tokenizer.json', {
        file: tokFile,
        hint: 'the corpus generator or its files changed since the run started; start a new run',
      });
    }
    const cks = listCheckpoints(dir);
    resumeFrom = cks[cks.length - 1];
  } else {
    if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0)) {
      throw new GroundlabError('BAD_ARGUMENT', `${opts.out} exists and is not a run directory (no config.json)`, { hint: 'choose a new or empty --out folder' });
    }
    const preset = trainPreset(opts.preset);
    const trainCfg = resolveTrainConfig(opts, preset.train);
    const kind = opts.corpus?.kind ?? 'synthetic';
    // The preset's setting names a synthetic-generator setting; other corpus kinds get none by default.
    const corpus = { kind, ...(kind === 'synthetic' ? { setting: preset.corpusSetting } : {}), seed: 0, ...(opts.corpus ?? {}) } as CorpusSpec;
    data = opts.data ?? (await deps.prepareData(corpus, { seqLen: trainCfg.seqLen }));
    if (data.train.seqLen !== trainCfg.seqLen) {
      throw new GroundlabError('CONFIG_MISMATCH', `the dataset has rows of ${data.train.seqLen} tokens but the train config asks for seqLen ${trainCfg.seqLen}`);
    }
    const overrides: Record<string, unknown> = { ...(opts.model ?? {}) };
    if (data.train.featureDim > 0 && overrides.envFeatureDim === undefined) overrides.envFeatureDim = data.train.featureDim;
    const model: AnyModelConfig = deps.modelPreset(opts.arch, opts.preset, data.tokenizer.vocabSize, overrides);
    if (model.contextLength < trainCfg.seqLen) {
      throw new GroundlabError('BAD_CONFIG', `the model's contextLength ${model.contextLength} is shorter than the training seqLen ${trainCfg.seqLen}`, {
        hint: 'raise the model contextLength or lower --seq-len',
      });
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
    fs.mkdirSync(dir, { recursive: true });
    await atomicWriteJSON(path.join(dir, 'tokenizer.json'), data.tokenizer.toJSON());
    await atomicWriteJSON(cfgFile, config);
  }

  const tc = config.train;
  const ds = data.train as MaskedDataset;
  if (ds.seqLen !== tc.seqLen) throw new GroundlabError('CONFIG_MISMATCH', `the dataset has rows of ${ds.seqLen} tokens but the run's seqLen is ${tc.seqLen}`, { file: cfgFile });
  const schedule = new Set(checkpointSteps(tc.steps, tc.checkpoints));
  const releaseLock = acquireRunLock(dir);
  let model: LanguageModel;
  try {
    model = deps.createModel(config.model, config.seed);
  } catch (e) {
    releaseLock();
    throw e;
  }
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
        await loadTensorsInto(path.join(ck.dir, 'model.safetensors'), model.params);
        const optFile = path.join(ck.dir, 'optimizer.safetensors');
        opt.loadState(await readSafetensors(optFile), optFile);
        if (opt.step !== st.step) throw new GroundlabError('CORRUPT_CHECKPOINT', `optimizer step ${opt.step} differs from state.json step ${st.step}`, { file: optFile });
      } catch (e) {
        if (!(e instanceof GroundlabError)) throw e;
        const prev = listCheckpoints(dir).filter((c) => c.step < ck.step).pop();
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
    });
    let lastSaved = resumeFrom?.step ?? -1;
    if (!resumeFrom) {
      await saveCheckpoint(dir, model, opt, stateAt(0));
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
        await writeMetrics(dir, metrics);
        const what = Number.isFinite(loss) ? `the gradient norm is ${gradNorm}` : `the loss is ${loss}`;
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
        await saveCheckpoint(dir, model, opt, stateAt(step, loss));
        lastSaved = step;
        await writeMetrics(dir, metrics);
      }
      progress?.({ task: 'train', step, total: tc.steps, loss, tokensPerSec: tokensPerStep / stepSec, etaSec: (tc.steps - step) * stepSec });
    }
    if (lastSaved !== step) {
      await saveCheckpoint(dir, model, opt, stateAt(step, lastLoss));
      lastSaved = step;
    }
    await writeMetrics(dir, metrics);
    const wallSec = (Date.now() - t0) / 1000;
    const sessionSteps = step - startStep;
    const tokensPerSec = wallSec > 0 ? (sessionSteps * tokensPerStep) / wallSec : 0;
    progress?.({
      task: 'train',
      step,
      total: tc.steps,
      loss: lastLoss,
      tokensPerSec,
      done: true,
      message: status === 'aborted' ? `stopped at step ${step}; checkpoint saved (run the same command to resume)` : `done in ${wallSec.toFixed(1)} s`,
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
  } finally {
    opt.dispose();
    model.dispose();
    releaseLock();
  }
}

/**
 * One training process per run directory: `<run>/.train.lock` holds "pid host". A lock left by a
 * process that no longer runs on this host (killed, crashed) is taken over.
 */
export function acquireRunLock(dir: string): () => void {
  const file = path.join(dir, '.train.lock');
  const me = `${process.pid} ${os.hostname()}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, me, { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === me) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      const [pidStr, host] = (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '').split(' ');
      const pid = Number(pidStr);
      let alive = false;
      if (host === os.hostname() && Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as { code?: string }).code === 'EPERM';
        }
      } else if (host && host !== os.hostname()) {
        alive = true; // cannot tell: another machine
      }
      if (alive) {
        throw new GroundlabError('BAD_ARGUMENT', `run ${dir} is being trained by process ${pid} on ${host}`, {
          file,
          hint: 'wait for it to finish, or stop it; if that process is gone, delete the lock file',
        });
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new GroundlabError('INTERNAL', `could not take the training lock of ${dir}`, { file });
}
