import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/engine';
import { prepareData } from '../../src/data/prepare';
import type { PreparedData } from '../../src/data/types';
import { GroundlabError } from '../../src/errors';
import { buildProbeTask } from '../../src/probe/tasks';
import { collectActivations } from '../../src/probe/collect';
import { probeClassification } from '../../src/probe/evaluate';
import { TinyModel } from './tiny-model';

let data: PreparedData;
before(async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine();
  data = await prepareData({ kind: 'synthetic', setting: 'realistic', seed: 1, knobs: { episodes: 400, nouns: 12 } }, { seqLen: 32, minCount: 1 });
});

test('env-noun from frames: every frame x noun, read at the pre-LAN position, label = the ENV noun in context', () => {
  const t = buildProbeTask('env-noun', data, { contextLength: 32 });
  assert.equal(t.classes.length, data.nouns.length);
  assert.equal(t.contexts.length, data.evalFrames.length * data.nouns.length);
  t.contexts.forEach((c, i) => {
    const toks = data.tokenizer.decode(c.tokens);
    assert.equal(c.position, toks.length - 1);
    const env = toks.filter((s) => s.endsWith('<ENV>'));
    assert.deepEqual(env, [`${t.classes[t.labels[i]]}<ENV>`]);
    assert.ok(!toks.includes('<unk>'), toks.join(' '));
  });
  assert.deepEqual(buildProbeTask('env-noun', data, { contextLength: 32 }), t);
  // The frame is the split group (leave-one-frame-out).
  assert.deepEqual(new Set(t.splitGroups), new Set(data.evalFrames.map((f) => f.id)));
  // Transfer: corpus contexts for training, every frame x noun for testing.
  const tr = buildProbeTask('env-noun', data, { contextLength: 32, source: 'transfer', maxExamples: 100 });
  assert.equal(tr.testMask!.reduce((a, b) => a + b, 0), t.contexts.length);
  assert.equal(tr.contexts.length, t.contexts.length + [...tr.testMask!].filter((m) => m === 0).length);
  const atEnv = buildProbeTask('env-noun', data, { contextLength: 32, position: 'env' });
  atEnv.contexts.forEach((c, i) => assert.equal(data.tokenizer.token(c.tokens[c.position]), `${atEnv.classes[atEnv.labels[i]]}<ENV>`));
});

test('env-noun from episodes and grounded: labels match the window the model sees', () => {
  const e = buildProbeTask('env-noun', data, { contextLength: 24, source: 'episodes', maxExamples: 200 });
  assert.ok(e.contexts.length > 50);
  e.contexts.forEach((c, i) => {
    const toks = data.tokenizer.decode(c.tokens);
    assert.ok(toks.length <= 24);
    assert.ok(toks.includes(`${e.classes[e.labels[i]]}<ENV>`));
  });
  const g = buildProbeTask('grounded', data, { contextLength: 24, maxExamples: 300 });
  assert.deepEqual(g.classes, ['no', 'yes']);
  const yes = [...g.labels].filter((l) => l === 1).length;
  assert.equal(yes * 2, g.labels.length, 'balanced');
  // Re-derive each label: the next LAN word is not in the context, but its ENV form is (yes) or not (no).
  // The LAN word itself is not stored; check that "yes" windows contain some ENV token of interest.
  g.contexts.forEach((c, i) => {
    const toks = data.tokenizer.decode(c.tokens);
    if (g.labels[i] === 1) assert.ok(toks.some((s) => s.endsWith('<ENV>')));
  });
});

test('speaker: label is the speaker token that opens the turn inside the window, never read at the speaker token', () => {
  const s = buildProbeTask('speaker', data, { contextLength: 32, maxExamples: 300 });
  assert.ok(s.classes.includes('<MOT>') && s.classes.includes('<CHI>'), s.classes.join(','));
  s.contexts.forEach((c, i) => {
    const toks = data.tokenizer.decode(c.tokens);
    assert.ok(!s.classes.includes(toks[c.position]), 'not at a speaker token');
    let last = '';
    for (const t of toks) if (s.classes.includes(t) || /^<[A-Z]+>$/.test(t)) last = t;
    assert.equal(last, s.classes[s.labels[i]]);
  });
});

test('unknown task and impossible settings are GroundlabErrors', () => {
  assert.throws(() => buildProbeTask('colour', data, { contextLength: 32 }), (e: unknown) => e instanceof GroundlabError && /env-noun, grounded, speaker/.test(e.message + (e.hint ?? '')));
  assert.throws(() => buildProbeTask('env-noun', { ...data, evalFrames: [] }, { contextLength: 32 }), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND');
});

test('env-noun on the tiny model: decodable after mixing layers, far better than from the pre-LAN embedding', async () => {
  const model = new TinyModel(data.tokenizer.vocabSize, 64, 2, 7, 12);
  const t = buildProbeTask('env-noun', data, { contextLength: 12, source: 'episodes', maxExamples: 600 });
  const acts = await collectActivations(model, t.contexts, { hooks: ['hook_embed', 'blocks.1.hook_resid_post'], batchSize: 64 });
  const run = (h: string) => probeClassification({ x: acts.x[h], n: acts.n, d: acts.dims[h], labels: t.labels, classes: t.classes, groups: acts.tokenAtPosition }, { seed: 0 });
  const emb = run('hook_embed');
  const deep = run('blocks.1.hook_resid_post');
  assert.ok(deep.accuracy > emb.accuracy + 0.2, `embedding ${emb.accuracy}, layer 1 ${deep.accuracy}`);
  assert.ok(Number.isFinite(deep.controlAccuracy) && deep.controlGroups > 1);
  model.dispose();
});
