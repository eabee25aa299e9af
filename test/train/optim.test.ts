import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { AdamW, clipByGlobalNorm } from '../../src/train/optimizer';
import { checkpointSteps, learningRate } from '../../src/train/schedule';
import { formatDuration, formatProgress, terminalProgress } from '../../src/train/progress';
import { trainPreset, TRAIN_PRESETS, validateTrainConfig } from '../../src/train/presets';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors';

test('AdamW matches a scalar reference implementation, incl. decoupled weight decay on matrices only', async () => {
  await initEngine({ log: false });
  const W = tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]), true, 'adam_W');
  const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, 'adam_b');
  const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const opt = new AdamW(new Map<string, tf.Variable>([['W', W], ['b', b]]), cfg);
  // reference in float64
  const ref = { W: [0.5, -1, 2, 0.25], b: [0.1, -0.2] };
  const m = { W: [0, 0, 0, 0], b: [0, 0] };
  const v = { W: [0, 0, 0, 0], b: [0, 0] };
  const gs = [
    { W: [0.1, -0.3, 0.2, 0.05], b: [1, -1] },
    { W: [-0.2, 0.1, 0.4, -0.5], b: [0.5, 0.25] },
    { W: [0.3, 0.3, -0.1, 0.0], b: [-0.75, 2] },
  ];
  gs.forEach((g, i) => {
    const lr = 0.01 * (i + 1);
    const t = i + 1;
    for (const k of ['W', 'b'] as const) {
      for (let j = 0; j < ref[k].length; j++) {
        m[k][j] = 0.9 * m[k][j] + 0.1 * g[k][j];
        v[k][j] = 0.95 * v[k][j] + 0.05 * g[k][j] ** 2;
        const upd = m[k][j] / (1 - 0.9 ** t) / (Math.sqrt(v[k][j] / (1 - 0.95 ** t)) + 1e-8);
        const decay = k === 'W' ? 1 - lr * 0.1 : 1;
        ref[k][j] = ref[k][j] * decay - lr * upd;
      }
    }
    const grads = new Map<string, tf.Tensor>([['W', tf.tensor2d(g.W, [2, 2])], ['b', tf.tensor1d(g.b)]]);
    opt.apply(grads, lr);
    tf.dispose([...grads.values()]);
  });
  const close = (a: ArrayLike<number>, b: number[]) => b.forEach((x, i) => assert.ok(Math.abs(a[i] - x) < 1e-6, `${a[i]} vs ${x}`));
  close(await W.data(), ref.W);
  close(await b.data(), ref.b);
  assert.equal(opt.step, 3);
  // state round-trips through safetensors
  const bytes = encodeSafetensors(await opt.stateTensors());
  const W2 = tf.variable(tf.zeros([2, 2]), true, 'adam_W2');
  const b2 = tf.variable(tf.zeros([2]), true, 'adam_b2');
  const opt2 = new AdamW(new Map<string, tf.Variable>([['W', W2], ['b', b2]]), cfg);
  opt2.loadState(decodeSafetensors(bytes), 'opt.safetensors');
  assert.equal(opt2.step, 3);
  assert.deepEqual(await opt2.stateTensors(), await opt.stateTensors());
  // a state for another model is refused, naming the file
  const opt3 = new AdamW(new Map([['X', W2]]), cfg);
  assert.throws(() => opt3.loadState(decodeSafetensors(bytes), 'opt.safetensors'), /opt\.safetensors.*lacks "m\.X"/);
  for (const o of [opt, opt2, opt3]) o.dispose();
  tf.dispose([W, b, W2, b2]);
});

test('clipByGlobalNorm scales to the max norm and reports the norm', async () => {
  await initEngine({ log: false });
  const g = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([0, 4])]]);
  const before = tf.memory().numTensors;
  const c = clipByGlobalNorm(g, 1);
  assert.ok(Math.abs((await c.norm.data())[0] - 5) < 1e-6);
  assert.deepEqual([...(await c.grads.get('a')!.data())].map((x) => +x.toFixed(5)), [0.6, 0]);
  assert.deepEqual([...(await c.grads.get('b')!.data())].map((x) => +x.toFixed(5)), [0, 0.8]);
  const d = clipByGlobalNorm(g, 10);
  assert.deepEqual([...(await d.grads.get('b')!.data())], [0, 4]);
  tf.dispose([c.norm, d.norm, ...c.grads.values(), ...d.grads.values()]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([...g.values()]);
});

test('learning rate: linear warm-up, then cosine or linear decay to minLrRatio', () => {
  const s = { lr: 1, warmupSteps: 10, decay: 'cosine' as const, minLrRatio: 0.1, steps: 110 };
  assert.equal(learningRate(s, 1), 0.1);
  assert.equal(learningRate(s, 10), 1);
  assert.ok(Math.abs(learningRate(s, 60) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 110) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate({ ...s, decay: 'linear' }, 35) - 0.775) < 1e-12);
  assert.equal(learningRate({ ...s, decay: 'constant' }, 100), 1);
});

test('checkpoint schedule: 0, log-spaced early, regular, and the last step', () => {
  assert.deepEqual(checkpointSteps(1000, { dense: 4, denseUntil: 1000, every: 0 }), [0, 1, 10, 100, 1000]);
  assert.deepEqual(checkpointSteps(95, { dense: 3, denseUntil: 9, every: 40 }), [0, 1, 3, 9, 40, 80, 95]);
  assert.deepEqual(checkpointSteps(0, { dense: 3, denseUntil: 9, every: 40 }), [0]);
  for (const p of Object.values(TRAIN_PRESETS)) {
    const s = checkpointSteps(p.train.steps, p.train.checkpoints);
    assert.equal(s[s.length - 1], p.train.steps);
    validateTrainConfig(p.train);
  }
  assert.throws(() => trainPreset('huge'), /unknown preset "huge"/);
  assert.throws(() => validateTrainConfig({ ...TRAIN_PRESETS.tiny.train, lr: -1 }), /lr must be > 0/);
});

test('progress lines: formatting and in-place updates on a terminal', () => {
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3720), '1h02m');
  assert.equal(formatProgress({ task: 'train', step: 5, total: 100, loss: 2.5, tokensPerSec: 12345.6, etaSec: 30 }), 'train   5/100    5%  loss 2.5000  12,346 tok/s  ETA 30s');
  const out: string[] = [];
  const tty = terminalProgress({ stream: { isTTY: true, write: (s: string) => out.push(s) }, ttyIntervalSec: 0 });
  tty({ task: 't', step: 1, total: 2 });
  tty({ task: 't', step: 2, total: 2, done: true });
  assert.ok(out[0].startsWith('\r\x1b[2Kt 1/2'));
  assert.ok(out[1].endsWith('\n'));
  const log: string[] = [];
  const plain = terminalProgress({ stream: { isTTY: false, write: (s: string) => log.push(s) }, intervalSec: 3600 });
  for (let i = 1; i <= 50; i++) plain({ task: 't', step: i, total: 50, done: i === 50 });
  assert.equal(log.length, 2, 'first line and the last, not every step');
});
