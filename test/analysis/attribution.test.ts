/** Known answers for attribution patching on the hand-built copy-head model (handmodel.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { buildEvalSet, evalSequences } from '../../src/eval';
import { attributionPatching } from '../../src/analysis/attribution';
import { activationPatching } from '../../src/analysis/patching';
import { ListTokenizer, copyModel, VOCAB, NOUNS, FRAMES, V, BETA, GAMMA, Dh } from './handmodel';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('attribution patching of the copy head equals the hand-computed first-order effect; other sites get 0', async (t) => {
  await initEngine({ log: false });
  const m = copyModel();
  const seqs = evalSequences(buildEvalSet(NOUNS, FRAMES, { contextsPerNoun: 3, mismatchesPerContext: 1 }), new ListTokenizer(VOCAB));
  const match = seqs.filter((q) => q.condition === 'match');
  const pairs = match.map((q) => ({ clean: q.ids, corrupted: seqs.find((r) => r.item === q.item && r.condition === 'mismatch')!.ids, target: q.target, marks: { env: q.envPos } }));
  // d log p_n / d logits at the corrupted run, times the change of the logits: +g on n<LAN>, -g on m<LAN>
  const hand = match.map((q) => {
    const s = BETA / Math.sqrt(Dh);
    const g = (GAMMA * Math.exp(s)) / (Math.exp(s) + q.ids.length - 1);
    const Z = Math.exp(g) + V - 1;
    return g * (1 - 1 / Z + Math.exp(g) / Z);
  });
  const before = tf.memory().numTensors;
  const res = await attributionPatching(m, pairs, { hooks: ['blocks.1.attn.hook_z', 'blocks.0.attn.hook_z', 'blocks.1.attn.hook_pattern'], positions: ['all', 'last', 'env'], perHead: true, batchSize: 2 });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  const get = (hook: string, pos: string, head: number) => res.find((r) => r.hook === hook && r.position === pos && r.head === head)!;
  for (const pos of ['all', 'last']) {
    for (const head of [-1, 1]) get('blocks.1.attn.hook_z', pos, head).attributions.forEach((a, i) => close(a, hand[i], 1e-4, `z ${pos} head ${head} pair ${i}`));
    close(get('blocks.1.attn.hook_z', pos, 0).attribution, 0, 1e-7, `control head at ${pos}`);
  }
  close(get('blocks.1.attn.hook_z', 'env', -1).attribution, 0, 1e-7, 'z at ENV (no gradient reaches it)');
  for (const pos of ['all', 'last', 'env']) close(get('blocks.0.attn.hook_z', pos, -1).attribution, 0, 1e-7, `layer 0 at ${pos}`);
  // the pattern does not change between clean and corrupted here (ENV at the same place)
  close(get('blocks.1.attn.hook_pattern', 'all', -1).attribution, 0, 1e-7, 'pattern');
  // against exact patching: same sign, and the first-order estimate overshoots a saturating log-probability
  const exact = await activationPatching(m, pairs, { hooks: ['blocks.1.attn.hook_z'], positions: ['last'], head: 1 });
  const atp = get('blocks.1.attn.hook_z', 'last', 1);
  const exactEffect = exact[0].corrupted - exact[0].patched;
  assert.ok(atp.attribution > exactEffect && exactEffect > 0);
  close(atp.recoveryOfMeans, atp.attribution / (atp.corrupted - atp.clean), 1e-9, 'recovery of means');
  t.diagnostic(`copy head at the last position: AtP ${atp.attribution.toFixed(4)} nats (hand ${(hand.reduce((a, b) => a + b) / hand.length).toFixed(4)}), exact patching ${exactEffect.toFixed(4)} nats`);
  await assert.rejects(attributionPatching(m, pairs, { hooks: ['blocks.1.hook_nope'] }), /not a hook point/);
  await assert.rejects(attributionPatching(m, pairs, { hooks: ['blocks.1.attn.hook_z'], positions: ['subject'] }), /"subject" is not marked/);
  m.dispose();
});

test('attribution patching at every hook point of a tiny GPT-2 Transformer: finite everywhere, 0 where nothing changes, the sign of exact patching at the last residual', async () => {
  const { createModel, modelPreset } = await import('../../src/models');
  const m = createModel(modelPreset('transformer', 'tiny', 20), 4);
  const pairs = [0, 1, 2].map((k) => ({ clean: [1, 2 + k, 3, 4], corrupted: [1, 9 + k, 3, 4], target: 5 + k }));
  const hooks = m.hookPoints();
  const res = await attributionPatching(m, pairs, { hooks, perHead: true, positions: ['all', 'last'] });
  assert.ok(res.length >= hooks.length * 2);
  for (const r of res) assert.ok(Number.isFinite(r.attribution), `${r.hook} ${r.position} ${r.head}`);
  // position 0 is the same token in clean and corrupted: nothing upstream of it changes
  const at0 = await attributionPatching(m, pairs, { hooks: ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_post'], positions: [0] });
  for (const r of at0) close(r.attribution, 0, 1e-9, `${r.hook} at position 0`);
  // the residual stream after the last block at the last position: same sign as exact patching
  const exact = await activationPatching(m, pairs, { hooks: ['blocks.1.hook_resid_post'], positions: ['last'] });
  const atp = res.find((r) => r.hook === 'blocks.1.hook_resid_post' && r.position === 'last' && r.head === -1)!;
  assert.ok(Math.sign(atp.attribution) === Math.sign(exact[0].corrupted - exact[0].patched));
  m.dispose();
});
