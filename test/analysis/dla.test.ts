/** Known answers for direct logit attribution and the residual decomposition. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { buildEvalSet, evalSequences } from '../../src/eval';
import { createModel, modelPreset } from '../../src/models';
import { Rng } from '../../src/engine/rng';
import { directLogitAttribution, dlaByCondition } from '../../src/analysis/dla';
import { HandTransformer, ListTokenizer, copyModel, VOCAB, NOUNS, FRAMES, V, BETA, GAMMA, Dh } from './handmodel';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const seqsOf = () => evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 2 }), new ListTokenizer(VOCAB));

test('DLA on the copy-head model: the copy head carries the whole v<LAN> logit (GAMMA p(ENV) on match, 0 on mismatch), every other term 0', async () => {
  await initEngine({ log: false });
  const m = copyModel();
  const seqs = seqsOf();
  const before = tf.memory().numTensors;
  const res = await directLogitAttribution(m, seqs, { batchSize: 4 });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.deepEqual(res.terms.map((t) => t.name), ['embed', 'L0H0', 'L0H1', 'L0.attn_bias', 'L0.mlp', 'L1H0', 'L1H1', 'L1.attn_bias', 'L1.mlp']);
  const k = res.terms.findIndex((t) => t.name === 'L1H1');
  seqs.forEach((q, i) => {
    const s = BETA / Math.sqrt(Dh);
    const want = q.condition === 'match' ? (GAMMA * Math.exp(s)) / (Math.exp(s) + q.ids.length - 1) : 0;
    close(res.contributions[k][i], want, 1e-5, `copy head on ${q.condition} ${q.noun}/${q.context}`);
    res.terms.forEach((t, j) => j !== k && close(res.contributions[j][i], 0, 1e-6, `${t.name}`));
    close(res.logit[i], want, 1e-5, 'logit');
  });
  assert.ok(res.maxError < 1e-5);
  const rows = dlaByCondition(res, seqs);
  const copy = rows.find((r) => r.term === 'L1H1')!;
  assert.ok(copy.difference > 4 && Math.abs(copy.mismatch) < 1e-6, JSON.stringify(copy));
  m.dispose();
});

test('DLA on a tiny GPT-2 Transformer with a non-trivial final layer norm: the terms sum to the logit within 1e-4', async (t) => {
  const m = createModel(modelPreset('transformer', 'tiny', V), 5);
  const rng = new Rng(9);
  // non-trivial norm gains and biases everywhere, attention biases too (so the bias terms matter)
  for (const [name, v] of m.params) if (/ln_|c_attn\.bias|c_proj\.bias/.test(name)) v.assign(tf.add(v, tf.tensor(rng.normalArray(v.size, 0.5), v.shape)));
  const seqs = seqsOf();
  const res = await directLogitAttribution(m, seqs);
  assert.equal(res.terms.length, 1 + 2 * (2 + 1 + 1) + 1);
  assert.ok(res.maxError < 1e-4, `max |sum - logit| = ${res.maxError}`);
  const bias = res.terms.findIndex((x) => x.kind === 'norm_bias');
  assert.ok(Math.abs(res.contributions[bias][0]) > 1e-3, 'the norm bias term is live');
  assert.ok(res.scale.every((s) => s > 0 && Number.isFinite(s)));
  // heads: false gives one term per attention part, equal to the sum of its heads and bias
  const coarse = await directLogitAttribution(m, seqs, { heads: false });
  const attn0 = coarse.terms.findIndex((x) => x.name === 'L0.attn');
  const parts = res.terms.map((x, j) => [x, j] as const).filter(([x]) => x.layer === 0 && (x.kind === 'head' || x.kind === 'attn_bias'));
  seqs.forEach((_, i) => close(coarse.contributions[attn0][i], parts.reduce((a, [, j]) => a + res.contributions[j][i], 0), 1e-4, `L0.attn of ${i}`));
  t.diagnostic(`${seqs.length} sequences, ${res.terms.length} terms: max |sum - logit| ${res.maxError.toExponential(2)}`);
  m.dispose();
});

test('DLA on an attention-only Transformer (mlp: none): heads and attention bias per layer, no MLP terms, and the terms sum to the logit', async () => {
  const m = createModel(modelPreset('transformer', 'tiny', V, { mlp: 'none' }), 6);
  const rng = new Rng(3);
  for (const [name, v] of m.params) if (/c_attn\.bias|c_proj\.bias/.test(name)) v.assign(tf.add(v, tf.tensor(rng.normalArray(v.size, 0.5), v.shape)));
  const res = await directLogitAttribution(m, seqsOf());
  assert.deepEqual(res.terms.map((t) => t.name), ['embed', 'L0H0', 'L0H1', 'L0.attn_bias', 'L1H0', 'L1H1', 'L1.attn_bias', 'norm_bias']);
  assert.ok(res.maxError < 1e-4, `max |sum - logit| = ${res.maxError}`);
  const bias = res.terms.findIndex((x) => x.name === 'L0.attn_bias');
  assert.ok(Math.abs(res.contributions[bias][0]) > 1e-4, 'the attention bias term is live');
  m.dispose();
});

test('DLA refuses a model whose anatomy does not describe its final norm', async () => {
  const m = new HandTransformer({ arch: 'transformer', vocabSize: V, contextLength: 16, dModel: 4, nLayers: 1, nHeads: 1, dHead: 2, envFeatureDim: 0, finalNorm: true });
  const rng = new Rng(2);
  m.set('W_E', Array.from(rng.normalArray(V * 4, 1)));
  m.set('W_U', Array.from(rng.normalArray(4 * V, 1)));
  await assert.rejects(directLogitAttribution(m, seqsOf()), /does not sum to its logits/);
  m.dispose();
});
