/**
 * Training presets as data. A preset fixes the optimisation (steps, batch, sequence length,
 * learning-rate schedule, clipping), the checkpoint schedule and the corpus setting; the model
 * sizes of the same preset name come from `modelPreset` (src/models).
 *
 * The paper does not publish its training hyperparameters: `paper` is a GPU-scale guess in the
 * spirit of GPT-2 training, not the paper's exact recipe.
 */
import { GroundlabError } from '../errors';
import type { CheckpointSchedule, DecayKind } from './schedule';

import { PRESET_NAMES, type PresetName } from '../models/adapter';

export { PRESET_NAMES, type PresetName };

export interface TrainConfig {
  steps: number;
  batchSize: number;
  /** Tokens per training row (the model's context must be at least this long). */
  seqLen: number;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  decay: DecayKind;
  minLrRatio: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Clip gradients to this global L2 norm (0 = no clipping). */
  gradClip: number;
  checkpoints: CheckpointSchedule;
}

export interface TrainPreset {
  train: TrainConfig;
  /** Named setting of the synthetic corpus generator (src/data). */
  corpusSetting: string;
  /** Knob overrides on top of that setting for this preset (e.g. more episodes for longer training). */
  corpusKnobs?: Record<string, number>;
  /** One line for --help and the docs. */
  about: string;
}

const OPT = { decay: 'cosine' as const, minLrRatio: 0.1, weightDecay: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, gradClip: 1.0 };

export const TRAIN_PRESETS: Record<PresetName, TrainPreset> = {
  tiny: {
    about: 'tests and smoke checks: seconds',
    corpusSetting: 'simple',
    train: { ...OPT, steps: 30, batchSize: 4, seqLen: 32, lr: 3e-3, warmupSteps: 5, checkpoints: { dense: 4, denseUntil: 10, every: 10 } },
  },
  quick: {
    about: 'a laptop: minutes on one CPU core, long enough for grounding to appear on the simple corpus',
    corpusSetting: 'simple',
    train: {
      ...OPT,
      steps: 1500,
      batchSize: 16,
      seqLen: 64,
      lr: 2e-3,
      warmupSteps: 100,
      checkpoints: { dense: 12, denseUntil: 300, every: 100 },
    },
  },
  medium: {
    about: 'the deepest models one CPU core trains in about an hour: the realistic corpus, 4x larger',
    corpusSetting: 'realistic',
    corpusKnobs: { episodes: 48000 },
    train: {
      ...OPT,
      steps: 6000,
      batchSize: 16,
      seqLen: 128,
      lr: 1e-3,
      warmupSteps: 300,
      checkpoints: { dense: 12, denseUntil: 600, every: 300 },
    },
  },
  paper: {
    about: 'paper scale, for a GPU (tfjs-node-gpu): hours',
    corpusSetting: 'realistic',
    train: {
      ...OPT,
      steps: 50000,
      batchSize: 16,
      seqLen: 512,
      lr: 6e-4,
      warmupSteps: 1000,
      weightDecay: 0.1,
      checkpoints: { dense: 20, denseUntil: 2000, every: 1000 },
    },
  },
};

export function trainPreset(name: string): TrainPreset {
  const p = TRAIN_PRESETS[name as PresetName];
  if (!p) throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${name}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  return {
    ...p,
    ...(p.corpusKnobs ? { corpusKnobs: { ...p.corpusKnobs } } : {}),
    train: { ...p.train, checkpoints: { ...p.train.checkpoints } },
  };
}

/** The most steps a run may have: its loss trace (one row per step) is kept in memory and rewritten at each checkpoint. */
export const MAX_STEPS = 10_000_000;

/** Check a train config; throws BAD_CONFIG naming the field. */
export function validateTrainConfig(c: TrainConfig, where = 'train config'): void {
  const bad = (field: string, what: string) => new GroundlabError('BAD_CONFIG', `${where}: ${field} ${what}`);
  const posInt = (k: keyof TrainConfig, min = 1, max = Number.MAX_SAFE_INTEGER) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < min) throw bad(k, `must be a whole number >= ${min}, got ${v}`);
    if (v > max) throw bad(k, `must be at most ${max.toLocaleString('en-US')}, got ${v}`);
  };
  // At least one step (a run of 0 steps has no loss trace); at most MAX_STEPS (the trace is kept in memory).
  posInt('steps', 1, MAX_STEPS);
  posInt('batchSize');
  posInt('seqLen', 1);
  posInt('warmupSteps', 0);
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) throw bad('lr', `must be > 0, got ${c.lr}`);
  if (!(c.minLrRatio >= 0 && c.minLrRatio <= 1)) throw bad('minLrRatio', `must be in [0, 1], got ${c.minLrRatio}`);
  if (!(c.weightDecay >= 0)) throw bad('weightDecay', `must be >= 0, got ${c.weightDecay}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) throw bad('beta1/beta2', 'must be in [0, 1)');
  if (!(c.eps > 0)) throw bad('eps', 'must be > 0');
  if (!(c.gradClip >= 0)) throw bad('gradClip', 'must be >= 0 (0 = off)');
  if (!['cosine', 'linear', 'constant'].includes(c.decay)) throw bad('decay', `must be cosine, linear or constant, got ${c.decay}`);
}
