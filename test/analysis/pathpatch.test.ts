/**
 * Known answers for path patching, edge attribution, attention-pattern patching and
 * cross-checkpoint patching on hand-built Transformers (handmodel.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { buildEvalSet, evalSequences, scoreSequences } from '../../src/eval';
import { activationPatching } from '../../src/analysis/patching';
import { pathPatching, patternPatching, crossCheckpointPatching, components, receivers, pathTest, receiverName } from '../../src/analysis/pathpatch';
import { HandTransformer, ListTokenizer, copyModel, VOCAB, NOUNS, FRAMES, V, BETA, GAMMA, Dh } from './handmodel';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const id = (t: string) => VOCAB.indexOf(t);
const mat = (r: number, c: number) => Array.from({ length: r }, () => new Array(c).fill(0));

/**
 * A planted two-head path. dims: 0..2 ENV noun, 3 is-ENV, 4 constant, 5..7 gathered noun, 8 flag
 * "an ENV token is behind me", 9..11 aggregated noun (read by the unembedding), 12 junk.
 * L0H0 (gather): attends to the ENV token, writes its noun into 5..7 and the flag into 8.
 * L1H1 (aggregate): keys = flag, values = gathered noun -> 9..11. L0H1, L1H0: controls (junk).
 */
function pathModel(): HandTransformer {
  const D = 13;
  const m = new HandTransformer({ arch: 'transformer', vocabSize: V, contextLength: 16, dModel: D, nLayers: 2, nHeads: 2, dHead: Dh, envFeatureDim: 0, finalNorm: false });
  m.set('W_E', VOCAB.map((t) => {
    const r = new Array(D).fill(0);
    r[4] = 1;
    if (t.endsWith('<ENV>')) {
      r[NOUNS.indexOf(t[0])] = 1;
      r[3] = 1;
    }
    return r;
  }));
  for (let l = 0; l < 2; l++) {
    const WQ = mat(D, 2 * Dh), WK = mat(D, 2 * Dh), WV = mat(D, 2 * Dh), WO = mat(2 * Dh, D);
    const live = l === 0 ? 0 : 1; // the path's head in this layer
    const c = 1 - live; // the control head
    WQ[4][live * Dh] = BETA;
    WK[l === 0 ? 3 : 8][live * Dh] = 1;
    if (l === 0) {
      WV[3][0] = 1;
      WO[0][8] = 1;
    }
    for (let k = 0; k < 3; k++) {
      WV[l === 0 ? k : 5 + k][live * Dh + 1 + k] = 1;
      WO[live * Dh + 1 + k][l === 0 ? 5 + k : 9 + k] = l === 0 ? 1 : GAMMA;
    }
    WV[4][c * Dh] = 1;
    WO[c * Dh][12] = 1;
    m.set(`blocks.${l}.W_Q`, WQ);
    m.set(`blocks.${l}.W_K`, WK);
    m.set(`blocks.${l}.W_V`, WV);
    m.set(`blocks.${l}.W_O`, WO);
  }
  const WU = mat(D, V);
  for (let k = 0; k < 3; k++) WU[9 + k][id(NOUNS[k] + '<LAN>')] = 1;
  m.set('W_U', WU);
  return m;
}

function pairsOf(model: HandTransformer) {
  const tok = new ListTokenizer(VOCAB);
  const seqs = evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 1 }), tok);
  void model;
  return seqs
    .filter((q) => q.condition === 'match')
    .map((q) => ({ clean: q.ids, corrupted: seqs.find((r) => r.item === q.item && r.condition === 'mismatch')!.ids, target: q.target, marks: { env: q.envPos } }));
}

test('path patching: effect 1 on the planted gather -> aggregate path (values), 0 on every other path; edge attribution 0 where the path is cut', async (t) => {
  await initEngine({ log: false });
  const m = pathModel();
  const pairs = pairsOf(m);
  assert.deepEqual(components(m).map((c) => c.name), ['L0H0', 'L0H1', 'L1H0', 'L1H1']);
  assert.equal(receivers(m).length, 2 * 2 * 3 + 1);
  const before = tf.memory().numTensors;
  const res = await pathPatching(m, pairs, { attribution: true, batchSize: 4 });
  assert.equal(tf.memory().numTensors, before, 'path patching leaks no tensors');
  // 2 senders in layer 0 x (6 receivers of layer 1 + logits) + 2 senders of layer 1 x logits
  assert.equal(res.length, 2 * 7 + 2);
  const get = (s: string, r: string) => res.find((x) => x.sender === s && x.receiver === r)!;
  assert.ok(res[0].corrupted - res[0].clean > 1, `clean and corrupted differ (${res[0].clean} vs ${res[0].corrupted})`);
  close(get('L0H0', 'L1H1.v').recovery, 1, 1e-4, 'gather -> aggregate values');
  close(get('L1H1', 'logits').recovery, 1, 1e-4, 'aggregate -> logits');
  for (const r of res) {
    if ((r.sender === 'L0H0' && r.receiver === 'L1H1.v') || (r.sender === 'L1H1' && r.receiver === 'logits')) continue;
    close(r.effect, 0, 1e-5, `${r.sender} -> ${r.receiver}`);
    close(r.attribution!, 0, 1e-5, `attribution ${r.sender} -> ${r.receiver}`);
  }
  // the path's effect equals activation patching of the sender (it is the sender's only path)
  const ap = await activationPatching(m, pairs, { hooks: ['blocks.0.attn.hook_z'], positions: ['all'], head: 0 });
  close(ap[0].recovery, 1, 1e-4, 'activation patching of the gather head');
  // edge attribution: right sign and size on the live edges (the gradient is taken at the corrupted run)
  for (const [s, r] of [['L0H0', 'L1H1.v'], ['L1H1', 'logits']]) {
    const x = get(s, r);
    assert.ok(x.attribution! > 0.3 * x.effect && x.attribution! < 3 * x.effect, `${s} -> ${r}: attribution ${x.attribution} vs effect ${x.effect}`);
  }
  const live = get('L0H0', 'L1H1.v');
  t.diagnostic(`clean ${live.clean.toFixed(4)}, corrupted ${live.corrupted.toFixed(4)} nats; L0H0 -> L1H1.v recovery ${live.recovery.toFixed(6)} (edge attribution ${live.attribution!.toFixed(4)} vs effect ${live.effect.toFixed(4)} nats); L1H1 -> logits ${get('L1H1', 'logits').recovery.toFixed(6)}; largest other |effect| ${Math.max(...res.filter((r) => r !== live && r.receiver !== 'logits').map((r) => Math.abs(r.effect))).toExponential(1)}`);
  m.dispose();
});

test('path patching: bad senders and receivers are refused by name', async () => {
  const m = pathModel();
  const pairs = pairsOf(m);
  await assert.rejects(pathPatching(m, pairs, { senders: ['L3H0'] }), /no component L3H0/);
  await assert.rejects(pathPatching(m, pairs, { senders: ['L1H0'], receivers: [{ layer: 0, head: 0, input: 'q' }] }), /no receiver lies after/);
  await assert.rejects(pathPatching(m, pairs, { receivers: [{ layer: 1, head: 5, input: 'v' }] }), /layer 1 has 2 heads/);
  await assert.rejects(pathPatching(m, [{ clean: [1, 2], corrupted: [1], target: 3 }]), /pair 0 has clean and corrupted prompts of different lengths/);
  m.dispose();
});

test('attention-pattern patching of the copying head recovers the clean output exactly; other heads recover nothing', async () => {
  const m = copyModel();
  // LAN tokens carry their noun too (dims 0..2), so values agree between clean and corrupted and only the pattern differs
  const W = (await m.params.get('W_E')!.array()) as number[][];
  NOUNS.forEach((n, k) => (W[id(n + '<LAN>')][k] = 1));
  m.set('W_E', W);
  const pairs = [
    { clean: ['f1', 'a<ENV>', 'f2', 'b<LAN>', 'f3'], corrupted: ['f1', 'a<LAN>', 'f2', 'b<ENV>', 'f3'], target: 'a<LAN>' },
    { clean: ['c<ENV>', 'f2', 'a<LAN>'], corrupted: ['c<LAN>', 'f2', 'a<ENV>'], target: 'c<LAN>' },
    { clean: ['f3', 'b<LAN>', 'f1', 'f2', 'c<ENV>', 'f1'], corrupted: ['f3', 'b<ENV>', 'f1', 'f2', 'c<LAN>', 'f1'], target: 'c<LAN>' },
  ].map((p) => ({ clean: p.clean.map(id), corrupted: p.corrupted.map(id), target: id(p.target) }));
  const res = await patternPatching(m, pairs, { batchSize: 2 });
  assert.equal(res.length, 4);
  const copy = res.find((r) => r.layer === 1 && r.head === 1)!;
  assert.ok(copy.corrupted - copy.clean > 2, `corrupted ${copy.corrupted} vs clean ${copy.clean}`);
  close(copy.patched, copy.clean, 1e-5, 'patched = clean');
  close(copy.recovery, 1, 1e-5, 'recovery');
  for (const r of res) if (r !== copy) close(r.effect, 0, 1e-6, `head ${r.layer}.${r.head}`);
  await assert.rejects(patternPatching(m, pairs, { heads: [{ layer: 1, head: 2 }] }), /layer 1 has 2 heads, not head 2/);
  m.dispose();
});

test('cross-checkpoint patching: the late copy head\'s pattern (or output) in an early model that has not learned where to look gives the late model\'s surprisal', async () => {
  const late = copyModel();
  const early = copyModel();
  const WQ = (await early.params.get('blocks.1.W_Q')!.array()) as number[][];
  WQ[4][Dh] = 0; // the copy head attends uniformly: it has not learned to find v<ENV>
  early.set('blocks.1.W_Q', WQ);
  const seqs = evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 2 }), new ListTokenizer(VOCAB));
  const sLate = await scoreSequences(late, seqs);
  const sEarly = await scoreSequences(early, seqs);
  seqs.forEach((q, i) => {
    const g = GAMMA / q.ids.length; // uniform attention: p(ENV) = 1 / len
    close(sEarly[i], q.condition === 'match' ? Math.log(Math.exp(g) + V - 1) - g : Math.log(Math.exp(g) + V - 1), 1e-4, `early ${q.condition} hand value`);
  });
  const res = await crossCheckpointPatching(late, early, seqs, [
    { hook: 'blocks.1.attn.hook_pattern', head: 1 },
    { hook: 'blocks.1.attn.hook_pattern', head: 0 },
    { hook: 'blocks.1.attn.hook_z', head: 1 },
    { hook: 'blocks.0.attn.hook_z' },
  ], { batchSize: 5 });
  close(res[0].recoveryOfMeans, 1, 1e-5, 'copy head pattern');
  res[0].surprisal.forEach((s, i) => close(s, sLate[i], 1e-5, `seq ${i}`));
  close(res[0].gain!.patched, res[0].gain!.source, 1e-5, 'G patched = G late');
  assert.ok(res[0].gain!.source - res[0].gain!.target > 1, `G late ${res[0].gain!.source} vs early ${res[0].gain!.target}`);
  close(res[1].recoveryOfMeans, 0, 1e-6, 'other head of layer 1');
  close(res[2].recoveryOfMeans, 1, 1e-5, 'copy head output');
  close(res[3].recoveryOfMeans, 0, 1e-6, 'layer 0 (the same in both)');
  await assert.rejects(crossCheckpointPatching(late, early, seqs, [{ hook: 'blocks.7.hook_z' }]), /has no hook point blocks.7.hook_z/);
  late.dispose();
  early.dispose();
});

test('path patching on a tiny GPT-2 Transformer: MLP receivers; with the MLPs switched off, paths into them are 0 and a last-layer head\'s direct path is its activation patching', async () => {
  const { createModel, modelPreset } = await import('../../src/models');
  const m = createModel(modelPreset('transformer', 'tiny', 20), 3);
  const pairs = [0, 1, 2, 3, 4, 5].map((k) => ({ clean: [1, 2 + k, 3, 4, 5], corrupted: [1, 9 + k, 3, 4, 5], target: 6 + (k % 3) }));
  const senders = ['L0H0', 'L1H1'];
  const recvs = [{ layer: 1, input: 'mlp' as const }, { layer: 1, head: 0, input: 'v' as const }, { input: 'logits' as const }];
  const on = await pathPatching(m, pairs, { senders, receivers: recvs, attribution: true });
  assert.deepEqual(on.map((r) => `${r.sender}>${r.receiver}`), ['L0H0>L1.mlp', 'L0H0>L1H0.v', 'L0H0>logits', 'L1H1>L1.mlp', 'L1H1>logits']);
  assert.ok(Math.abs(on[3].effect) > 1e-6, `L1H1 -> L1.mlp is live while the MLP is on (${on[3].effect})`);
  for (const l of [0, 1]) for (const w of ['weight', 'bias']) m.params.get(`transformer.h.${l}.mlp.c_proj.${w}`)!.assign(tf.zerosLike(m.params.get(`transformer.h.${l}.mlp.c_proj.${w}`)!));
  const off = await pathPatching(m, pairs, { senders, receivers: recvs, attribution: true });
  for (const r of off.filter((x) => x.input === 'mlp')) {
    close(r.effect, 0, 1e-6, `${r.sender} -> ${r.receiver}`);
    close(r.attribution!, 0, 1e-6, `EAP ${r.sender} -> ${r.receiver}`);
  }
  const ap = await activationPatching(m, pairs, { hooks: ['blocks.1.attn.hook_z'], positions: ['all'], head: 1 });
  close(off[4].patched, ap[0].patched, 1e-5, 'L1H1 -> logits = activation patching of L1H1');
  m.dispose();
});

test('path test: the planted gather -> aggregate path against control paths, paired over prompts', async () => {
  await initEngine({ log: false });
  const m = pathModel();
  const pairs = pairsOf(m);
  const r = await pathTest(m, pairs, ['L0H0'], [{ layer: 1, head: 1 }]);
  assert.deepEqual(r.tested.map((p) => p.receiver), ['L1H1.q', 'L1H1.k', 'L1H1.v']);
  assert.deepEqual([...new Set(r.controls.map((p) => p.sender))], ['L0H1']);
  // the mean over q, k, v: v carries everything, so a third of the corrupted - clean gap
  r.effect.forEach((e, i) => close(e, r.tested[2].effects[i] / 3, 1e-6, `pair ${i}`));
  r.control.forEach((e, i) => close(e, 0, 1e-6, `control ${i}`));
  assert.equal(r.ranks[2], 1, 'the value path ranks first among the paths into L1H1.v');
  assert.ok(r.test.pT < 1e-6 && r.test.pWilcoxon < 0.01 && r.test.meanDiff > 1, JSON.stringify(r.test));
  await assert.rejects(pathTest(m, pairs, ['L1H1'], [{ layer: 1, head: 0 }]), /no tested receiver lies after a tested sender/);
  m.dispose();
});

test('the paths analysis: plans gather -> aggregate (q, k, v), aggregate -> MLP and -> logits tests by its rules, and finds the planted path against controls', async () => {
  const { planPathTests, pathTestRow } = await import('../../src/analysis/analyses/paths');
  await initEngine({ log: false });
  const m = pathModel();
  const pairs = pairsOf(m);
  const hc = (layer: number, head: number, g: number, a: number, gather = false, aggregate = false) => ({ layer, head, gatherShare: g, aggregateShare: a, gather, aggregate });
  const has = { layers: 2, qkv: () => true, mlp: () => false };
  // no head passes the gather threshold: the top gather share of layer 0 (L0H0) is the sender
  const heads = [hc(0, 0, 0.2, 0), hc(0, 1, 0.05, 0), hc(1, 0, 0, 0.01), hc(1, 1, 0, 0.6, false, true)];
  const { planned, notes } = planPathTests(heads, has);
  assert.deepEqual(notes, []);
  assert.deepEqual(
    planned.map((p) => `${p.path} ${p.sender} ${p.rule}`),
    [...Array(3).fill('gather->aggregate L0H0 top gather share of layer 0'), 'aggregate->logits L1H1 aggregate head'],
  );
  const all = await pathPatching(m, pairs, { senders: ['L0H0', 'L0H1', 'L1H0', 'L1H1'], receivers: [...new Map(planned.map((p) => [JSON.stringify(p.receiver), p.receiver])).values()] });
  const rows = planned.map((p) => pathTestRow(all, p));
  const gap = all[0].corrupted - all[0].clean;
  const [q, k, v, direct] = rows;
  close(Number(v.effect), gap, 1e-4, 'L0H0 -> L1H1.v carries the whole gap');
  close(Number(v.recovery), 1, 1e-4, 'recovery of the value path');
  for (const r of [q, k]) close(Number(r.effect), 0, 1e-5, `${r.receiver}`);
  assert.deepEqual([v.controls, v.rank, q.rank], [1, 1, 1]); // the one control (L0H1) is 0 too: q ties rank 1
  close(Number(v.control), 0, 1e-6, 'control paths into L1H1.v');
  assert.ok(Number(v.p_t) < 1e-6 && Number(v.p_wilcoxon) < 0.01, `p of the value path: ${v.p_t}, ${v.p_wilcoxon}`);
  assert.ok(!(Number(q.p_t) < 0.05), `the query path is not significant: p ${q.p_t}`);
  close(Number(direct.effect), gap, 1e-4, 'L1H1 -> logits (its direct path)');
  assert.equal(direct.controls, 3);
  // a gather head that passes the threshold is the sender instead; an aggregate head in layer 0 gets a note
  const p2 = planPathTests([hc(0, 0, 0.4, 0, true), hc(0, 1, 0.05, 0.5, false, true), hc(1, 0, 0, 0), hc(1, 1, 0, 0.6, false, true)], { ...has, mlp: (l: number) => l === 1 });
  assert.deepEqual(p2.notes.map((n) => n.receiver), ['L0H1']);
  assert.match(String(p2.notes[0].note), /layer 0: no head precedes it/);
  assert.deepEqual(
    p2.planned.map((p) => `${p.path} ${p.sender} ${p.rule}`),
    ['aggregate->mlp L0H1 aggregate head', 'aggregate->logits L0H1 aggregate head', ...Array(3).fill('gather->aggregate L0H0 gather threshold'), 'aggregate->mlp L1H1 aggregate head', 'aggregate->logits L1H1 aggregate head'],
  );
  // controls leave the tested role out (the senders and every aggregate head): into L1H1.v no head is left, so the row is a note
  assert.deepEqual([...p2.planned[2].exclude].sort(), ['L0H0', 'L0H1', 'L1H1']);
  assert.match(String(pathTestRow(all, p2.planned[2]).note), /no control head precedes the receiver/);
  assert.deepEqual(planPathTests([hc(0, 0, 0.1, 0)], has).notes.map((n) => n.note), ['no aggregate head at this checkpoint']);
  m.dispose();
});

test('the paths analysis: a layer-0 aggregate head is tested for what it reads from the token embedding (q, k, v) against the same input of the layer\'s other heads', async () => {
  const { planPathTests, runPlanned } = await import('../../src/analysis/analyses/paths');
  await initEngine({ log: false });
  const m = pathModel();
  const pairs = pairsOf(m);
  const hc = (layer: number, head: number, a: number, aggregate = false) => ({ layer, head, gatherShare: 0, aggregateShare: a, gather: false, aggregate });
  // L0H0 reads the ENV noun (dims 0..2 of the embedding) through its values; its keys read the is-ENV flag, its queries a constant
  const heads = [hc(0, 0, 0.5, true), hc(0, 1, 0), hc(1, 0, 0), hc(1, 1, 0)];
  const { planned, notes } = planPathTests(heads, { layers: 2, qkv: () => true, mlp: () => false, embed: true });
  assert.match(String(notes[0].note), /layer 0: no head precedes it/);
  assert.deepEqual(planned.map((p) => `${p.path} ${p.sender} -> ${receiverName(p.receiver)} vs ${(p.receivers ?? []).map(receiverName).join(' ')}`), [
    'embed->aggregate embed -> L0H0.q vs L0H1.q',
    'embed->aggregate embed -> L0H0.k vs L0H1.k',
    'embed->aggregate embed -> L0H0.v vs L0H1.v',
    'aggregate->logits L0H0 -> logits vs ',
  ]);
  const before = tf.memory().numTensors;
  const [q, k, v, direct] = await runPlanned(m, pairs, heads, planned, { batchSize: 4 });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  close(Number(v.recovery), 1, 1e-4, 'embed -> L0H0.v carries the whole gap');
  for (const r of [q, k]) close(Number(r.effect), 0, 1e-5, `embed -> ${r.receiver}`);
  close(Number(v.control), 0, 1e-6, 'embed -> L0H1.v (the control head reads a constant)');
  assert.deepEqual([v.rank, v.controls], [1, 1]);
  assert.ok(Number(v.p_t) < 1e-6, `p ${v.p_t}`);
  // L0H0 writes into dims the unembedding does not read: its direct path is 0
  close(Number(direct.effect), 0, 1e-5, 'L0H0 -> logits');
  // the embedding as a sender by name: its direct path is 0 (the unembedding reads dims it does not write)
  const [e] = await pathPatching(m, pairs, { senders: ['embed'], receivers: [{ input: 'logits' }] });
  assert.deepEqual([e.sender, e.senderKind, e.senderLayer], ['embed', 'embed', -1]);
  close(e.effect, 0, 1e-5, 'embed -> logits');
  m.dispose();
});
