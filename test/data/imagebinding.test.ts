import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  ImageBindingDataset,
  bindingCounterfactual,
  bindingTokenizer,
  generateBinding,
  imageBindingKnobs,
  imageCounterfactual,
  objectPatchPositions,
  patchFeatureDim,
  prepareData,
  renderBindingScene,
  sequenceFeatures,
  type BindingScene,
} from '../../src/data';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';

const scene: BindingScene = {
  objects: [
    { colour: 'red', shape: 'square', x: 2, y: 0 },
    { colour: 'blue', shape: 'circle', x: 0, y: 1 },
  ],
  query: 'colour',
  target: 0,
};

test('image binding: raster patches follow the cells, the same object looks the same wherever it is', () => {
  const k = imageBindingKnobs({ variant: 'image', grid: 3, lightingNoise: 0 });
  assert.equal(patchFeatureDim(k), 32);
  const r = renderBindingScene(k, scene, 'a');
  assert.deepEqual(r.cells, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(objectPatchPositions(k, scene, r), [1 + 2, 1 + 3]);
  const F = 32;
  const patch = (x: Float32Array, i: number) => Array.from(x.subarray(i * F, (i + 1) * F));
  // Background patches are all alike; the red square's patch differs from them and from the blue circle's.
  assert.deepEqual(patch(r.features, 0), patch(r.features, 8));
  assert.notDeepEqual(patch(r.features, 2), patch(r.features, 0));
  assert.notDeepEqual(patch(r.features, 2), patch(r.features, 3));
  const moved = renderBindingScene(k, { ...scene, objects: [{ ...scene.objects[0], x: 1, y: 2 }, scene.objects[1]] }, 'a');
  assert.deepEqual(patch(moved.features, 7), patch(r.features, 2));
  // Features over a sequence: patches at positions 1..9.
  const seq = sequenceFeatures(k, r, 14);
  assert.equal(seq.length, 14 * F);
  assert.deepEqual(Array.from(seq.subarray(F, 10 * F)), Array.from(r.features));
  assert.ok(seq.subarray(0, F).every((x) => x === 0));
});

test('image binding: the shuffled layout permutes the patches and gives their coordinates; deterministic per key', () => {
  const k = imageBindingKnobs({ variant: 'image', grid: 3, layout: 'shuffled' });
  assert.equal(patchFeatureDim(k), 32 + 6);
  const r = renderBindingScene(k, scene, 7);
  assert.deepEqual([...r.cells].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.notDeepEqual(r.cells, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const F = 38;
  r.cells.forEach((cell, i) => {
    const coords = Array.from(r.features.subarray(i * F + 32, (i + 1) * F));
    const want = new Array(6).fill(0);
    want[cell % 3] = 1;
    want[3 + Math.floor(cell / 3)] = 1;
    assert.deepEqual(coords, want, `patch ${i} (cell ${cell})`);
  });
  assert.deepEqual(renderBindingScene(k, scene, 7), r);
  assert.notDeepEqual(renderBindingScene(k, scene, 8).cells, r.cells);
  const pos = objectPatchPositions(k, scene, r);
  assert.equal(r.cells[pos[0] - 1], 2);
  assert.equal(r.cells[pos[1] - 1], 3);
});

test('image binding: swap-slots exchanges cells; dataset rows, features and mask; prepareData; clear errors', async () => {
  const k = imageBindingKnobs({ variant: 'image', grid: 3, maxObjects: 3, sequences: 20 });
  const cf = imageCounterfactual(bindingCounterfactual(k, 'swap-slots', scene, new Rng(1)));
  assert.deepEqual(cf.source.objects.map((o) => [o.colour, o.x, o.y]), [['red', 0, 1], ['blue', 2, 0]]);
  assert.equal(cf.source.target, 0);
  assert.equal(cf.expected, 'blue'); // the base object in the cell the target moved to
  assert.equal(cf.sourceAnswer, 'red');
  const feat = bindingCounterfactual(k, 'change-feature', scene, new Rng(1));
  assert.equal(imageCounterfactual(feat), feat);
  const scenes = generateBinding(k, 0);
  const tok = bindingTokenizer(k);
  const ds = new ImageBindingDataset(k, scenes, tok, 24);
  assert.equal(ds.featureDim, 32);
  const row = tok.decode(ds.row(0));
  assert.deepEqual(row.slice(0, 10), ['<bos>', ...new Array(9).fill('<patch>')]);
  const t0 = scenes[0].objects[scenes[0].target];
  assert.deepEqual(row.slice(10, 16), [scenes[0].query, 'of', scenes[0].query === 'colour' ? t0.shape : t0.colour, '?', scenes[0].query === 'colour' ? t0.colour : t0.shape, '<eos>']);
  const m = ds.mask(0);
  assert.deepEqual(Array.from(m.slice(0, 16)), [...new Array(13).fill(0), 1, 1, 0]);
  const f = ds.features(0);
  assert.equal(f.length, 24 * 32);
  assert.deepEqual(Array.from(f.subarray(32, 10 * 32)), Array.from(renderBindingScene(k, scenes[0], 'train/0').features));
  const d = await prepareData({ kind: 'binding', knobs: { variant: 'image', grid: 3, maxObjects: 3, sequences: 20, layout: 'shuffled' } }, { seqLen: 24 });
  assert.equal(d.train.featureDim, 38);
  assert.equal(d.train.size, 20);
  assert.throws(() => imageBindingKnobs({ variant: 'image', layout: 'spiral' }), (e) => isGroundlabError(e) && /layout/.test(e.message));
  assert.throws(() => imageBindingKnobs({ variant: 'image', grid: 1, minObjects: 1, maxObjects: 1 }), (e) => isGroundlabError(e) && /grid/.test(e.message));
  assert.throws(() => new ImageBindingDataset(k, scenes, tok, 8), (e) => isGroundlabError(e) && /raise --seq-len/.test(e.hint ?? ''));
});
