import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { HandTransformer } from './handmodel';
import { labelSimilarity, positionFeatureSimilarity, bindingAccuracy, errorProbe, classifyBindingHeads, encodeBindingPairs, headMediation, interventionScores, positionIdPatching, type HeadMediationRow } from '../../src/analysis/binding';
import { BINDING_COLOURS, BINDING_SHAPES, bindingCounterfactuals, bindingEvalScenes, bindingKnobs, bindingTokenizer, cuePosition, slotStart } from '../../src/data/binding';
import { createModel, modelPreset } from '../../src/models';
import { isGroundlabError } from '../../src/errors';

// ---------------------------------------------------------------------------------------------
// A hand-built 3-layer attention-only Transformer that answers `colour of <shape> ?` over scenes of
// 3 objects with one head per stage (head 1 of every layer is a control head):
//   L0H0 ID retrieval: at the cue, attend to the scene's token of the same shape, copy its slot (the
//        position ID, from the positional embedding) into the retrieved-ID dims;
//   L1H0 ID selection: at the last position, attend to the cue, move the retrieved ID into the
//        selected-ID dims;
//   L2H0 feature retrieval: at the last position, attend to the colour token of the selected slot,
//        copy its colour into the answer dims, which the unembedding reads.
const N = 3;
const K = bindingKnobs({ colours: 4, shapes: 4, grid: 3, maxObjects: N, heldOut: 'none' });
const TOK = bindingTokenizer(K);
const BETA = 40; // attention scores BETA / sqrt(Dh) = 14: one-hot attention
const GAMMA = 15; // answer logit
const Dh = 8;
// Residual dims: 0..3 colour, 4..7 shape, 8 constant, 9..11 slot at shape tokens, 12..14 slot at
// colour tokens, 15 query phase, 16 is-cue, 17..19 retrieved ID, 20..22 selected ID, 23..26 answer
// colour, 27 junk.
const D = 28;

/**
 * `shift`: the feature head reads the next slot (a planted binding error after the right position).
 * `idMap[s]`: the ID retrieval head at a cue of shape s looks for shape idMap[s] (a planted ID error).
 * `featureMap[c]`: the feature head writes colour c as colour featureMap[c] (a planted feature error).
 */
function bindingModel(shift = 0, o: { idMap?: number[]; featureMap?: number[]; tok?: typeof TOK } = {}): HandTransformer {
  const tok = o.tok ?? TOK;
  const V = tok.vocabSize;
  const T = cuePosition(N) + 3;
  const m = new HandTransformer({ arch: 'transformer', vocabSize: V, contextLength: T, dModel: D, nLayers: 3, nHeads: 2, dHead: Dh, envFeatureDim: 0, finalNorm: false });
  const mat = (r: number, c: number) => Array.from({ length: r }, () => new Array<number>(c).fill(0));
  const colours = BINDING_COLOURS.slice(0, 4);
  const shapes = BINDING_SHAPES.slice(0, 4);
  const WE = mat(V, D);
  for (let v = 0; v < V; v++) {
    const t = tok.token(v);
    WE[v][8] = 1;
    if ((colours as readonly string[]).includes(t)) WE[v][colours.indexOf(t as (typeof colours)[number])] = 1;
    if ((shapes as readonly string[]).includes(t)) WE[v][4 + shapes.indexOf(t as (typeof shapes)[number])] = 1;
  }
  m.set('W_E', WE);
  const WP = mat(T, D);
  for (let i = 0; i < N; i++) {
    WP[slotStart(i)][12 + i] = 1;
    WP[slotStart(i) + 1][9 + i] = 1;
  }
  for (let p = slotStart(N); p < T; p++) WP[p][15] = 1;
  WP[cuePosition(N)][16] = 1;
  m.set('W_pos', WP);
  for (let l = 0; l < 3; l++) {
    const WQ = mat(D, 2 * Dh), WK = mat(D, 2 * Dh), WV = mat(D, 2 * Dh), WO = mat(2 * Dh, D);
    if (l === 0) {
      for (let s = 0; s < 4; s++) {
        WQ[4 + s][o.idMap?.[s] ?? s] = BETA;
        WK[4 + s][s] = 1;
      }
      WQ[8][4] = BETA; // minus BETA on keys in the query phase: the cue does not find itself
      WK[15][4] = -1;
      for (let i = 0; i < N; i++) {
        WV[9 + i][i] = 1;
        WO[i][17 + i] = 1;
      }
    } else if (l === 1) {
      WQ[8][0] = BETA;
      WK[16][0] = 1;
      for (let i = 0; i < N; i++) {
        WV[17 + i][i] = 1;
        WO[i][20 + i] = 1;
      }
    } else {
      for (let i = 0; i < N; i++) {
        WQ[20 + i][(i + shift) % N] = BETA; // shift: read the next slot (a planted binding error)
        WK[12 + i][i] = 1;
      }
      for (let c = 0; c < 4; c++) {
        WV[c][c] = 1;
        WO[c][23 + (o.featureMap?.[c] ?? c)] = GAMMA;
      }
    }
    // Control head: uniform attention over the prefix, writes the constant into the junk dim.
    WV[8][Dh] = 1;
    WO[Dh][27] = 1;
    m.set(`blocks.${l}.W_Q`, WQ);
    m.set(`blocks.${l}.W_K`, WK);
    m.set(`blocks.${l}.W_V`, WV);
    m.set(`blocks.${l}.W_O`, WO);
  }
  const WU = mat(D, V);
  colours.forEach((c, i) => (WU[23 + i][tok.id(c)] = 1));
  m.set('W_U', WU);
  return m;
}

const pairsOf = (kind: 'swap-slots' | 'change-feature' | 'change-cue', count = 24) => encodeBindingPairs(bindingCounterfactuals(K, { kind, counts: [N], count, seed: 1, query: 'colour' }), TOK);

test('binding known answer: one head per stage, mediation 1 for those heads and 0 for the others, roles named', async () => {
  await initEngine();
  const m = bindingModel();
  const acc = await bindingAccuracy(m, TOK, bindingEvalScenes(K, { counts: [N], perCount: 30, seed: 0, query: 'colour', heldOut: 'any' }));
  assert.equal(acc.accuracy, 1, 'the hand model answers every colour query');
  const before = tf.memory().numTensors;
  const pairs = [...pairsOf('swap-slots'), ...pairsOf('change-feature'), ...pairsOf('change-cue')];
  const rows = await headMediation(m, pairs);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.equal(rows.length, 3 * 6 * 2);
  assert.ok(rows.every((r) => r.n === 24 && r.base_accuracy === 1));
  const med = (name: string, kind: HeadMediationRow['kind'], positions: 'query' | 'last' = 'query') => rows.find((r) => r.name === name && r.kind === kind && r.positions === positions)!;
  // Position-ID heads carry the swapped slot: the base then answers with the object in that slot.
  for (const h of ['L0H0', 'L1H0']) {
    assert.ok(med(h, 'swap-slots').mediation > 0.999, `${h} swap-slots ${med(h, 'swap-slots').mediation}`);
    assert.equal(med(h, 'swap-slots').redirect, 1);
    assert.ok(Math.abs(med(h, 'change-feature').mediation) < 1e-3);
  }
  assert.ok(Math.abs(med('L0H0', 'swap-slots', 'last').mediation) < 1e-3, 'ID retrieval acts at the cue, not at the last position');
  assert.ok(med('L1H0', 'swap-slots', 'last').mediation > 0.999, 'ID selection acts at the last position');
  assert.ok(med('L2H0', 'change-feature').mediation > 0.999);
  assert.ok(Math.abs(med('L2H0', 'swap-slots').mediation) < 1e-3, 'the feature head carries the feature, not the ID');
  for (const h of ['L0H0', 'L1H0', 'L2H0']) assert.ok(med(h, 'change-cue').mediation > 0.999, `${h} lies on the path of the cue`);
  for (const h of ['L0H1', 'L1H1', 'L2H1']) for (const r of rows.filter((x) => x.name === h)) assert.ok(Math.abs(r.mediation) < 1e-3, `control ${h} ${r.kind} ${r.mediation}`);

  const roles = classifyBindingHeads(rows);
  const role = (n: string) => roles.find((r) => r.name === n)!;
  assert.equal(role('L0H0').role, 'ID retrieval');
  assert.equal(role('L1H0').role, 'ID selection');
  assert.equal(role('L2H0').role, 'feature retrieval');
  for (const h of ['L0H1', 'L1H1', 'L2H1']) {
    assert.equal(role(h).role, 'none');
    assert.ok(Math.abs(role(h).mediation) < 1e-3);
  }
  for (const h of ['L0H0', 'L1H0', 'L2H0']) assert.ok(role(h).mediation > 0.999);

  // Position-ID patching along the residual stream: the ID sits at the cue after layer 0 and at the
  // last position after layer 1; after layer 2 the last position holds the (unchanged) answer.
  const pp = await positionIdPatching(m, pairs);
  const red = (layer: number, positions: 'last' | 'cue') => pp.find((r) => r.layer === layer && r.positions === positions)!.redirect;
  assert.deepEqual([0, 1, 2, 3].map((l) => red(l, 'cue')), [0, 1, 0, 0]);
  assert.deepEqual([0, 1, 2, 3].map((l) => red(l, 'last')), [0, 0, 1, 0]);
  // Patching both ID heads together redirects as well; patching nothing does nothing.
  const both = await interventionScores(m, pairsOf('swap-slots'), [
    { name: 'ids', patches: [{ hook: 'blocks.0.attn.hook_z', index: 0, positions: 'all' }, { hook: 'blocks.1.attn.hook_z', index: 0, positions: 'last' }] },
    { name: 'nothing', patches: [] },
  ]);
  assert.equal(both.scores[0].redirect, 1);
  assert.equal(both.scores[1].redirect, 0);
  assert.ok(Math.abs(both.scores[1].mediation) < 1e-9);
  m.dispose();
});

test('binding errors: a model that reads the next slot makes only binding errors, at offset +1 (or -2 from the last slot)', async () => {
  await initEngine();
  const good = bindingModel();
  const scenes = bindingEvalScenes(K, { counts: [N], perCount: 30, seed: 4, query: 'colour', heldOut: 'any' });
  const ok = await bindingAccuracy(good, TOK, scenes);
  assert.deepEqual(ok.errors, { n: 0, otherObject: 0, absentFeature: 0, other: 0, bySlotOffset: [] });
  const bad = bindingModel(1);
  const a = await bindingAccuracy(bad, TOK, scenes);
  assert.equal(a.accuracy, 0);
  assert.equal(a.errors.n, 30);
  assert.equal(a.errors.otherObject, 30);
  const last = scenes.filter((s) => s.target === N - 1).length;
  assert.deepEqual(a.errors.bySlotOffset, [{ offset: -2, n: last }, { offset: 1, n: 30 - last }].filter((x) => x.n > 0));
  good.dispose();
  bad.dispose();
});

test('error probe known answers: a planted ID error is decoded as a wrong position, a planted feature error as the right one', async () => {
  await initEngine();
  // Three shapes over three objects: every scene holds every shape, so a wrong ID still finds a slot.
  const k3 = bindingKnobs({ colours: 4, shapes: 3, grid: 3, maxObjects: N, heldOut: 'none' });
  const tok3 = bindingTokenizer(k3);
  const scenes = bindingEvalScenes(k3, { counts: [N], perCount: 90, seed: 7, query: 'colour', heldOut: 'any' });
  // ID error: at a `square` cue the ID head finds the circle's slot, so square queries say the circle's colour.
  const idBad = bindingModel(0, { idMap: [1, 1, 2], tok: tok3 });
  const a = await errorProbe(idBad, tok3, scenes);
  const squares = scenes.filter((s) => s.objects[s.target].shape === 'square').length;
  assert.equal(a.wrong, squares);
  assert.equal(a.right, scenes.length - squares);
  assert.deepEqual(a.rows.map((r) => r.hook), ['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post']);
  assert.equal(a.best?.hook, 'blocks.1.hook_resid_post', 'the first depth that holds the selected ID');
  assert.equal(a.best?.probeAccuracy, 1);
  assert.ok(a.rows[0].probeAccuracy < 0.6, `entering layer 0 the last position holds no ID: ${a.rows[0].probeAccuracy}`);
  assert.equal(a.best?.wrongPosition, 1, 'every error carried a wrong position');
  assert.equal(a.best?.saidObject, 1, 'and it is the position of the object whose colour was said');
  // Feature error: the right ID, but red is written as blue.
  const featBad = bindingModel(0, { featureMap: [1, 1, 2, 3], tok: tok3 });
  const b = await errorProbe(featBad, tok3, scenes);
  const reds = scenes.filter((s) => s.objects[s.target].colour === 'red').length;
  assert.equal(b.wrong, reds);
  assert.equal(b.best?.probeAccuracy, 1);
  assert.equal(b.best?.wrongPosition, 0, 'the position was right: the error came after it');
  assert.equal(b.best?.saidObject, 0);
  // The behavioural trace calls most of those errors binding errors (blue is often another object's colour).
  const behaviour = await bindingAccuracy(featBad, tok3, scenes);
  assert.ok(behaviour.errors.otherObject > 0 && behaviour.errors.otherObject < reds, JSON.stringify(behaviour.errors));
  // A model that never errs has nothing to decode; one that is always wrong has nothing to train on.
  const good = bindingModel(0, { tok: tok3 });
  const g = await errorProbe(good, tok3, scenes);
  assert.equal(g.wrong, 0);
  assert.ok(g.rows.every((r) => r.nErrors === 0 && Number.isNaN(r.wrongPosition)));
  const allWrong = bindingModel(1, { tok: tok3 });
  const w = await errorProbe(allWrong, tok3, scenes);
  assert.equal(w.right, 0);
  assert.equal(w.best, null);
  for (const m of [idBad, featBad, good, allWrong]) m.dispose();
});

test('binding roles: thresholds are options; bad input gives clear errors', async () => {
  const row = (name: string, kind: HeadMediationRow['kind'], positions: 'query' | 'last', mediation: number): HeadMediationRow => ({ name, layer: 0, head: 0, kind, positions, mediation, redirect: 0, n: 10, base_accuracy: 1 });
  const rows = [row('A', 'swap-slots', 'query', 0.4), row('A', 'swap-slots', 'last', 0.3), row('A', 'change-feature', 'query', 0.05), row('A', 'change-feature', 'last', 0)];
  assert.equal(classifyBindingHeads(rows)[0].role, 'none');
  assert.equal(classifyBindingHeads(rows, { id: 0.3 })[0].role, 'ID selection');
  assert.equal(classifyBindingHeads(rows, { id: 0.3, lastShare: 0.9 })[0].role, 'ID retrieval');
  assert.throws(() => classifyBindingHeads(rows, { id: 0 }), (e) => isGroundlabError(e) && /threshold id/.test(e.message));
  assert.throws(() => classifyBindingHeads(rows.slice(0, 2)), (e) => isGroundlabError(e) && /change-feature/.test(e.message));
  await initEngine();
  const m = bindingModel();
  await assert.rejects(interventionScores(m, pairsOf('swap-slots', 2), [{ name: 'x', patches: [{ hook: 'blocks.9.attn.hook_z', positions: 'all' }] }]), (e) => isGroundlabError(e) && /no hook point/.test(e.message));
  await assert.rejects(interventionScores(m, pairsOf('swap-slots', 2), [{ name: 'x', patches: [{ hook: 'blocks.0.attn.hook_z', index: 5, positions: 'all' }] }]), (e) => isGroundlabError(e) && /index 5/.test(e.message));
  await assert.rejects(positionIdPatching(m, pairsOf('change-cue', 2)), (e) => isGroundlabError(e) && /swap-slots/.test(e.message));
  m.dispose();
});

test('labelSimilarity: known answers for a pure position code and a pure feature code', async () => {
  const labels: Array<{ slot: number; colour: string; shape: string }> = [];
  const colours = ['red', 'blue', 'green'];
  const shapes = ['square', 'circle', 'star'];
  for (let scene = 0; scene < 3; scene++) for (let slot = 0; slot < 3; slot++) labels.push({ slot, colour: colours[(slot + scene) % 3], shape: shapes[(slot + scene) % 3] });
  const code = (f: (l: (typeof labels)[number]) => number[]) => Float32Array.from(labels.flatMap(f));
  // Position only: one-hot slot. Centred, same slot -> cos 1, other slot -> cos -1/2.
  const pos = labelSimilarity(code((l) => [0, 1, 2].map((i) => (i === l.slot ? 1 : 0))), 3, labels);
  assert.ok(Math.abs(pos.samePosition - 1) < 1e-9 && Math.abs(pos.sameFeatures + 0.5) < 1e-9 && Math.abs(pos.unrelated + 0.5) < 1e-9, JSON.stringify(pos));
  // Features only: one-hot colour (the shape goes with it here).
  const feat = labelSimilarity(code((l) => colours.map((c) => (c === l.colour ? 1 : 0))), 3, labels);
  assert.ok(Math.abs(feat.sameFeatures - 1) < 1e-9 && Math.abs(feat.samePosition + 0.5) < 1e-9, JSON.stringify(feat));
  assert.deepEqual(pos.pairs, { samePosition: 9, sameFeatures: 9, unrelated: 18 });
  assert.throws(() => labelSimilarity(new Float32Array(5), 3, labels), (e) => isGroundlabError(e) && /5 values/.test(e.message));
  // On the hand model, entering layer 0 the shape token holds its shape and its slot (a 1-hot each): symmetric.
  await initEngine();
  const m = bindingModel();
  const rows = await positionFeatureSimilarity(m, TOK, bindingEvalScenes(K, { counts: [N], perCount: 20, seed: 2, heldOut: 'any' }));
  assert.equal(rows.length, 4);
  assert.ok(rows[0].samePosition > 0.2 && rows[0].sameFeatures > 0.2, JSON.stringify(rows[0]));
  m.dispose();
});

test('binding analyses run on a tiny Transformer through its anatomy (no leaks, deterministic)', async () => {
  await initEngine();
  const k = bindingKnobs({ maxObjects: 3 });
  const tok = bindingTokenizer(k);
  const model = createModel(modelPreset('transformer', 'tiny', tok.vocabSize), 0);
  const pairs = ['swap-slots', 'change-feature'].flatMap((kind) => encodeBindingPairs(bindingCounterfactuals(k, { kind: kind as 'swap-slots', counts: [2, 3], count: 6, seed: 0 }), tok));
  const before = tf.memory().numTensors;
  const a = await headMediation(model, pairs, { onlyCorrect: false });
  const b = await headMediation(model, pairs, { onlyCorrect: false });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(a.length, 2 * model.anatomy.layers.reduce((s, l) => s + (l.heads?.size ?? 0), 0) * 2);
  assert.deepEqual(a, b);
  assert.ok(a.every((r) => Number.isFinite(r.mediation) && r.n === 6));
  model.dispose();
});

test('bindingRun on a tiny binding run: report, analysis/binding.arrow, CLI binding', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { train, openRun } = await import('../../src/train');
  const { bindingRun } = await import('../../src/analysis/binding');
  const { runCli } = await import('../cli/helpers');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'binding-run-'));
  try {
    const out = path.join(dir, 'bind');
    await train({ out, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 32, corpus: { kind: 'binding', knobs: { maxObjects: 3, sequences: 64 } } });
    const run = await openRun(out);
    const r = await bindingRun(run, { pairs: 6, perCount: 4 });
    assert.equal(r.step, 4);
    assert.deepEqual(r.accuracy.byObjects.map((b) => [b.objects, b.n]), [[2, 4], [3, 4]]);
    assert.equal(r.heldOut?.n, 8);
    assert.equal(r.roles.length, 4);
    assert.equal(r.positionPatching.length, 2 * 3);
    assert.equal(r.similarity.length, 3);
    assert.equal(r.errorProbe.right + r.errorProbe.wrong, 8, 'every colour or shape query of the accuracy scenes is traced');
    const t = await run.readTable('analysis/binding');
    const n0 = t!.numRows();
    assert.ok(n0 > 0);
    const cli = await runCli(['binding', out, '--pairs', '4', '--per-count', '2']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /position-ID patching/);
    assert.match(cli.stdout, /error probe/);
    assert.match(cli.stdout, /L1H1/);
    assert.equal((await run.readTable('analysis/binding'))!.numRows(), n0, 'the same checkpoint replaces its rows');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
