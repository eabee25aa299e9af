import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  IMAGE_EVAL_FRAMES,
  cellPixels,
  encoderFor,
  generateImageDialog,
  imageEvalContext,
  imageKnobs,
  corpusFileText,
  prepareData,
  episodeTokens,
  PATCH,
} from '../../src/data';
import { isGroundlabError } from '../../src/errors';

test('image dialogue: deterministic; one <patch> token per patch with its features', () => {
  const k = imageKnobs('realistic', { episodes: 50 });
  const file = (seed: number) => corpusFileText({ spec: { kind: 'image' }, nouns: [], evalFrames: [], featureDim: k.featureDim, episodes: generateImageDialog(k, seed) });
  assert.equal(file(3), file(3));
  assert.notEqual(file(3), file(4));
  for (const ep of generateImageDialog(k, 3)) {
    const img = ep.turns[0];
    assert.equal(img.speaker, '<IMG>');
    assert.equal(img.env.situation.length, k.grid * k.grid);
    assert.ok(img.env.situation.every((t) => t === PATCH));
    assert.equal(img.patches?.length, k.grid * k.grid);
    assert.ok(img.patches!.every((p) => p.length === k.featureDim && p.every(Number.isFinite)));
  }
  assert.throws(() => imageKnobs('simple', { grid: 1 }), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  assert.throws(() => imageKnobs('simple', { rounds: -1 }), (e) => isGroundlabError(e));
  assert.equal(imageKnobs('simple', { episodes: 7 }).episodes, 7);
  assert.equal(imageKnobs('simple').episodes, 5000);
});

test('the frozen encoder tells nouns apart and does not depend on the corpus', () => {
  const enc = encoderFor(32);
  const a = enc.encode(cellPixels('obj:ball:red'));
  const b = enc.encode(cellPixels('obj:dog:red'));
  const bg = enc.encode(cellPixels('bg:grass'));
  const cos = (x: Float32Array, y: Float32Array) => {
    let d = 0, nx = 0, ny = 0;
    for (let i = 0; i < x.length; i++) (d += x[i] * y[i]), (nx += x[i] * x[i]), (ny += y[i] * y[i]);
    return d / Math.sqrt(nx * ny);
  };
  assert.ok(cos(a, b) < 0.98, `cos ${cos(a, b)}`);
  assert.ok(cos(a, bg) < 0.98);
  assert.deepEqual(encoderFor(32).encode(cellPixels('obj:ball:red')), a);
});

test('prepareData(image): features reach the dataset at <patch> positions, zeros elsewhere', async () => {
  const d = await prepareData({ kind: 'image', setting: 'simple', knobs: { episodes: 200, nouns: 10 } }, { seqLen: 32 });
  assert.equal(d.featureDim, 32);
  assert.equal(d.train.featureDim, 32);
  const patchId = d.tokenizer.id(PATCH);
  const ep0 = d.episodes[0];
  const row = d.train.row(0);
  const f = d.train.features!(0);
  assert.equal(f.length, 32 * 32);
  let k = 0;
  for (let t = 0; t < 32; t++) {
    const v = f.slice(t * 32, t * 32 + 32);
    if (row[t] === patchId) {
      if (t < episodeTokens(ep0).length) assert.deepEqual(v, ep0.turns[0].patches![k++]);
      assert.ok(v.some((x) => x !== 0));
    } else assert.ok(v.every((x) => x === 0));
  }
  assert.ok(k > 0);
  // the shown nouns count as ENV occurrences
  assert.ok(d.stats.nouns.every((n) => n.env > 0));
});

test('imageEvalContext: the slot becomes a scene showing the noun, same layout for match and mismatch', () => {
  const k = imageKnobs('simple');
  const fr = IMAGE_EVAL_FRAMES[0];
  const m = imageEvalContext(fr, 'ball', k, 1);
  const u = imageEvalContext(fr, 'dog', k, 1);
  assert.equal(m.tokens.length, fr.tokens.length - 1 + k.grid * k.grid);
  assert.equal(m.tokens.filter((t) => t === PATCH).length, m.features.length);
  let same = 0;
  for (let i = 0; i < m.features.length; i++) if (m.features[i].every((x, j) => x === u.features[i][j])) same++;
  assert.ok(same >= k.grid * k.grid - 4 && same < k.grid * k.grid, `${same} identical patches`);
});

test('image evaluation questions are never asked in training', () => {
  const eps = generateImageDialog(imageKnobs('realistic', { episodes: 3000 }), 0);
  const text = ' ' + eps.map((e) => episodeTokens(e).join(' ')).join(' ') + ' ';
  for (const f of IMAGE_EVAL_FRAMES) {
    const q = f.tokens.slice(f.tokens.indexOf('<Q>'));
    assert.ok(!text.includes(' ' + q.join(' ') + ' '), f.id);
  }
});
