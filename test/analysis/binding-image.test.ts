import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { bindingAccuracy, encodeBindingPairs, headMediation, imageSceneView, positionFeatureSimilarity, textSceneView } from '../../src/analysis/binding';
import { bindingCounterfactuals, bindingEvalScenes, bindingTokenizer, imageBindingKnobs, imageCounterfactual, patchFeatureDim } from '../../src/data';
import { createModel, modelPreset } from '../../src/models';

test('image binding view, known answer: without positions an object looks the same in every cell entering layer 0', async () => {
  await initEngine();
  const k = imageBindingKnobs({ variant: 'image', grid: 3, maxObjects: 3, heldOut: 'none', lightingNoise: 0 });
  const tok = bindingTokenizer(k);
  const model = createModel(modelPreset('transformer', 'tiny', tok.vocabSize, { positional: 'none', envFeatureDim: patchFeatureDim(k) } as never), 0);
  const scenes = bindingEvalScenes(k, { counts: [2, 3], perCount: 40, seed: 0, heldOut: 'any' });
  const before = tf.memory().numTensors;
  const rows = await positionFeatureSimilarity(model, tok, scenes, { view: imageSceneView(k, 'rsa') });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  // Entering layer 0 the state is the patch token's embedding plus the projected features: the same
  // colour and shape give the same state wherever they are (cosine 1); the same cell holds nothing in common.
  assert.ok(rows[0].sameFeatures > 0.999, JSON.stringify(rows[0]));
  assert.ok(rows[0].samePosition < 0.5, JSON.stringify(rows[0]));
  assert.ok(rows[0].pairs.sameFeatures > 0 && rows[0].pairs.samePosition > 0);
  // The text view of the same scenes cannot run on this model's inputs by mistake: the views differ.
  assert.equal(textSceneView().featureDim, 0);
  const acc = await bindingAccuracy(model, tok, scenes, { view: imageSceneView(k, 'acc') });
  assert.equal(acc.n, 80);
  assert.deepEqual(acc, await bindingAccuracy(model, tok, scenes, { view: imageSceneView(k, 'acc') }), 'deterministic');
  const pairs = ['swap-slots', 'change-feature'].flatMap((kind) =>
    encodeBindingPairs(bindingCounterfactuals(k, { kind: kind as 'swap-slots', counts: [2, 3], count: 6, seed: 0 }).map(imageCounterfactual), tok, imageSceneView(k, kind)),
  );
  assert.ok(pairs.every((p) => p.baseFeatures && p.sourceFeatures && p.base.length === p.source.length));
  // swap-slots: the same tokens, other patch features (the objects moved).
  const sw = pairs.find((p) => p.kind === 'swap-slots')!;
  assert.deepEqual(sw.base, sw.source);
  assert.notDeepEqual(Array.from(sw.baseFeatures!), Array.from(sw.sourceFeatures!));
  const med = await headMediation(model, pairs, { onlyCorrect: false });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.ok(med.every((r) => Number.isFinite(r.mediation) && r.n === 6));
  model.dispose();
});

test('bindingRun and entityBindingRun on tiny runs of the image and entities variants; the CLI picks the analyses', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { train, openRun } = await import('../../src/train');
  const { bindingRun } = await import('../../src/analysis/binding');
  const { entityBindingRun } = await import('../../src/analysis/entitybinding');
  const { runCli } = await import('../cli/helpers');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'binding-variants-'));
  try {
    const img = path.join(dir, 'img');
    await train({ out: img, arch: 'transformer', preset: 'tiny', steps: 3, seqLen: 24, corpus: { kind: 'binding', knobs: { variant: 'image', grid: 3, maxObjects: 3, sequences: 64, layout: 'shuffled' } } });
    const run = await openRun(img);
    assert.equal(run.config.model.envFeatureDim, 38);
    const r = await bindingRun(run, { pairs: 4, perCount: 4 });
    assert.deepEqual(r.accuracy.byObjects.map((b) => [b.objects, b.n]), [[2, 4], [3, 4]]);
    assert.ok(r.similarity.length > 0 && r.mediation.length > 0 && r.positionPatching.length > 0);
    const ent = path.join(dir, 'ent');
    await train({ out: ent, arch: 'transformer', preset: 'tiny', steps: 3, seqLen: 32, corpus: { kind: 'binding', knobs: { variant: 'entities', maxGroups: 5, sequences: 64 } } });
    const er = await entityBindingRun(await openRun(ent), { pairs: 8, perSlot: 2 });
    assert.deepEqual(er.accuracy.byGroups.map((g) => [g.groups, g.n]), [[2, 4], [3, 6], [4, 8], [5, 10]]);
    assert.equal(er.patching.rows.length, 3);
    // Contexts longer than any trained (maxGroups 6 > the run's 5), and a clear error past the names.
    const wide = await entityBindingRun(await openRun(ent), { pairs: 8, perSlot: 1, maxGroups: 6 });
    assert.deepEqual(wide.accuracy.byGroups.map((g) => [g.groups, g.n]), [[2, 2], [3, 3], [4, 4], [5, 5], [6, 6]]);
    await assert.rejects(entityBindingRun(await openRun(ent), { maxGroups: 13 }), /maxGroups 13: .* at most 12 fit/);
    await assert.rejects(bindingRun(await openRun(ent)), /entity binding run/);
    const cli = await runCli(['binding', ent, '--pairs', '6', '--per-slot', '2']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /accuracy by number of groups and by queried slot/);
    assert.match(cli.stdout, /mechanism patching/);
    const cliWide = await runCli(['binding', ent, '--pairs', '6', '--per-slot', '1', '--max-groups', '6']);
    assert.equal(cliWide.code, 0, cliWide.stderr);
    assert.match(cliWide.stdout, /\n\s+6 {2}/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
