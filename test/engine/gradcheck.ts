/**
 * Gradient checks shared by the engine tests: a hand-written gradient against central finite
 * differences (a few sampled coordinates of every input) and against tfjs autodiff of a reference.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/engine';

export function rand(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), std), shape);
}

/**
 * Check d/dx_i of scalar f at a few coordinates of each input against central differences, and
 * the whole gradient against `ref` (stock autodiff) when given.
 */
export function checkGrad(
  name: string,
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  opts: { ref?: (...xs: tf.Tensor[]) => tf.Scalar; h?: number; tol?: number; samples?: number } = {},
): void {
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? 2e-2;
  const rng = new Rng(name);
  const grads = tf.tidy(() => tf.grads((...xs: tf.Tensor[]) => f(...xs))(inputs));
  inputs.forEach((x, xi) => {
    const g = grads[xi].dataSync();
    assert.deepEqual(grads[xi].shape, x.shape, `${name}: grad shape of input ${xi}`);
    const base = x.dataSync().slice();
    const n = base.length;
    const samples = Math.min(opts.samples ?? 12, n);
    for (let s = 0; s < samples; s++) {
      const i = rng.int(n);
      const eval1 = (delta: number) => {
        const v = base.slice();
        v[i] += delta;
        return tf.tidy(() => {
          const xs = inputs.map((t, j) => (j === xi ? tf.tensor(v, t.shape) : t));
          return f(...xs).dataSync()[0];
        });
      };
      const fd = (eval1(h) - eval1(-h)) / (2 * h);
      const scale = Math.max(1, Math.abs(fd), Math.abs(g[i]));
      assert.ok(Math.abs(fd - g[i]) <= tol * scale, `${name}: d/dx${xi}[${i}] analytic ${g[i]} vs finite difference ${fd}`);
    }
    if (opts.ref) {
      const rg = tf.tidy(() => tf.grads((...xs: tf.Tensor[]) => opts.ref!(...xs))(inputs));
      const a = rg[xi].dataSync();
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(a[i] - g[i]) <= 1e-3 * Math.max(1, Math.abs(a[i])), `${name}: input ${xi}[${i}] fused ${g[i]} vs stock autodiff ${a[i]}`);
      }
      tf.dispose(rg);
    }
  });
  tf.dispose(grads);
}

/** A random linear functional of an op's output, so every output element matters. */
export function probe(rng: Rng, shape: number[]): tf.Tensor {
  return tf.keep(rand(rng, shape));
}
