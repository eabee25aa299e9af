// Surprisal and G of image-grounded runs: scene contexts with patch features reach the model.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { train, openRun, type Run } from '../../src/train';
import { buildImageEvalSet, evalSequences, scoreSequences, imageSceneFrames, baseFrameId, type EvalSequence } from '../../src/eval';
import { analyzeRun, evalRun, runEvalSet, IMAGE_ANALYSES, ANALYSES } from '../../src/analysis/analyze';
import { IMAGE_EVAL_FRAMES, PATCH } from '../../src/data';
import { runCli } from '../cli/helpers';

let dir = '';
let run: Run;
const setup = (async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine({ log: false });
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-image-eval-')), 'img');
  await train({ out: dir, arch: 'transformer', preset: 'tiny', steps: 6, corpus: { kind: 'image' }, log: false });
  run = await openRun(dir);
})();

after(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

async function cli(argv: string[]): Promise<{ rc: number; out: string }> {
  const r = await runCli(argv);
  return { rc: r.code, out: r.stdout + r.stderr };
}

test('image evaluation sets: scene variants, deterministic features, match and mismatch differ only in the object', async () => {
  await setup;
  const tok = run.tokenizer;
  const nouns = ['ball', 'cup', 'dog', 'book'].filter((n) => tok.token(tok.id(n + '<LAN>')) === n + '<LAN>');
  assert.ok(nouns.length >= 2, `nouns in the vocabulary: ${nouns}`);
  const frames = imageSceneFrames(IMAGE_EVAL_FRAMES, 3);
  assert.equal(frames.length, IMAGE_EVAL_FRAMES.length * 3);
  assert.equal(baseFrameId(frames[4].id), IMAGE_EVAL_FRAMES[1].id);
  const spec = { grid: 4, featureDim: 32, lightingNoise: 0.05 };
  const set = buildImageEvalSet(nouns, IMAGE_EVAL_FRAMES, { ...spec, scenesPerFrame: 3 }, { contextsPerNoun: 2, mismatchesPerContext: 2 });
  assert.deepEqual(set.image, { ...spec, scenesPerFrame: 3 });
  assert.deepEqual(set, buildImageEvalSet(nouns, IMAGE_EVAL_FRAMES, { ...spec, scenesPerFrame: 3 }, { contextsPerNoun: 2, mismatchesPerContext: 2 }));
  const a = evalSequences(set, tok);
  const b = evalSequences(set, tok);
  assert.equal(a.length, nouns.length * 2 * 3);
  const patch = tok.id(PATCH);
  const F = 32;
  for (let i = 0; i < a.length; i++) {
    const s = a[i];
    assert.deepEqual(s.features, b[i].features, 'deterministic');
    assert.equal(s.features!.length, s.ids.length * F);
    assert.equal(s.envLength, 16);
    assert.deepEqual(s.ids.slice(s.envPos, s.envPos + 16), new Array(16).fill(patch));
    assert.equal(s.ids.filter((x) => x === patch).length, 16);
    assert.equal(s.predPos, s.ids.length - 1);
    // rows outside the image are zero, rows of the image are not
    for (let t = 0; t < s.ids.length; t++) {
      const row = s.features!.subarray(t * F, (t + 1) * F);
      const inImage = t >= s.envPos && t < s.envPos + 16;
      assert.equal(row.some((x) => x !== 0), inImage, `position ${t}`);
    }
  }
  // a mismatch has the same tokens as its match; its image differs in the object's patches only
  for (const m of a.filter((s) => s.condition === 'mismatch')) {
    const q = a.find((s) => s.item === m.item && s.condition === 'match')!;
    assert.deepEqual(m.ids, q.ids);
    assert.notEqual(m.envNoun, q.envNoun);
    let same = 0;
    let diff = 0;
    for (let t = m.envPos; t < m.envPos + 16; t++) {
      const eq = m.features!.subarray(t * F, (t + 1) * F).every((x, j) => x === q.features![t * F + j]);
      if (eq) same++;
      else diff++;
    }
    assert.ok(diff === 1 || diff === 4, `object patches ${diff}`); // a small (1 cell) or big (2 x 2) object
    assert.equal(same + diff, 16);
  }
  // different scene variants of a frame are different images
  const s0 = a.find((s) => s.context.endsWith('#scene0') && s.condition === 'match')!;
  const other = a.find((s) => s.context !== s0.context && baseFrameId(s.context) === baseFrameId(s0.context) && s.envNoun === s0.envNoun);
  if (other) assert.notDeepEqual(other.features, s0.features);
});

test('image features reach the model: match and mismatch surprisals differ, and are equal once the ENV projection is zeroed', async () => {
  await setup;
  const set = await runEvalSet(run, { contextsPerNoun: 2, mismatchesPerContext: 2 });
  assert.ok(set.image, 'an image-grounded run gets an image evaluation set');
  const seqs = evalSequences(set, run.tokenizer).slice(0, 60);
  const model = await run.loadModel(6);
  try {
    const s = await scoreSequences(model, seqs, { batchSize: 7 }); // the model may cache constants (per length) on a first pass
    const before = tf.memory().numTensors;
    assert.deepEqual(await scoreSequences(model, seqs, { batchSize: 7 }), s, 'deterministic');
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    assert.ok(s.every(Number.isFinite));
    // batches with padding (two frame lengths) give the same numbers as one sequence at a time
    const one = await scoreSequences(model, seqs, { batchSize: 1 });
    s.forEach((x, i) => assert.ok(Math.abs(x - one[i]) < 1e-4, `padding changes sequence ${i}: ${x} vs ${one[i]}`));
    const pairs = seqs.filter((q) => q.condition === 'mismatch').map((m) => [seqs.findIndex((q) => q.item === m.item && q.condition === 'match'), seqs.indexOf(m)]);
    const gaps = pairs.map(([i, j]) => Math.abs(s[i] - s[j]));
    assert.ok(Math.max(...gaps) > 1e-5, `match and mismatch surprisals differ (max gap ${Math.max(...gaps)})`);
    // without features the model sees identical match and mismatch inputs
    const bare: EvalSequence[] = seqs.map((q) => ({ ...q, features: undefined }));
    const sb = await scoreSequences(model, bare, { batchSize: 7 });
    for (const [i, j] of pairs) assert.equal(sb[i], sb[j]);
    assert.ok(s.some((x, i) => Math.abs(x - sb[i]) > 1e-5), 'features change the surprisal');
    // zero projection: the features contribute nothing, match == mismatch again
    for (const name of ['env_proj.weight', 'env_proj.bias']) {
      const v = model.params.get(name);
      assert.ok(v, `model has ${name}`);
      v.assign(tf.zerosLike(v));
    }
    const sz = await scoreSequences(model, seqs, { batchSize: 7 });
    for (const [i, j] of pairs) assert.ok(Math.abs(sz[i] - sz[j]) < 1e-6);
    sz.forEach((x, i) => assert.ok(Math.abs(x - sb[i]) < 1e-4));
  } finally {
    model.dispose();
  }
});

test('evalRun and analyzeRun on an image run: finite gain tables, unsupported analyses skipped or refused by name', async () => {
  await setup;
  const steps = run.checkpoints.map((c) => c.step);
  const g = await evalRun(run, { evalSet: { contextsPerNoun: 2, mismatchesPerContext: 2 } });
  assert.deepEqual(g.map((r) => Number(r.step)), steps);
  for (const r of g) for (const k of ['gain', 'match', 'mismatch', 'ci_lo', 'ci_hi']) assert.ok(Number.isFinite(Number(r[k])), `${k} at step ${r.step}: ${r[k]}`);
  const sur = (await run.readTable('analysis/surprisal'))!.objects() as Array<Record<string, unknown>>;
  const set = await runEvalSet(run);
  assert.equal(sur.length, steps.length * set.items.length * 3);
  assert.ok(sur.every((r) => Number.isFinite(Number(r.surprisal))));
  assert.ok(sur.some((r) => r.condition === 'mismatch') && sur.some((r) => r.condition === 'match'));
  const gain = (await run.readTable('analysis/gain'))!.objects() as Array<Record<string, unknown>>;
  assert.equal(gain.length, steps.length * set.nouns.length);
  assert.ok(gain.some((r) => Number(r.gain) !== 0), 'features make G non-zero for some noun');

  // default `only`: what image runs support is computed, the rest is reported as skipped
  const res = await analyzeRun(run, { checkpoints: [steps[steps.length - 1]] });
  assert.deepEqual(res.computed, { cooccurrence: [steps[steps.length - 1]] });
  assert.deepEqual(res.skipped.map((s) => s.analysis), ANALYSES.filter((a) => !IMAGE_ANALYSES.includes(a)));
  assert.ok(await run.readTable('analysis/cooccurrence'));
  const tm = (await run.readTable('analysis/templates'))!.objects() as Array<Record<string, unknown>>;
  assert.deepEqual(tm.map((r) => r.frame), IMAGE_EVAL_FRAMES.map((f) => f.id), 'each corpus frame checked once');
  // asked for by name: a clear error naming the unsupported ones
  await assert.rejects(analyzeRun(run, { only: ['gain', 'saliency', 'lens'] }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /saliency, lens are not implemented for image-grounded runs/.test(e.message));
});

test('CLI: eval then analyze (the reproduce plan) succeed on an image run', async () => {
  await setup;
  const steps = run.checkpoints.map((c) => c.step);
  fs.rmSync(path.join(dir, 'eval'), { recursive: true, force: true });
  fs.rmSync(path.join(dir, 'analysis'), { recursive: true, force: true });
  const e = await cli(['eval', '--quiet', '--contexts', '2', '--mismatches', '3', dir]);
  assert.equal(e.rc, 0, e.out);
  assert.match(e.out, /grounding information gain G/);
  const a = await cli(['analyze', '--quiet', '--checkpoints', steps.slice(-2).join(','), '--contexts', '2', '--mismatches', '3', '--lens-steps', '40', '--draws', '3', dir]);
  assert.equal(a.rc, 0, a.out);
  assert.match(a.out, /computed cooccurrence \(2\)/);
  const bad = await cli(['analyze', '--quiet', '--only', 'patching', dir]);
  assert.notEqual(bad.rc, 0);
  assert.match(bad.out, /patching is not implemented for image-grounded runs/);
});
