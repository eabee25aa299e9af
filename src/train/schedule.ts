/**
 * Learning-rate schedule (linear warm-up, then cosine or linear decay) and the checkpoint schedule
 * (log-spaced early, then regular, always the first and the last step).
 */
import { GroundlabError } from '../errors';

export type DecayKind = 'cosine' | 'linear' | 'constant';

export interface LrSchedule {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warm-up from lr/warmup to lr. */
  warmupSteps: number;
  decay: DecayKind;
  /** The learning rate at the last step is lr * minLrRatio. */
  minLrRatio: number;
  /** Total number of steps. */
  steps: number;
}

/** Learning rate of update number `step` (1-based). */
export function learningRate(s: LrSchedule, step: number): number {
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  if (s.decay === 'constant') return s.lr;
  const span = Math.max(1, s.steps - s.warmupSteps);
  const p = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  const min = s.lr * s.minLrRatio;
  if (s.decay === 'linear') return s.lr - (s.lr - min) * p;
  return min + (s.lr - min) * 0.5 * (1 + Math.cos(Math.PI * p));
}

export interface CheckpointSchedule {
  /** Number of log-spaced checkpoints between step 1 and `denseUntil`. */
  dense: number;
  /** Last step of the dense (log-spaced) part. */
  denseUntil: number;
  /** Then one checkpoint every `every` steps (0 = none). */
  every: number;
}

/**
 * The steps at which checkpoints are saved, sorted: 0 (the initialisation), `dense` log-spaced steps
 * in [1, denseUntil], every multiple of `every`, and the last step.
 */
export function checkpointSteps(total: number, s: CheckpointSchedule): number[] {
  if (!Number.isInteger(total) || total < 0) throw new GroundlabError('BAD_CONFIG', `steps must be a whole number >= 0, got ${total}`);
  const set = new Set<number>([0, total]);
  const until = Math.min(total, s.denseUntil);
  if (s.dense > 0 && until >= 1) {
    if (s.dense === 1) set.add(until);
    else for (let i = 0; i < s.dense; i++) set.add(Math.round(Math.pow(until, i / (s.dense - 1))));
  }
  if (s.every > 0) for (let k = s.every; k <= total; k += s.every) set.add(k);
  return [...set].filter((x) => x >= 0 && x <= total).sort((a, b) => a - b);
}
