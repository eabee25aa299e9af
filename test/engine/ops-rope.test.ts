/**
 * Rotary positions (src/engine/ops-rope.ts): the gradient against finite differences, the
 * rotation against a hand computation, and the property RoPE exists for: shifting every position
 * by the same offset leaves q . k unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';
import { rope } from '../../src/engine/ops-rope';
import { isGroundlabError } from '../../src/errors';
import { checkGrad, probe, rand } from './gradcheck';

test('rope: the hand-written gradient matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(11);
  const x = rand(rng, [3, 5, 8]);
  const r = probe(rng, [3, 5, 8]);
  // reference: the same rotation written with stock ops, differentiated by tfjs
  const ref = (x: tf.Tensor) => {
    const [n, t, dh] = x.shape;
    const half = dh / 2;
    const ang = tf.tensor2d(Array.from({ length: t * half }, (_, k) => Math.floor(k / half) * Math.pow(100, (-2 * (k % half)) / dh)), [t, half]);
    const [x1, x2] = [tf.slice(x, [0, 0, 0], [n, t, half]), tf.slice(x, [0, 0, half], [n, t, half])];
    return tf.concat([tf.sub(tf.mul(x1, tf.cos(ang)), tf.mul(x2, tf.sin(ang))), tf.add(tf.mul(x2, tf.cos(ang)), tf.mul(x1, tf.sin(ang)))], 2);
  };
  checkGrad('rope', (x) => tf.sum(tf.mul(rope(x as tf.Tensor3D, 100), r)), [x], { ref: (x) => tf.sum(tf.mul(ref(x), r)) });
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(rope(x as tf.Tensor3D, 100), ref(x)))).dataSync()[0]);
  assert.ok(d < 1e-5, `rope equals the stock rotation (max diff ${d})`);
});

test('rope: a hand-computed rotation, and q . k depends only on the distance of the positions', async () => {
  await initEngine({ log: false });
  // Dh = 2, base irrelevant for the first pair: position p rotates (a, b) by p radians.
  const x = tf.tensor3d([1, 0, 1, 0, 1, 0], [1, 3, 2]);
  const y = rope(x).dataSync();
  for (let p = 0; p < 3; p++) {
    assert.ok(Math.abs(y[2 * p] - Math.cos(p)) < 1e-6 && Math.abs(y[2 * p + 1] - Math.sin(p)) < 1e-6, `position ${p}: (${y[2 * p]}, ${y[2 * p + 1]})`);
  }
  const rng = new Rng(5);
  const T = 6, Dh = 8;
  const q = rand(rng, [1, T, Dh]) as tf.Tensor3D;
  const k = rand(rng, [1, T, Dh]) as tf.Tensor3D;
  const scores = (offset: number) => tf.tidy(() => tf.matMul(rope(q, 10000, offset), rope(k, 10000, offset), false, true).dataSync()); // [1, T, T]
  const s0 = scores(0);
  for (const off of [1, 7, 100]) {
    const s = scores(off);
    let worst = 0;
    for (let i = 0; i < s0.length; i++) worst = Math.max(worst, Math.abs(s[i] - s0[i]));
    assert.ok(worst < 1e-4, `offset ${off}: q . k changed by ${worst}`);
  }
  // ... and it does depend on positions: unrotated scores differ
  const plain = tf.matMul(q, k, false, true).dataSync();
  assert.ok(plain.some((v, i) => Math.abs(v - s0[i]) > 1e-2), 'rotation changes the scores of different positions');
  assert.throws(() => rope(tf.zeros([1, 2, 3]) as tf.Tensor3D), (e: unknown) => isGroundlabError(e) && /even head size/.test((e as Error).message));
});
