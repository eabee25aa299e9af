/**
 * Known-answer tests on hand-built Transformers (weights set by hand; see handmodel.ts):
 * a model whose single head (layer 1, head 1) copies v<ENV> to the prediction position, and a
 * model whose layers are identities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { buildEvalSet, evalSequences, scoreSequences } from '../../src/eval';
import { groundingGain, classifyHeads, headSummary } from '../../src/metrics';
import { saliency } from '../../src/analysis/saliency';
import { ablationTest, ablationHooks, headMeans } from '../../src/analysis/ablation';
import { activationPatching } from '../../src/analysis/patching';
import { lensSurprisal, collectStates, trainTunedLens, identityLens, readout, leastSquaresLens } from '../../src/analysis/lens';
import { HandTransformer, ListTokenizer } from './handmodel';

import { copyModel, K, NOUNS, VOCAB, V, BETA, GAMMA, Dh, FRAMES } from './handmodel';
void K;
/** Hand-computed surprisals for a context of `len` tokens (ENV among them). */
function handSurprisal(len: number) {
  const s = BETA / Math.sqrt(Dh);
  const pEnv = Math.exp(s) / (Math.exp(s) + (len - 1));
  const logit = GAMMA * pEnv;
  return {
    match: Math.log(Math.exp(logit) + V - 1) - logit,
    mismatch: Math.log(Math.exp(logit) + V - 1),
    ablated: Math.log(V),
    gain: logit,
  };
}

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function setup() {
  const model = copyModel();
  const tok = new ListTokenizer(VOCAB);
  const set = buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 2 });
  const seqs = evalSequences(set, tok);
  return { model, tok, set, seqs };
}

test('copy-head model: surprisal and G equal the hand computation', async () => {
  await initEngine({ log: false });
  const { model, seqs } = setup();
  const s = await scoreSequences(model, seqs);
  seqs.forEach((q, i) => {
    const h = handSurprisal(q.ids.length);
    close(s[i], q.condition === 'match' ? h.match : h.mismatch, 1e-4, `${q.condition} ${q.noun} ${q.context}`);
  });
  const gains = groundingGain(seqs.map((q, i) => ({ noun: q.noun, context: q.context, condition: q.condition, envNoun: q.envNoun, surprisal: s[i] })));
  const expectG = (handSurprisal(3).gain + handSurprisal(5).gain + handSurprisal(7).gain) / 3;
  for (const g of gains) close(g.gain, expectG, 1e-4, `G(${g.noun})`);
  model.dispose();
});

test('copy-head model: saliency concentrates on (prediction, ENV) of the copy head; it is the only aggregate head', async () => {
  const { model, seqs } = setup();
  const before = tf.memory().numTensors;
  const sal = await saliency(model, seqs, { batchSize: 4 });
  assert.equal(tf.memory().numTensors, before, 'saliency leaks no tensors');
  assert.equal(sal.kind, 'attention');
  assert.equal(sal.n, 9);
  const copy = sal.heads.find((h) => h.layer === 1 && h.head === 1)!;
  close(copy.aggregateShare, 1, 1e-4, 'copy head aggregate share');
  for (const h of sal.heads) if (h !== copy) close(h.aggregateShare, 0, 1e-6, `head ${h.layer}.${h.head}`);
  close(sal.layers[1].flowShare, 1, 1e-4, 'layer 1 flow');
  close(sal.layers[0].total, 0, 1e-9, 'layer 0 carries no saliency');
  const cls = classifyHeads(sal.heads);
  const agg = headSummary(cls, 'aggregate');
  assert.deepEqual(agg.heads, [{ layer: 1, head: 1 }]);
  assert.equal(headSummary(cls, 'gather').count, 0);
  model.dispose();
});

test('copy-head model: zeroing it raises match surprisal by the hand-computed amount; control heads do not', async (t) => {
  const { model, seqs } = setup();
  const match = seqs.filter((q) => q.condition === 'match');
  const res = await ablationTest(model, match, [{ layer: 1, head: 1 }], { draws: 4, seed: 3 });
  const lens = match.map((q) => q.ids.length);
  const intact = lens.reduce((a, n) => a + handSurprisal(n).match, 0) / lens.length;
  close(res.intact, intact, 1e-4, 'intact');
  close(res.ablated, Math.log(V), 1e-4, 'copy head zeroed = log V');
  close(res.ablated - res.intact, Math.log(V) - intact, 1e-4, 'raise');
  close(res.control, res.intact, 1e-5, 'control heads zeroed change nothing');
  for (const d of res.controlDraws) close(d, intact, 1e-4, 'each control draw');
  assert.ok(res.vsControl.meanDiff > 1);
  t.diagnostic(`intact ${res.intact.toFixed(4)} (hand ${intact.toFixed(4)}), copy head zeroed ${res.ablated.toFixed(4)} (hand ${Math.log(V).toFixed(4)}), control ${res.control.toFixed(4)}; t p ${res.vsControl.pT.toExponential(2)}, Wilcoxon p ${res.vsControl.pWilcoxon.toExponential(2)}, d_z ${res.vsControl.cohenDz.toFixed(2)}`);
  assert.ok(res.vsControl.pT < 1e-3, `paired t p = ${res.vsControl.pT}`);
  assert.ok(res.vsControl.pWilcoxon < 0.01, `wilcoxon p = ${res.vsControl.pWilcoxon}`);
  assert.ok(res.controlVsIntact.pT === 1 || res.controlVsIntact.pT > 0.05);
  // mean-ablation: the copy head's mean output over all positions is a blend of nouns: still far worse than intact
  const means = await headMeans(model, match);
  const mAbl = await scoreSequences(model, match, { hooks: ablationHooks(model, [{ layer: 1, head: 1 }], 'mean', means) });
  means.forEach((t) => t.dispose());
  assert.ok(mAbl.every((v, i) => v > handSurprisal(lens[i]).match + 0.5));
  model.dispose();
});

test('copy-head model: activation patching locates the ENV information', async () => {
  const { model, seqs } = setup();
  const match = seqs.filter((q) => q.condition === 'match');
  const pairs = match.map((q) => {
    const mm = seqs.find((r) => r.item === q.item && r.condition === 'mismatch')!;
    return { clean: q.ids, corrupted: mm.ids, target: q.target, marks: { env: q.envPos } };
  });
  const res = await activationPatching(model, pairs, { hooks: ['blocks.1.hook_resid_pre', 'blocks.1.attn.hook_z'], positions: ['env', 'last', 'all'] });
  const get = (hook: string, pos: string) => res.find((r) => r.hook === hook && r.position === pos)!;
  close(get('blocks.1.hook_resid_pre', 'env').recovery, 1, 1e-4, 'resid at ENV');
  close(get('blocks.1.hook_resid_pre', 'last').recovery, 0, 1e-4, 'resid at last');
  close(get('blocks.1.attn.hook_z', 'last').recovery, 1, 1e-4, 'z at last');
  close(get('blocks.1.attn.hook_z', 'env').recovery, 0, 1e-4, 'z at ENV');
  close(get('blocks.1.hook_resid_pre', 'all').recoveryOfMeans, 1, 1e-4, 'all positions');
  // per head: the copy head's output carries everything, the other head's nothing
  const h1 = await activationPatching(model, pairs, { hooks: ['blocks.1.attn.hook_z'], positions: ['last'], head: 1 });
  const h0 = await activationPatching(model, pairs, { hooks: ['blocks.1.attn.hook_z'], positions: ['last'], head: 0 });
  close(h1[0].recovery, 1, 1e-4, 'copy head');
  close(h0[0].recovery, 0, 1e-4, 'other head');
  await assert.rejects(activationPatching(model, pairs, { hooks: ['blocks.1.hook_resid_pre'], head: 0 }), /cannot patch head 0/);
  model.dispose();
});

test('copy-head model: logit lens is flat before the copy layer, final after', async () => {
  const { model, seqs } = setup();
  const rows = await lensSurprisal(model, seqs);
  assert.equal(rows.length, 3);
  for (const r of rows.slice(0, 2)) for (const v of r.surprisal) close(v, Math.log(V), 1e-4, `layer ${r.layer}`);
  const s = await scoreSequences(model, seqs);
  rows[2].surprisal.forEach((v, i) => close(v, s[i], 1e-4, 'last lens layer = model output'));
  model.dispose();
});

test('identity layers: the tuned lens recovers the identity', async (t) => {
  const D = 6;
  const m = new HandTransformer({ arch: 'transformer', vocabSize: 12, contextLength: 8, dModel: D, nLayers: 2, nHeads: 1, dHead: 2, envFeatureDim: 0, finalNorm: true });
  const { Rng } = await import('../../src/engine/rng');
  const rng = new Rng(1);
  m.set('W_E', Array.from(rng.normalArray(12 * D, 1)));
  m.set('W_U', Array.from(rng.normalArray(D * 12, 1.5)));
  // every block is the identity (W_O = 0)
  const rows = Array.from({ length: 24 }, () => Int32Array.from({ length: 8 }, () => rng.int(12)));
  const data = collectStates(m, rows, 8);
  // start from a perturbed identity
  const init = identityLens(2, D);
  init.weights.forEach((w) => w.assign(tf.add(w, tf.mul(0.3, tf.tensor2d(rng.normalArray(D * D), [D, D])))));
  init.biases.forEach((b) => b.assign(tf.tensor1d(rng.normalArray(D, 0.3))));
  const klStart = await trainTunedLens(m, data, { steps: 0, init });
  const { lens, kl } = await trainTunedLens(m, data, { steps: 400, lr: 0.02, batchSize: 96, init });
  for (let l = 0; l < 2; l++) assert.ok(kl[l] < 2e-3 && kl[l] < klStart.kl[l] / 50, `KL layer ${l}: ${klStart.kl[l]} -> ${kl[l]}`);
  // the translated states read out like the untranslated ones (identity up to the final norm's invariances)
  const x = tf.slice(data.states[1], [0, 0], [32, D]) as tf.Tensor2D;
  const a = tf.softmax(readout(m, tf.add(tf.matMul(x, lens.weights[1]), lens.biases[1]) as tf.Tensor2D));
  const b = tf.softmax(readout(m, x));
  const err = (await tf.max(tf.abs(tf.sub(a, b))).data())[0];
  assert.ok(err < 0.02, `max prob error ${err}`);
  // and the linear part is the identity up to the scale the final norm removes (and the all-ones direction)
  const W = (await lens.weights[1].array()) as number[][];
  const C = tf.sub(tf.eye(D), tf.div(tf.ones([D, D]), D)); // centring
  const Wc = tf.matMul(tf.matMul(C, tf.tensor2d(W)), C);
  const scale = (await tf.div(tf.sum(tf.mul(Wc, C)), tf.sum(tf.mul(C, C))).data())[0];
  const off = (await tf.max(tf.abs(tf.sub(tf.div(Wc, scale), C))).data())[0];
  assert.ok(scale > 0 && off < 0.2, `W = ${scale.toFixed(3)} I (+ ${off.toFixed(3)})`);
  t.diagnostic(`KL ${klStart.kl.map((v) => v.toFixed(4))} -> ${kl.map((v) => v.toExponential(2))}; max prob error ${err.toExponential(2)}; W1 = ${scale.toFixed(3)} I + ${off.toFixed(3)} (max)`);
  // the least-squares start is the identity itself
  const ls = await leastSquaresLens(data.states, 0);
  for (let l = 0; l < 2; l++) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ls.weights[l], tf.eye(D)))).dataSync()[0] + tf.max(tf.abs(ls.biases[l])).dataSync()[0]);
    assert.ok(d < 1e-3, `least squares layer ${l}: |A - I| + |b| = ${d}`);
  }
  ls.dispose();
  data.states.forEach((t) => t.dispose());
  data.finalLogProbs.dispose();
  lens.dispose();
  m.dispose();
});
