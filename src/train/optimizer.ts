/**
 * AdamW (Loshchilov & Hutter: Adam with decoupled weight decay), written out so that its whole
 * state (first and second moments, step count) can be saved in a checkpoint and restored exactly.
 *
 *   m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p )
 *
 * Weight decay applies to parameters of rank >= 2 (matrices and embeddings), not to biases and
 * norm gains, as in GPT-2 / nanoGPT. Gradient clipping by global norm is done by `clipByGlobalNorm`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { NATIVE, nativeKernelsActive, runNative } from '../engine/native';
import type { SafetensorsContent, TensorToWrite } from '../io/safetensors';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  readonly config: AdamWConfig;
  /** Number of updates applied so far (t in the formulas after the next update is t + 1). */
  step = 0;
  private readonly params: Map<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(params: Map<string, tf.Variable>, config: AdamWConfig) {
    this.params = params;
    this.config = config;
    for (const [name, p] of params) {
      // tidy disposes the zeros; the variables (which tidy never disposes) keep their data.
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
  }

  /** Apply one update with learning rate `lr`; `grads` by parameter name (disposed by the caller). */
  apply(grads: Map<string, tf.Tensor> | Record<string, tf.Tensor>, lr: number): void {
    const g = grads instanceof Map ? grads : new Map(Object.entries(grads));
    this.step++;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - Math.pow(beta1, this.step);
    const bc2 = 1 - Math.pow(beta2, this.step);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const grad = g.get(name);
        if (!grad) continue; // a parameter that the loss does not depend on
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const decay = weightDecay > 0 && p.rank >= 2 ? 1 - lr * weightDecay : 1;
        if (nativeKernelsActive()) {
          // One fused kernel (../engine/native.ts): the same formulas, in one pass over the tensor.
          const attrs = { lr, beta1, beta2, eps, bc1, bc2, decay };
          const [p1, m1, v1] = runNative(NATIVE.adamw, { p, g: grad, m, v }, attrs);
          p.assign(p1);
          m.assign(m1);
          v.assign(v1);
          continue;
        }
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2));
        const upd = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        const decayed = decay !== 1 ? tf.mul(p, decay) : p;
        p.assign(tf.sub(decayed, tf.mul(upd, lr)));
        m.assign(m1);
        v.assign(v1);
      }
    });
  }

  /** The state as safetensors entries: "m.<name>", "v.<name>", and "step" (I32). */
  async stateTensors(): Promise<Map<string, TensorToWrite>> {
    const out = new Map<string, TensorToWrite>();
    for (const [kind, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of map)
        out.set(`${kind}.${name}`, { dtype: 'F32', shape: t.shape.slice(), data: new Float32Array(await t.data()) });
    }
    out.set('step', { dtype: 'I32', shape: [1], data: new Int32Array([this.step]) });
    return out;
  }

  /** Restore the state saved by `stateTensors` (shapes checked; errors name `file`). */
  loadState(content: SafetensorsContent, file: string): void {
    const step = content.tensors.get('step');
    if (!step || step.data.length !== 1) throw new GroundlabError('CORRUPT_CHECKPOINT', 'optimizer state has no "step" tensor', { file });
    const plan: Array<[tf.Variable, Float32Array | Int32Array]> = [];
    for (const [kind, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of map) {
        const s = content.tensors.get(`${kind}.${name}`);
        if (!s)
          throw new GroundlabError('CORRUPT_CHECKPOINT', `optimizer state lacks "${kind}.${name}"`, {
            file,
            hint: 'the optimizer state does not fit this model',
          });
        if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i]) || !(s.data instanceof Float32Array)) {
          throw new GroundlabError(
            'CORRUPT_CHECKPOINT',
            `optimizer tensor "${kind}.${name}" has shape [${s.shape.join(', ')}] (${s.dtype}), expected [${t.shape.join(', ')}] F32`,
            { file },
          );
        }
        plan.push([t, s.data]);
      }
    }
    for (const [t, data] of plan) {
      const val = tf.tensor(data, t.shape, 'float32');
      t.assign(val);
      val.dispose();
    }
    this.step = step.data[0];
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Scale gradients so that their global L2 norm is at most `maxNorm` (no-op when maxNorm <= 0).
 * Returns new tensors (the caller disposes the inputs) and the norm before clipping as a scalar.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const names = [...grads.keys()];
  // tf.tidy keeps only tensors it can find in the result: return an array, not a Map.
  const [norm, ...scaled] = tf.tidy(() => {
    const gs = names.map((k) => grads.get(k)!);
    const norm = tf.sqrt(gs.length ? tf.addN(gs.map((g) => tf.sum(tf.square(g)))) : tf.scalar(0)) as tf.Scalar; // []
    if (maxNorm <= 0) return [norm, ...gs.map((g) => tf.clone(g))];
    // scale = min(1, maxNorm / (norm + 1e-6))
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, 1e-6)));
    return [norm, ...gs.map((g) => tf.mul(g, scale))];
  });
  return { grads: new Map(names.map((k, i) => [k, scaled[i]])), norm: norm as tf.Scalar };
}
