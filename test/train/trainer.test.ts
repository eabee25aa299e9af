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
import { toyDeps, ToyTokenizer, TOY_V } from './toy';

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

test('a lost or damaged metrics/train.arrow is rebuilt from train.csv; with both lost, resuming is refused and nothing is overwritten', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const full = await train(base(path.join(dir, 'full')));
  const interrupted = async (name: string) => {
    const ctrl = new AbortController();
    const out = path.join(dir, name);
    await train(base(out, { signal: ctrl.signal, onProgress: (e) => e.step === 7 && !e.done && ctrl.abort() }));
    return out;
  };
  // deleted Arrow file: the trace comes from the CSV, and both files are complete again at the end
  const a = await interrupted('no-arrow');
  fs.rmSync(path.join(a, 'metrics', 'train.arrow'));
  const ra = await train(base(a));
  assert.deepEqual(ra.losses, full.losses);
  const run = await openRun(a, { deps: toyDeps() });
  assert.deepEqual((await run.readTable('metrics/train'))!.array('loss'), full.losses);
  // garbage in the Arrow file: the same
  const b = await interrupted('bad-arrow');
  fs.writeFileSync(path.join(b, 'metrics', 'train.arrow'), 'not arrow');
  assert.deepEqual((await train(base(b))).losses, full.losses);
  // both gone: refused, naming what is missing; the checkpoints and the folder stay as they were
  const c = await interrupted('none');
  const csv = fs.readFileSync(path.join(c, 'metrics', 'train.csv'), 'utf8');
  fs.rmSync(path.join(c, 'metrics', 'train.arrow'));
  fs.writeFileSync(path.join(c, 'metrics', 'train.csv'), csv.split('\n').slice(0, 4).join('\n') + '\n'); // rows of steps 1..3 only
  await assert.rejects(
    train(base(c)),
    (e: unknown) =>
      e instanceof GroundlabError && e.code === 'BAD_FILE' && /cannot resume from step 7: the loss trace up to that step is lost/.test(e.message) && /train\.arrow does not exist/.test(e.message) && /train\.csv does not hold the rows of steps 1\.\.7 \(it has 3 in order\)/.test(e.message),
  );
  assert.equal(fs.readFileSync(path.join(c, 'metrics', 'train.csv'), 'utf8').split('\n').length, 5, 'train.csv not overwritten');
  assert.ok(!fs.existsSync(path.join(c, '.train.lock')), 'lock released');
});

test('partial checkpoint folders and temporary files left by killed trainers are removed when the run starts again', async () => {
  await initEngine({ log: false });
  const out = path.join(tmp(), 'partials');
  await train(base(out, { steps: 3 }));
  const junk = [
    path.join(out, 'checkpoints', '.step-000002.partial-2147483646'),
    path.join(out, 'checkpoints', `.step-000003.partial-${process.pid}`),
    path.join(out, 'metrics', '.train.csv.tmp-2147483646-abc-1'),
    path.join(out, '.config.json.tmp-2147483646-abc-2'),
  ];
  fs.mkdirSync(junk[0]);
  fs.writeFileSync(path.join(junk[0], 'model.safetensors'), 'half');
  fs.mkdirSync(junk[1]);
  fs.writeFileSync(junk[2], 'half');
  fs.writeFileSync(junk[3], 'half');
  // someone else's temp file at the top of the run (e.g. an analysis writing beside it) is not the trainer's to remove
  const other = path.join(out, '.evalset.json.tmp-2147483646-abc-3');
  fs.writeFileSync(other, 'x');
  const r = await train(base(out, { steps: 3 }));
  assert.equal(r.sessionSteps, 0);
  for (const j of junk) assert.ok(!fs.existsSync(j), `${j} removed`);
  assert.ok(fs.existsSync(other));
});

test('refused before anything is written: 0 or too many steps, unknown model keys (nearest name), seeds beyond 2^53', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const refused = async (extra: Partial<TrainOptions>, code: string, re: RegExp) => {
    const out = path.join(dir, `r${Math.random().toString(36).slice(2)}`);
    await assert.rejects(train(base(out, extra)), (e: unknown) => e instanceof GroundlabError && e.code === code && re.test(e.message));
    assert.ok(!fs.existsSync(out), `nothing written for ${JSON.stringify(extra)}`);
  };
  await refused({ steps: 0 }, 'BAD_CONFIG', /steps must be a whole number >= 1, got 0/);
  await refused({ steps: 1e12 }, 'BAD_CONFIG', /steps must be at most 10,000,000, got 1000000000000/);
  await refused({ model: { nlayers: 4 } }, 'BAD_ARGUMENT', /unknown transformer model config field "nlayers"[\s\S]*did you mean "nLayers"\?/);
  await refused({ seed: 2 ** 53 + 2 }, 'BAD_ARGUMENT', /seed must be a whole number from 0 to 2\^53 - 1/);
  await refused({ seed: -1 }, 'BAD_ARGUMENT', /seed must be a whole number from 0/);
  // a model that cannot be built: refused before config.json exists, so the corrected command runs
  const out = path.join(dir, 'unbuildable');
  await assert.rejects(train(base(out, { deps: { ...toyDeps(), createModel: () => { throw new GroundlabError('BAD_CONFIG', 'dModel must be even'); } } })), /dModel must be even/);
  assert.ok(!fs.existsSync(out));
  assert.equal((await train(base(out, { steps: 2 }))).status, 'completed');
});

test('a non-finite first step is a NUMERIC error and leaves nothing behind: the corrected command starts cleanly in the same folder', async () => {
  await initEngine({ log: false });
  const out = path.join(tmp(), 'nan1');
  await assert.rejects(
    train(base(out, { model: { nanAtCall: 1 } })),
    (e: unknown) => e instanceof GroundlabError && e.code === 'NUMERIC' && /the first training step is not finite: the loss is NaN/.test(e.message) && /was removed/.test(e.message),
  );
  assert.ok(!fs.existsSync(out), 'the fresh run is removed');
  const ok = await train(base(out, { steps: 2 }));
  assert.equal(ok.status, 'completed');
});

test('NaN weights in the checkpoint to resume from are named as damage, not as a diverging learning rate', async () => {
  await initEngine({ log: false });
  const out = path.join(tmp(), 'nanck');
  await train(base(out, { steps: 5 }));
  const { writeSafetensors } = await import('../../src/io/safetensors');
  const f = path.join(out, 'checkpoints', 'step-000005', 'model.safetensors');
  const c = await readSafetensors(f);
  const w = c.tensors.get('head.weight')!;
  w.data[3] = NaN;
  await writeSafetensors(f, new Map([...c.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), c.metadata);
  await assert.rejects(
    train(base(out, { steps: 5 })),
    (e: unknown) => e instanceof GroundlabError && e.code === 'CORRUPT_CHECKPOINT' && /tensor "head\.weight" holds NaN at index 3/.test(e.message) && /delete .*step-000005 to resume from step 4/.test(e.message) && !/learning rate/.test(e.message),
  );
});

test('the named steps of train() composed by hand give the same run as train(): checkpoints, losses, weights; a session stopped mid-way resumes through resume()', async () => {
  await initEngine({ log: false });
  const steps = await import('../../src/train/steps');
  const { withDefaults } = await import('../../src/train/deps');
  const dir = tmp();
  const ref = await train(base(path.join(dir, 'ref')));
  const byHand = async (opts: TrainOptions, stopAfter?: number) => {
    steps.checkOptions(opts);
    const deps = withDefaults(opts.deps);
    const run = await steps.prepareRun(opts, deps);
    const model = steps.buildModel(run, deps);
    const open = await steps.openRunDir(run, model);
    assert.notEqual(open, 'raced');
    if (open === 'raced') throw new Error('raced');
    const s = steps.startSession(run, open, model);
    try {
      await steps.resume(s);
      await steps.firstCheckpoint(s);
      if (stopAfter !== undefined) {
        // run the loop body by hand: trainStep does not advance the step; the caller books it
        for (let i = 0; i < stopAfter; i++) {
          const o = await steps.trainStep(s);
          assert.ok(o.finite);
          s.step++;
          s.tokensSeen += run.config.train.batchSize * run.config.train.seqLen;
          s.metrics.push({ step: s.step, loss: o.loss, lr: o.lr, grad_norm: o.gradNorm, tokens: s.tokensSeen, elapsed_sec: steps.elapsed(s) });
        }
        return await steps.finish(s, 'aborted');
      }
      return await steps.finish(s, await steps.stepLoop(s));
    } finally {
      s.opt.dispose();
      model.dispose();
      open.lock.release();
    }
  };
  const a = await byHand(base(path.join(dir, 'a')));
  assert.deepEqual(a.losses, ref.losses);
  assert.deepEqual(a.checkpoints.map((c) => c.step), ref.checkpoints.map((c) => c.step));
  const [pa, pr] = [await paramsOf(a.dir, 14), await paramsOf(ref.dir, 14)];
  for (const [k, t] of pr.tensors) assert.deepEqual([...pa.tensors.get(k)!.data], [...t.data], k);
  // 6 steps by hand (finish saves step 6), then resume() picks the run up and stepLoop completes it
  const b1 = await byHand(base(path.join(dir, 'b')), 6);
  assert.equal(b1.step, 6);
  assert.equal(b1.status, 'aborted');
  const b2 = await byHand(base(path.join(dir, 'b')));
  assert.equal(b2.resumedFrom, 6);
  assert.deepEqual(b2.losses, ref.losses);
});

test('initFrom starts a new run from another run\'s checkpoint; mismatches are refused before anything is written', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const src = await train(base(path.join(dir, 'src'), { steps: 10, lr: 0.05 }));
  // a new run from the source's step 4: its checkpoint 0 is those weights, its own step count, optimiser and data order start fresh
  const b = await train(base(path.join(dir, 'b'), { seed: 5, steps: 6, initFrom: { run: src.dir, step: 4 } }));
  assert.equal(b.resumedFrom, undefined);
  assert.equal(b.step, 6);
  const [p0, s4] = [await paramsOf(b.dir, 0), await paramsOf(src.dir, 4)];
  for (const [k, t] of s4.tensors) assert.deepEqual([...p0.tensors.get(k)!.data], [...t.data], k);
  const fresh = await train(base(path.join(dir, 'c'), { seed: 5, steps: 6 }));
  assert.notDeepEqual([...(await paramsOf(fresh.dir, 0)).tensors.get('wte.weight')!.data], [...p0.tensors.get('wte.weight')!.data]);
  const cfg = (await openRun(b.dir, { deps: toyDeps() })).config;
  assert.deepEqual(cfg.initFrom, { run: src.dir, step: 4 });
  // default: the last checkpoint; the loss starts lower than from random weights
  const d = await train(base(path.join(dir, 'd'), { seed: 5, steps: 6, initFrom: { run: src.dir } }));
  assert.equal((await openRun(d.dir, { deps: toyDeps() })).config.initFrom?.step, 10);
  assert.ok(d.losses[0] < fresh.losses[0], `${d.losses[0]} vs ${fresh.losses[0]}`);
  // resuming with the same initFrom, or without it, is fine; another one is a clash
  const again = await train(base(path.join(dir, 'b'), { seed: 5, steps: 6, initFrom: { run: src.dir, step: 4 } }));
  assert.equal(again.resumedFrom, 6);
  await assert.rejects(
    train(base(path.join(dir, 'b'), { seed: 5, steps: 6, initFrom: { run: src.dir, step: 10 } })),
    (e: GroundlabError) => e.code === 'CONFIG_MISMATCH' && /initFrom/.test(e.message),
  );
  const refused = async (o: Partial<TrainOptions>, code: string, re: RegExp) => {
    const out = path.join(dir, `x${Math.random().toString(36).slice(2)}`);
    await assert.rejects(train(base(out, { steps: 3, ...o })), (e: GroundlabError) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.message, re);
      return true;
    });
    assert.equal(fs.existsSync(out), false, 'nothing written');
  };
  await refused({ initFrom: { run: path.join(dir, 'nope') } }, 'NOT_FOUND', /init-from run .*nope.*does not exist/);
  await refused({ initFrom: { run: src.dir, step: 3 } }, 'NOT_FOUND', /no checkpoint at step 3/);
  await refused({ arch: 'lstm', initFrom: { run: src.dir } }, 'CONFIG_MISMATCH', /is a transformer run, but the new run is a lstm/);
  const deps = toyDeps();
  const other: Partial<typeof deps> = {
    ...deps,
    prepareData: async (spec, o) => ({ ...(await deps.prepareData!(spec, o)), tokenizer: new ToyTokenizer(TOY_V + 1) }),
  };
  await refused({ deps: other, initFrom: { run: src.dir } }, 'CONFIG_MISMATCH', /another vocabulary .*13 tokens there, 14 here/);
  // same vocabulary, other sizes: refused when the weights are loaded, naming the tensor; the fresh run is removed
  await refused({ model: { dModel: 4 }, initFrom: { run: src.dir } }, 'CONFIG_MISMATCH', /does not fit the new model: .*wte\.weight/);
});
