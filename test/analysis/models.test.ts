/**
 * The analyses on the real architectures (src/models): a GPT-2 Transformer built with createModel
 * whose parameters are set by hand (one copy head; known answers with its layer norms), and
 * seeded tiny Transformer / Mamba-2 / LSTM models for the contracts the analyses rely on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { ARCHS, createModel, modelPreset, type Arch, type LanguageModel } from '../../src/models';
import { buildEvalSet, evalSequences, scoreSequences } from '../../src/eval';
import { classifyHeads, headSummary } from '../../src/metrics';
import { saliency, ablationTest, ablationHooks, allHeads, lensSurprisal, lensPoints, readout, selectPositions, makeReadout } from '../../src/analysis';
import { ListTokenizer } from './handmodel';

const NOUNS = ['a', 'b', 'c'];
const VOCAB = ['<pad>', 'f1', 'f2', 'f3', ...NOUNS.map((n) => n + '<ENV>'), ...NOUNS.map((n) => n + '<LAN>')];
const V = VOCAB.length;
const FRAMES = [
  { id: 'short', tokens: ['f1', '{ENV}', 'f2'] },
  { id: 'mid', tokens: ['f1', 'f2', '{ENV}', 'f3', 'f1'] },
  { id: 'long', tokens: ['f3', 'f1', 'f2', '{ENV}', 'f3', 'f1', 'f2'] },
];
const D = 16, H = 2, Dh = 8, EPS = 1e-5;
const A = Math.sqrt(D) / 2; // every embedding: two +A and two -A entries -> mean 0, variance 1
const S = 1 / Math.sqrt(1 + EPS); // layer norm scale on such a vector
const SCORE = 4; // attention score of the ENV key from any query of the copy head
const BETA = (SCORE * Math.sqrt(Dh)) / (A * S * A * S);
const GAMMA = 5;
// dims: 0 const, 1 balance, 2 filler flag, 3 balance, 4..6 ENV noun, 7 balance, 8..10 copied noun
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function setParam(m: LanguageModel, name: string, values: number[][] | number[]) {
  const v = m.params.get(name);
  assert.ok(v, `parameter ${name}`);
  v.assign(tf.tensor(values.flat() as number[], v.shape));
}
const zeros = (r: number, c: number) => Array.from({ length: r }, () => new Array(c).fill(0));

function gptCopyModel(): LanguageModel {
  const m = createModel(modelPreset('transformer', 'tiny', V, { dModel: D, nHeads: H, nLayers: 2, dMlp: 8, contextLength: 16, tiedEmbeddings: false, lnEps: EPS } as never), 0);
  for (const [name, v] of m.params) if (!/ln_\d|ln_f/.test(name) || name.endsWith('.bias')) v.assign(tf.zerosLike(v)); // zero all but LN gains
  setParam(
    m,
    'transformer.wte.weight',
    VOCAB.map((t) => {
      const r = new Array(D).fill(0);
      r[0] = A;
      r[1] = -A;
      if (t.endsWith('<ENV>')) {
        r[4 + NOUNS.indexOf(t[0])] = A;
        r[7] = -A;
      } else {
        r[2] = A;
        r[3] = -A;
      }
      return r;
    }),
  );
  // layer 0, both heads: attend by the filler flag (non-uniform), write nothing
  const qkv0 = zeros(D, 3 * D);
  qkv0[2][0] = 1;
  qkv0[2][D] = 1;
  qkv0[2][8] = 2;
  qkv0[0][D + 8] = 1;
  setParam(m, 'transformer.h.0.attn.c_attn.weight', qkv0);
  // layer 1, head 1 copies the ENV noun to the query position
  const qkv = zeros(D, 3 * D);
  qkv[0][Dh] = BETA; // q (head 1, dim 0) = BETA * const
  for (let k = 0; k < 3; k++) {
    qkv[4 + k][D + Dh] = 1; // k (head 1, dim 0) = is-ENV
    qkv[4 + k][2 * D + Dh + 1 + k] = 1; // v (head 1, dim 1+k) = noun k
  }
  setParam(m, 'transformer.h.1.attn.c_attn.weight', qkv);
  const proj = zeros(D, D);
  for (let k = 0; k < 3; k++) proj[Dh + 1 + k][8 + k] = GAMMA / (A * S);
  setParam(m, 'transformer.h.1.attn.c_proj.weight', proj);
  const head = zeros(V, D);
  NOUNS.forEach((n, k) => (head[VOCAB.indexOf(n + '<LAN>')][8 + k] = 1));
  setParam(m, 'lm_head.weight', head);
  return m;
}

/** The hand computation through the final layer norm. */
function hand(len: number, ablated = false) {
  const pEnv = Math.exp(SCORE) / (Math.exp(SCORE) + len - 1);
  const g = ablated ? 0 : GAMMA * pEnv;
  const mu = g / D;
  const sigma = Math.sqrt((D + g * g) / D - mu * mu + EPS);
  const hi = (g - mu) / sigma; // logit of the copied noun's LAN token
  const lo = -mu / sigma; // logits of the other two LAN tokens (the other 7 tokens: 0)
  const z = Math.exp(hi) + 2 * Math.exp(lo) + (V - 3);
  return { match: Math.log(z) - hi, mismatch: Math.log(z) - lo };
}

test('GPT-2 Transformer with hand-set weights: surprisal, saliency, classification and ablation match the hand computation', async (t) => {
  await initEngine({ log: false });
  const m = gptCopyModel();
  const tok = new ListTokenizer(VOCAB);
  const seqs = evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 2 }), tok);
  const s = await scoreSequences(m, seqs);
  seqs.forEach((q, i) => close(s[i], hand(q.ids.length)[q.condition], 1e-4, `${q.condition} len ${q.ids.length}`));
  const sal = await saliency(m, seqs);
  const copy = sal.heads.find((h) => h.layer === 1 && h.head === 1)!;
  assert.ok(copy.aggregateShare > 0.99, `copy head share ${copy.aggregateShare}`);
  const cls = classifyHeads(sal.heads);
  assert.deepEqual(headSummary(cls, 'aggregate').heads, [{ layer: 1, head: 1 }]);
  const match = seqs.filter((q) => q.condition === 'match');
  const res = await ablationTest(m, match, [{ layer: 1, head: 1 }], { draws: 3 });
  const intact = match.reduce((a, q) => a + hand(q.ids.length).match, 0) / match.length;
  close(res.intact, intact, 1e-4, 'intact');
  close(res.ablated, Math.log(V), 1e-4, 'copy head zeroed');
  close(res.control, intact, 1e-4, 'control heads zeroed');
  assert.ok(res.vsControl.pWilcoxon < 0.01);
  t.diagnostic(`copy head share ${copy.aggregateShare.toFixed(4)}; intact ${res.intact.toFixed(4)} (hand ${intact.toFixed(4)}), zeroed ${res.ablated.toFixed(4)} (hand ${Math.log(V).toFixed(4)}), control ${res.control.toFixed(4)}`);
  m.dispose();
});

// Every registered architecture, and Transformer switches that change what the analyses find
// (saliency kind; layers with a mixing matrix, of 2).
const ANALYSED: Array<{ name: string; arch: Arch; over: Record<string, unknown>; kind: string; mixingLayers: number }> = [
  { name: 'transformer', arch: 'transformer', over: { nHeads: 2, dMlp: 32 }, kind: 'attention', mixingLayers: 2 },
  { name: 'mamba2', arch: 'mamba2', over: { headDim: 8, dState: 8 }, kind: 'ssd', mixingLayers: 2 },
  { name: 'lstm', arch: 'lstm', over: {}, kind: 'input', mixingLayers: 0 },
  { name: 'gru', arch: 'gru', over: {}, kind: 'input', mixingLayers: 0 },
  { name: 'gla', arch: 'gla', over: { nHeads: 2, dMlp: 32 }, kind: 'gla', mixingLayers: 2 },
  { name: 'transformer rope, linear similarity', arch: 'transformer', over: { nHeads: 2, dMlp: 32, positional: 'rope', similarity: 'linear' }, kind: 'attention', mixingLayers: 2 },
  { name: 'transformer mixing none/static', arch: 'transformer', over: { nHeads: 2, dMlp: 32, mixing: 'none/static' }, kind: 'attention', mixingLayers: 1 },
  { name: 'transformer mixing none', arch: 'transformer', over: { nHeads: 2, dMlp: 32, mixing: 'none' }, kind: 'input', mixingLayers: 0 },
];

test('every registered architecture is analysed below', () => {
  assert.deepEqual([...new Set(ANALYSED.map((a) => a.arch))].sort(), [...ARCHS].sort());
});

for (const { name: arch, arch: archName, over, kind, mixingLayers } of ANALYSED) {
  test(`${arch}: lens readout, saliency, ablation and lens run on the real model`, async () => {
    await initEngine({ log: false });
    const m = createModel(modelPreset(archName, 'tiny', V, { dModel: 16, nLayers: 2, contextLength: 16, ...over } as never), 1);
    const tok = new ListTokenizer(VOCAB);
    const seqs = evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 2, mismatchesPerContext: 1 }), tok);
    // warm up (models cache masks per sequence length), then count tensors
    await scoreSequences(m, seqs);
    await lensSurprisal(m, seqs);
    const before = tf.memory().numTensors;
    // the readout of the last residual reproduces the model's logits
    const names = lensPoints(m);
    assert.equal(names.length, 3);
    const tokens = tf.tensor2d([seqs[0].ids], [1, seqs[0].ids.length], 'int32');
    const { logits, cache } = m.runWithCache(tokens, { names });
    const last = selectPositions(cache.get(names[2]), [seqs[0].predPos]);
    const ro = readout(m, last);
    const ref = selectPositions(logits, [seqs[0].predPos]);
    const errT = tf.tidy(() => tf.max(tf.abs(tf.sub(ro, ref))));
    const err = (await errT.data())[0];
    errT.dispose();
    assert.ok(err < 1e-4, `readout error ${err}`);
    [tokens, logits, last, ro, ref].forEach((x) => x.dispose());
    cache.dispose();
    const fast = makeReadout(m);
    assert.equal(fast.kind, "direct", "the final norm and unembedding are recognised");
    fast.dispose();
    const s = await scoreSequences(m, seqs);
    const lens = await lensSurprisal(m, seqs);
    lens[2].surprisal.forEach((v, i) => close(v, s[i], 1e-3, 'last lens layer'));
    const sal = await saliency(m, seqs);
    assert.equal(sal.kind, kind);
    for (const l of sal.layers) assert.ok(l.flowShare >= 0 && l.flowShare <= 1 && l.total > 0, `layer ${l.layer}: ${l.flowShare} ${l.total}`);
    assert.equal(sal.heads.length, mixingLayers * m.nHeads);
    if (mixingLayers === 1) assert.deepEqual(sal.layers.map((l) => l.layer), [1], 'saliency rows keep the true layer number');
    // ablating every head (unit) changes the output; ablating none does not
    const all = allHeads(m);
    const abl = await scoreSequences(m, seqs, { hooks: ablationHooks(m, all) });
    assert.ok(abl.some((v, i) => Math.abs(v - s[i]) > 1e-4));
    const none = await scoreSequences(m, seqs, { hooks: ablationHooks(m, []) });
    none.forEach((v, i) => close(v, s[i], 1e-5, 'no ablation'));
    assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
    m.dispose();
  });
}
