/**
 * `train(opts)`: causal language modelling of a Transformer, Mamba-2, LSTM, GRU or GLA on a
 * tokenised corpus, into a run directory (see ./run.ts). AdamW with warm-up and cosine/linear
 * decay, global-norm gradient clipping, seeded data order, checkpoints dense early then regular.
 * Resuming from the last checkpoint reproduces the uninterrupted run's loss trace exactly (same
 * backend). `train()` is a short sequence of named steps, each one function in ./steps.ts (its
 * file comment lists them and their contracts); ./steps-data.ts holds the data order and batches,
 * ./steps-io.ts what the trainer writes in the run directory.
 */
import { fromSystemError } from '../errors';
import { initEngine } from '../engine/backend';
import type { Arch } from '../models/types';
import type { CorpusSpec } from '../data/types';
import { withDefaults, type TrainDeps, type TrainingData } from './deps';
import type { PresetName, TrainConfig } from './presets';
import { terminalProgress, type ProgressFn } from './progress';
import type { CheckpointInfo } from './run';
import { buildModel, checkOptions, finish, firstCheckpoint, openRunDir, prepareRun, resume, startSession, stepLoop } from './steps';
import { removeFreshRun } from './steps-io';

export { DataOrder } from './steps-data';
export { readMetrics, removePartials, acquireRunLock, type TrainMetricsRow } from './steps-io';
export { checkSeed, checkModelKeys } from './steps';

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
  /**
   * Start a new run from another run's weights instead of random initialisation (a curriculum,
   * fine-tuning on another corpus): `run` is its folder, `step` a checkpoint (default the last).
   * The architecture, parameter shapes and vocabulary must be the same; the optimiser, data order
   * and step count start fresh. Recorded in config.json; ignored when `out` resumes.
   */
  initFrom?: { run: string; step?: number };
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

/** Train a model into `opts.out` (resuming it when it already holds a run): the steps of ./steps.ts in order. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  checkOptions(opts);
  await initEngine();
  const deps = withDefaults(opts.deps);
  const progress = opts.onProgress ?? (opts.log ? terminalProgress() : undefined);
  const run = await prepareRun(opts, deps);
  const model = buildModel(run, deps);
  const open = await openRunDir(run, model);
  if (open === 'raced') return train(opts);
  const s = startSession(run, open, model, progress);
  try {
    await resume(s);
    await firstCheckpoint(s);
    const status = await stepLoop(s);
    return await finish(s, status);
  } catch (e) {
    // A fresh run that never completed a step holds nothing worth keeping (and would refuse a
    // corrected command as a CONFIG_MISMATCH): remove it.
    if (s.step === 0 && run.fresh) removeFreshRun(run.dir, open.createdDir);
    throw fromSystemError(e);
  } finally {
    s.opt.dispose();
    model.dispose();
    open.lock.release();
  }
}
