/** Known answers for steering on the hand-built copy-head model (handmodel.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { buildEvalSet, evalSequences } from '../../src/eval';
import { steer, meanActivationDifference } from '../../src/analysis/steering';
import { ListTokenizer, copyModel, VOCAB, NOUNS, FRAMES, V, BETA, GAMMA, Dh } from './handmodel';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const seqsOf = () => evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 2 }), new ListTokenizer(VOCAB));
/** The copy head's logit on the noun it copies, for a context of `len` tokens. */
const g = (len: number) => (GAMMA * Math.exp(BETA / Math.sqrt(Dh))) / (Math.exp(BETA / Math.sqrt(Dh)) + len - 1);
/** Surprisal of a token whose logit is `l` when one other logit is `o` and the rest are 0. */
const surp = (l: number, o = 0) => Math.log(Math.exp(l) + Math.exp(o) + V - 2) - l;

test('steering: scaling the copy head multiplies its logit; 0 ablates it; G follows', async () => {
  await initEngine({ log: false });
  const m = copyModel();
  const seqs = seqsOf();
  const before = tf.memory().numTensors;
  for (const k of [0, 0.5, 2]) {
    const r = await steer(m, seqs, [{ kind: 'scale-head', layer: 1, head: 1, factor: k }], { batchSize: 4 });
    seqs.forEach((q, i) => {
      const l = k * g(q.ids.length);
      close(r.steered[i], q.condition === 'match' ? surp(l) : surp(0, l), 1e-4, `factor ${k} ${q.condition}`);
      close(r.base[i], q.condition === 'match' ? surp(g(q.ids.length)) : surp(0, g(q.ids.length)), 1e-4, 'base');
    });
    if (k === 0) close(r.gain!.steered, 0, 1e-5, 'G with the copy head off');
    if (k === 2) assert.ok(r.gain!.steered > r.gain!.base);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  const off = await steer(m, seqs, [{ kind: 'scale-head', layer: 1, head: 0, factor: 0 }]);
  close(off.meanChange, 0, 1e-6, 'the control head off changes nothing');
  m.dispose();
});

test('steering: adding a residual direction raises that noun\'s logit by alpha at the steered positions only', async () => {
  const m = copyModel();
  const seqs = seqsOf();
  const e = (k: number) => Array.from({ length: 9 }, (_, d) => (d === 5 + k ? 1 : 0)); // the copied-noun dimension of noun k
  const alpha = 1.5;
  for (const positions of ['pred', 'all'] as const) {
    const r = await steer(m, seqs, [{ kind: 'add', hook: 'blocks.1.hook_resid_post', vector: e(0), alpha, positions }]);
    seqs.forEach((q, i) => {
      const c = g(q.ids.length);
      const t = NOUNS.indexOf(q.noun), o = NOUNS.indexOf(q.envNoun);
      // logits: copied noun o gets c; noun 0 gets +alpha
      const logit = (k: number) => (k === o ? c : 0) + (k === 0 ? alpha : 0);
      const Z = NOUNS.reduce((a, _, k) => a + Math.exp(logit(k)), 0) + V - NOUNS.length;
      close(r.steered[i], Math.log(Z) - logit(t), 1e-4, `${positions}: ${q.condition} ${q.noun}`);
    });
  }
  // at position 0 only (never the prediction position here): nothing changes
  const r0 = await steer(m, seqs, [{ kind: 'add', hook: 'blocks.1.hook_resid_post', vector: e(0), alpha, positions: 0 }]);
  close(r0.meanChange, 0, 1e-6, 'steering position 0');
  // a direction from data: mean residual of a-contexts minus b-contexts is the copy head's a - b direction
  const match = seqs.filter((s) => s.condition === 'match');
  const dir = await meanActivationDifference(m, match.filter((s) => s.noun === 'a'), match.filter((s) => s.noun === 'b'), 'blocks.1.hook_resid_post');
  const mg = match.filter((s) => s.noun === 'a').reduce((a, s) => a + g(s.ids.length), 0) / 3;
  close(dir[5], mg, 1e-5, 'a dimension');
  close(dir[6], -mg, 1e-5, 'b dimension');
  for (const d of [0, 1, 2, 3, 4, 7, 8]) close(dir[d], 0, 1e-5, `dimension ${d}`);
  await assert.rejects(steer(m, seqs, [{ kind: 'add', hook: 'blocks.1.hook_resid_post', vector: [1, 2] }]), /has 2 entries, the activation has 9 features/);
  await assert.rejects(steer(m, seqs, [{ kind: 'scale-head', layer: 1, head: 4, factor: 2 }]), /layer 1 has 2 heads, not head 4/);
  await assert.rejects(steer(m, seqs, [{ kind: 'add', hook: 'blocks.9.hook_resid_post', vector: e(0) }]), /not a hook point/);
  m.dispose();
});
