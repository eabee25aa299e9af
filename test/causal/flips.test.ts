import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { countingTokenizer } from '../../src/data';
import { sampleFlips } from '../../src/causal/programs';
import { encodeFlips, evaluateFlips, identitySubspace, padIdOf } from '../../src/causal/das';
import { plantedCounter } from '../../src/causal/toy';
import { isGroundlabError } from '../../src/errors';

const tok = countingTokenizer({ task: 'multi', objectTypes: 3 });
const pad = padIdOf(tok);

test('phase-flip sequences: the format, the flips and the labels follow the program', () => {
  const fs = sampleFlips({ program: 'up-down', task: 'multi', rounds: 3, demoCounts: [1, 2, 3, 4, 5], n: 50, seed: 0 });
  assert.equal(fs.length, 50);
  for (const f of fs) {
    assert.equal(f.rounds.length, 3);
    assert.equal(f.interventions.length, 2);
    assert.equal(f.tokens.filter((t) => t === 'trig').length, 3);
    assert.equal(f.tokens.at(-1), 'end');
    assert.equal(f.labels.length, f.tokens.length - 1);
    // Up-Down with the count kept: the last round answers every demo object not yet answered.
    const demo = f.rounds.reduce((a, r) => a + r.demo, 0);
    const answered = f.rounds.slice(0, -1).reduce((a, r) => a + r.responses, 0);
    assert.equal(f.rounds.at(-1)!.responses, demo - answered);
    // Each flip follows the round's last response (or its trigger) and precedes a demo object; the source is read at its c-th demo object.
    for (const i of f.interventions) {
      assert.ok(['resp', 'trig'].includes(f.tokens[i.step]) && /^obj/.test(f.tokens[i.step + 1]));
      assert.deepEqual(i.values, [i.sourceStep, 0]);
      assert.equal(f.labels[i.step], null);
    }
    // Scored: exactly the positions followed by a response or the end.
    f.labels.forEach((l, t) => assert.equal(l, ['resp', 'end'].includes(f.tokens[t + 1]) ? f.tokens[t + 1] : null));
  }
  // Up-Up counts to the stored target: after a kept flip (count = responses so far) the next round answers responses + demo objects.
  const uu = sampleFlips({ program: 'up-up', task: 'multi', rounds: 2, demoCounts: [2, 3, 4], n: 20, seed: 1 });
  for (const f of uu) assert.equal(f.rounds[1].responses, f.rounds[0].responses + f.rounds[1].demo);
  // The same seed draws the same sequences.
  assert.deepEqual(sampleFlips({ program: 'up-down', task: 'multi', rounds: 3, demoCounts: [1, 2, 3, 4, 5], n: 50, seed: 0 }), fs);
  assert.throws(() => sampleFlips({ program: 'up-down', task: 'multi', rounds: 1, demoCounts: [2], n: 1, seed: 0 }), (e) => isGroundlabError(e) && /2 rounds/.test(e.message));
  assert.throws(() => sampleFlips({ program: 'up-down', task: 'multi', rounds: 6, demoCounts: [18], n: 4, seed: 0 }), (e) => isGroundlabError(e) && /could not draw/.test(e.message));
});

test('known answer: the planted counter follows Up-Down through repeated flips; interventions on its count direction set the count', async () => {
  await initEngine({ log: false });
  const D = 12;
  const model = plantedCounter(tok, { task: 'multi', dim: D, seed: 7, sharpness: 2 });
  const u = Float32Array.from(model.u);
  const zero = new Float32Array(D);
  const before = tf.memory().numTensors;
  const iia = async (f: ReturnType<typeof sampleFlips>, w: Float32Array, k: number) => (await evaluateFlips(model, encodeFlips(f, tok), w, k, { padId: pad })).iia;
  for (const rounds of [2, 3]) {
    const keep = sampleFlips({ program: 'up-down', task: 'multi', rounds, demoCounts: [1, 2, 3, 4], maxCount: 6, n: 100, seed: rounds });
    const src = sampleFlips({ program: 'up-down', task: 'multi', rounds, demoCounts: [1, 2, 3, 4], count: 'source', counts: [1, 2, 3, 4, 5, 6], maxCount: 6, n: 100, seed: rounds });
    const upUp = sampleFlips({ program: 'up-up', task: 'multi', rounds, demoCounts: [1, 2, 3, 4], maxCount: 6, n: 100, seed: rounds });
    const r = {
      keepNone: await iia(keep, zero, 1),
      keepU: await iia(keep, u, 1),
      srcU: await iia(src, u, 1),
      srcNone: await iia(src, zero, 1),
      srcNeuron: await iia(src, identitySubspace(D, 1), 1),
      upUpNone: await iia(upUp, zero, 1),
    };
    console.log(`# rounds ${rounds}: ${Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
    assert.equal(r.keepNone, 1, 'the counter needs no flip to keep counting');
    assert.equal(r.keepU, 1);
    assert.equal(r.srcU, 1, 'setting u . h sets the count');
    assert.ok(r.srcNone <= 0.4 && r.srcNeuron <= 0.4, `without the count direction the set count is lost: ${r.srcNone}, ${r.srcNeuron}`);
    assert.ok(r.upUpNone <= 0.4, `an Up-Down machine is not Up-Up: ${r.upUpNone}`);
  }
  assert.equal(tf.memory().numTensors, before, 'evaluateFlips leaks no tensors');
  const one = sampleFlips({ program: 'up-down', task: 'multi', rounds: 2, demoCounts: [2], n: 1, seed: 0 });
  const two = sampleFlips({ program: 'up-down', task: 'multi', rounds: 3, demoCounts: [2], n: 1, seed: 0 });
  await assert.rejects(evaluateFlips(model, encodeFlips([...one, ...two], tok), u, 1, { padId: pad }), (e) => isGroundlabError(e) && /same number of flips/.test(e.message));
  model.dispose();
});
