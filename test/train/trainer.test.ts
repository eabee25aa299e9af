import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { GroundlabError } from '../../src/errors';
import { train, type TrainOptions } from '../../src/train/trainer';
import { openRun } from '../../src/train/run';
import { readSafetensors } from '../../src/io/safetensors';
import { toyDeps } from './toy';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-train-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmp = () => fs.mkdtempSync(path.join(root, 't-'));
const base = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  out,
  arch: 'transformer',
  preset: 'tiny',
  seed: 3,
  steps: 14,
  batchSize: 4,
  seqLen: 8,
  train: { checkpoints: { dense: 3, denseUntil: 4, every: 5 } },
  deps: toyDeps(),
  ...extra,
});

async function paramsOf(dir: string, step: number) {
  const run = await openRun(dir, { deps: toyDeps() });
  const ck = run.checkpoints.find((c) => c.step === step)!;
  return readSafetensors(path.join(ck.dir, 'model.safetensors'));
}

test('trains, writes the run directory, and the loss goes down', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const r = await train(base(path.join(dir, 'a'), { steps: 60, lr: 0.05, train: { checkpoints: { dense: 3, denseUntil: 4, every: 25 } } }));
  assert.equal(r.status, 'completed');
  assert.equal(r.step, 60);
  assert.equal(r.losses.length, 60);
  const first = r.losses[0];
  const last = r.losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
  assert.ok(last < first * 0.7, `loss ${first} -> ${last}`);
  // schedule: 0, log-spaced 1,2,4, every 25, and the last step
  assert.deepEqual(r.checkpoints.map((c) => c.step), [0, 1, 2, 4, 25, 50, 60]);
  const run = await openRun(r.dir, { deps: toyDeps() });
  assert.equal(run.config.arch, 'transformer');
  assert.equal(run.config.seed, 3);
  assert.equal(run.config.train.steps, 60);
  assert.equal(run.config.model.vocabSize, 13);
  assert.equal(run.config.corpus.setting, 'simple');
  const metrics = await run.readTable('metrics/train');
  assert.ok(metrics);
  assert.deepEqual(metrics.array('loss'), r.losses);
  assert.ok(fs.readFileSync(path.join(r.dir, 'metrics', 'train.csv'), 'utf8').startsWith('step,loss,lr,grad_norm,tokens,elapsed_sec\n'));
  const st = JSON.parse(fs.readFileSync(path.join(r.dir, 'checkpoints', 'step-000060', 'state.json'), 'utf8'));
  assert.equal(st.step, 60);
  assert.equal(st.loss, r.losses[59]);
  assert.equal(st.tokensSeen, 60 * 4 * 8);
  const opt = await readSafetensors(path.join(r.dir, 'checkpoints', 'step-000060', 'optimizer.safetensors'));
  assert.deepEqual([...opt.tensors.get('step')!.data], [60]);
  assert.ok(opt.tensors.has('m.wte.weight') && opt.tensors.has('v.head.bias'));
  // the model loads back with the saved weights
  const model = await run.loadModel();
  const saved = await paramsOf(r.dir, 60);
  assert.deepEqual(await model.params.get('head.weight')!.data(), saved.tensors.get('head.weight')!.data);
  model.dispose();
  await assert.rejects(run.loadModel(7), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND' && /available steps: 0, 1, 2, 4, 25, 50, 60/.test(e.message));
});

test('same seed gives the same loss trace; another seed does not', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const a = await train(base(path.join(dir, 'a')));
  const b = await train(base(path.join(dir, 'b')));
  const c = await train(base(path.join(dir, 'c'), { seed: 4 }));
  assert.deepEqual(a.losses, b.losses);
  assert.notDeepEqual(a.losses, c.losses);
});

test('abort saves a checkpoint; resuming gives exactly the uninterrupted loss trace and weights', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const full = await train(base(path.join(dir, 'full')));
  const ctrl = new AbortController();
  const part = await train(
    base(path.join(dir, 'part'), {
      signal: ctrl.signal,
      onProgress: (e) => {
        if (e.step === 7 && !e.done) ctrl.abort();
      },
    }),
  );
  assert.equal(part.status, 'aborted');
  assert.equal(part.step, 7);
  assert.ok(part.checkpoints.some((c) => c.step === 7), 'checkpoint at the abort step');
  assert.deepEqual(part.losses, full.losses.slice(0, 7));
  // resume (interrupted at 7: between the scheduled checkpoints 5 and 10, and mid-epoch)
  const rest = await train(base(path.join(dir, 'part')));
  assert.equal(rest.resumedFrom, 7);
  assert.equal(rest.status, 'completed');
  assert.equal(rest.sessionSteps, 7);
  assert.deepEqual(rest.losses, full.losses);
  const w1 = await paramsOf(full.dir, 14);
  const w2 = await paramsOf(rest.dir, 14);
  for (const [k, t] of w1.tensors) assert.deepEqual(w2.tensors.get(k)!.data, t.data, k);
  // a finished run resumes to a no-op
  const again = await train(base(path.join(dir, 'part')));
  assert.equal(again.sessionSteps, 0);
  assert.deepEqual(again.losses, full.losses);
});

test('tensor counts do not grow across steps', async () => {
  await initEngine({ log: false });
  const counts: number[] = [];
  await train(base(path.join(tmp(), 'm'), { steps: 12, onProgress: (e) => !e.done && e.loss !== undefined && counts.push(tf.memory().numTensors) }));
  assert.equal(counts.length, 12);
  assert.ok(counts.every((c) => c === counts[1]), `tensor counts: ${counts.join(' ')}`);
});

test('NaN loss stops with a NUMERIC error and keeps the last good checkpoint', async () => {
  await initEngine({ log: false });
  const out = path.join(tmp(), 'nan');
  const before = tf.memory().numTensors;
  await assert.rejects(
    train(base(out, { model: { nanAtCall: 9 } })),
    (e: unknown) => e instanceof GroundlabError && e.code === 'NUMERIC' && /diverged at step 9: the loss is NaN/.test(e.message) && /last good checkpoint \(step 5\)/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors after the error');
  const run = await openRun(out, { deps: toyDeps() });
  assert.deepEqual(run.checkpoints.map((c) => c.step), [0, 1, 2, 4, 5]);
  const m = await run.readTable('metrics/train');
  assert.equal(m!.numRows(), 8);
  assert.ok((m!.array('loss') as number[]).every(Number.isFinite));
  const model = await run.loadModel();
  for (const v of model.params.values()) assert.ok((await v.data()).every(Number.isFinite));
  model.dispose();
});

test('resuming with different settings, or into a foreign folder, is refused', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const out = path.join(dir, 'r');
  await train(base(out, { steps: 3 }));
  const mismatch = (e: unknown) => e instanceof GroundlabError && e.code === 'CONFIG_MISMATCH';
  await assert.rejects(train(base(out, { steps: 5 })), mismatch);
  await assert.rejects(train(base(out, { steps: 3, seed: 9 })), mismatch);
  await assert.rejects(train(base(out, { steps: 3, arch: 'lstm' })), mismatch);
  await assert.rejects(train(base(out, { steps: 3, model: { dModel: 16 } })), mismatch);
  await assert.rejects(train(base(out, { steps: 3, resume: false })), (e: unknown) => e instanceof GroundlabError && e.code === 'BAD_ARGUMENT');
  fs.mkdirSync(path.join(dir, 'foreign'));
  fs.writeFileSync(path.join(dir, 'foreign', 'notes.txt'), 'x');
  await assert.rejects(train(base(path.join(dir, 'foreign'))), (e: unknown) => e instanceof GroundlabError && /not a run directory/.test(e.message));
});

test('batches follow the seeded data order and honour the dataset mask', async () => {
  await initEngine({ log: false });
  const { DataOrder } = await import('../../src/train/trainer');
  const { toyDataset, ToyBigram, ToyTokenizer, TOY_V } = await import('./toy');
  const T = 8;
  const rows = toyDataset(TOY_V, T, 10, 5);
  // mask out the second half of every row's targets
  const ds = { ...rows, size: rows.size, seqLen: T, featureDim: 0, row: rows.row, mask: () => Uint8Array.from({ length: T }, (_, i) => (i < T / 2 ? 1 : 0)) };
  const r = await train(base(path.join(tmp(), 'mask'), { steps: 1, batchSize: 3, seqLen: T, data: { tokenizer: new ToyTokenizer(TOY_V), train: ds } }));
  const order = DataOrder.fresh(ds.size, 3);
  const idx = [order.next(), order.next(), order.next()];
  const model = new ToyBigram({ arch: 'transformer', vocabSize: TOY_V, contextLength: 64, dModel: 8, nLayers: 1, envFeatureDim: 0 }, 3);
  const x = tf.tensor2d(idx.flatMap((i) => [...ds.row(i).subarray(0, T)]), [3, T], 'int32');
  const y = tf.tensor2d(idx.flatMap((i) => [...ds.row(i).subarray(1)]), [3, T], 'int32');
  const m = tf.tensor2d(idx.flatMap(() => [...ds.mask()]), [3, T], 'float32');
  const expected = (await model.loss(x, y, m).data())[0];
  const unmasked = (await model.loss(x, y).data())[0];
  assert.equal(r.losses[0], expected);
  assert.notEqual(r.losses[0], unmasked);
  tf.dispose([x, y, m]);
  model.dispose();
  // the order is a permutation per epoch, and a restored order continues identically
  const a = DataOrder.fresh(7, 11);
  const first = Array.from({ length: 7 }, () => a.next());
  assert.deepEqual([...first].sort(), [0, 1, 2, 3, 4, 5, 6]);
  for (let i = 0; i < 3; i++) a.next();
  const b = new DataOrder(7, a.state());
  assert.deepEqual(Array.from({ length: 20 }, () => b.next()), Array.from({ length: 20 }, () => a.next()));
});
