import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import { initEngine } from '../../src/engine';
import { GroundlabError } from '../../src/errors';
import { train } from '../../src/train/trainer';
import { openRun, findRuns } from '../../src/train/run';
import { toyDeps } from './toy';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-run-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const deps = toyDeps();
const err = (code: string, re?: RegExp) => (e: unknown) => e instanceof GroundlabError && e.code === code && (!re || re.test(e.message));

async function makeRun(name: string) {
  await initEngine({ log: false });
  return train({ out: path.join(root, name), arch: 'transformer', preset: 'tiny', seed: 0, steps: 4, seqLen: 8, deps });
}

test('run tables and JSON: atomic writes under nested names, read back with arquero', async () => {
  const r = await makeRun('tables');
  const run = await openRun(r.dir, { deps });
  const t = aq.table({ step: [0, 1, 2], g: [0.5, 1.25, -3] });
  await run.writeTable('analysis/surprisal', t);
  assert.ok(fs.existsSync(path.join(r.dir, 'analysis', 'surprisal.arrow')));
  const back = await run.readTable('analysis/surprisal');
  assert.deepEqual(back!.objects(), t.objects());
  assert.equal(await run.readTable('analysis/none'), undefined);
  await run.writeJSON('analysis/meta', { a: 1 });
  assert.deepEqual(await run.readJSON('analysis/meta'), { a: 1 });
  assert.equal(await run.readJSON('nothing'), undefined);
  await assert.rejects(run.writeTable('../escape', t), err('BAD_ARGUMENT'));
  const data = await run.data();
  assert.equal(data.train.seqLen, 8);
  assert.equal(await run.data(), data, 'cached');
  assert.deepEqual(findRuns(root).filter((d) => d === r.dir), [r.dir]);
});

test('openRun: missing folder, missing or damaged config, damaged tokenizer', async () => {
  await assert.rejects(openRun(path.join(root, 'nope'), { deps }), err('NOT_FOUND', /does not exist/));
  fs.mkdirSync(path.join(root, 'empty'));
  await assert.rejects(openRun(path.join(root, 'empty'), { deps }), err('NOT_FOUND', /not a run directory/));
  const r = await makeRun('damaged');
  const cfg = path.join(r.dir, 'config.json');
  const good = fs.readFileSync(cfg, 'utf8');
  fs.writeFileSync(cfg, good.slice(0, 40));
  await assert.rejects(openRun(r.dir, { deps }), (e: unknown) => err('BAD_FILE', /not valid JSON/)(e) && (e as Error).message.includes(cfg));
  fs.writeFileSync(cfg, JSON.stringify({ ...JSON.parse(good), arch: 'rnn' }));
  await assert.rejects(openRun(r.dir, { deps }), err('BAD_CONFIG', /arch "rnn"/));
  fs.writeFileSync(cfg, good);
  const tok = path.join(r.dir, 'tokenizer.json');
  fs.writeFileSync(tok, '{"kind":"other"}');
  await assert.rejects(openRun(r.dir, { deps }), (e: unknown) => err('BAD_FILE', /tokenizer/)(e) && (e as Error).message.includes(tok));
});

test('loadModel: truncated weights and a config that does not fit the checkpoint give clear errors', async () => {
  const r = await makeRun('corrupt');
  const run = await openRun(r.dir, { deps });
  const file = path.join(r.dir, 'checkpoints', 'step-000004', 'model.safetensors');
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 7));
  await assert.rejects(run.loadModel(), (e: unknown) => err('CORRUPT_CHECKPOINT', /truncated/)(e) && (e as Error).message.includes(file));
  fs.writeFileSync(file, bytes);
  // config.json edited to a different d_model: the checkpoint no longer fits
  const cfgFile = path.join(r.dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  cfg.model.dModel = 16;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const run2 = await openRun(r.dir, { deps });
  // named as a config mismatch (field, config.json value, checkpoint value), never blamed on a checkpoint
  const configAtFault = (e: unknown) =>
    err('CONFIG_MISMATCH', /model\.dModel is 16 in config\.json but 8 in step-00000\d/)(e) && (e as Error).message.includes(cfgFile) && !/delete \S*step-/.test((e as Error).message);
  await assert.rejects(run2.loadModel(2), configAtFault);
  await assert.rejects(train({ out: r.dir, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 8, deps }), configAtFault);
  // a checkpoint written before checkpoints recorded their model config: the shapes show it
  const stFile = path.join(r.dir, 'checkpoints', 'step-000004', 'state.json');
  const st = JSON.parse(fs.readFileSync(stFile, 'utf8'));
  delete st.model;
  fs.writeFileSync(stFile, JSON.stringify(st));
  await assert.rejects(
    train({ out: r.dir, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 8, deps }),
    (e: unknown) => err('CONFIG_MISMATCH', /config\.json does not fit step-000004: tensor "wte\.weight" has shape \[13, 8\] but the model expects \[13, 16\]/)(e) && !/delete \S*step-/.test((e as Error).message),
  );
  // vocabSize edited: named against the tokenizer
  cfg.model.dModel = 8;
  cfg.model.vocabSize = 20;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  await assert.rejects(train({ out: r.dir, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 8, deps }), err('CONFIG_MISMATCH', /model\.vocabSize 20 but the run's tokenizer has 13 tokens/));
  // resuming the damaged run also refuses, naming the checkpoint file
  cfg.model.vocabSize = 13;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  fs.writeFileSync(file, bytes.subarray(0, 30));
  await assert.rejects(
    train({ out: r.dir, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 8, deps }),
    (e: unknown) => err('CORRUPT_CHECKPOINT', /cannot resume from the last checkpoint \(step 4\)[\s\S]*delete .*step-000004 to resume from step 3/)(e) && (e as Error).message.includes(file),
  );
});

test('one training process per run: a live lock refuses, a stale lock is taken over', async () => {
  const r = await makeRun('locked');
  const lock = path.join(r.dir, '.train.lock');
  assert.ok(!fs.existsSync(lock), 'released after training');
  fs.writeFileSync(lock, `${process.pid} ${os.hostname()}`);
  const again = () => train({ out: r.dir, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 8, deps });
  await assert.rejects(again(), err('BUSY', new RegExp(`being trained by process ${process.pid}`)));
  fs.writeFileSync(lock, `2147483646 ${os.hostname()}`);
  const ok = await again();
  assert.equal(ok.status, 'completed');
  assert.ok(!fs.existsSync(lock));
});
