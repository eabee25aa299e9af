/**
 * Timing of one training step (forward + backward via `tf.variableGrads` on `model.loss`, no
 * optimizer update), for the benchmark and for docs/models.md. Fused and stock ("naive") variants
 * of the same config are timed in alternation so that load on the machine affects both alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/rng';
import { createModel } from './create';
import type { ModelConfig } from './config';
import type { LanguageModel } from './types';

export interface StepTiming {
  /** Median milliseconds per step. */
  msPerStep: number;
  /** All measured steps (ms), after warm-up. */
  samples: number[];
  tokensPerSec: number;
}

export interface TimeStepOptions {
  batch?: number; // default 32
  seqLen?: number; // default: the config's contextLength
  steps?: number; // measured steps per variant, default 3
  warmup?: number; // default 1
  seed?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function batchOf(vocab: number, b: number, t: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: b * (t + 1) }, () => rng.int(vocab));
  const all = tf.tensor2d(ids, [b, t + 1], 'int32');
  const x = tf.slice(all, [0, 0], [b, t]) as tf.Tensor2D;
  const y = tf.slice(all, [0, 1], [b, t]) as tf.Tensor2D;
  all.dispose();
  return { x, y };
}

function oneStep(m: LanguageModel, x: tf.Tensor2D, y: tf.Tensor2D): number {
  const t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => m.loss(x, y), [...m.params.values()]);
  value.dataSync();
  for (const g of Object.values(grads)) g.dataSync(); // make sure all work is done (async backends)
  const ms = performance.now() - t0;
  tf.dispose([value, grads]);
  return ms;
}

/**
 * Time training steps of each config in `configs`, alternating between them step by step.
 * Returns one timing per config, in order.
 */
export function timeTrainSteps(configs: ModelConfig[], opts: TimeStepOptions = {}): StepTiming[] {
  const batch = opts.batch ?? 32;
  const steps = opts.steps ?? 3;
  const warmup = opts.warmup ?? 1;
  const models = configs.map((c) => createModel(c, opts.seed ?? 0));
  const data = configs.map((c) => batchOf(c.vocabSize, batch, opts.seqLen ?? c.contextLength, (opts.seed ?? 0) + 1));
  const samples: number[][] = configs.map(() => []);
  try {
    for (let i = 0; i < warmup + steps; i++) {
      models.forEach((m, k) => {
        const ms = oneStep(m, data[k].x, data[k].y);
        if (i >= warmup) samples[k].push(ms);
      });
    }
  } finally {
    models.forEach((m) => m.dispose());
    data.forEach((d) => tf.dispose([d.x, d.y]));
  }
  return samples.map((s, k) => {
    const ms = median(s);
    const t = opts.seqLen ?? configs[k].contextLength;
    return { msPerStep: ms, samples: s, tokensPerSec: (batch * t * 1000) / ms };
  });
}
