import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { causalProgram, counterfactual, sampleCounterfactuals, trace } from '../../src/causal/programs';
import { countingSequence } from '../../src/data';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';

const seq = (n: number) => countingSequence({ task: 'multi', objectTypes: 3 }, n, new Rng(n));

test('programs reproduce the task without intervention', () => {
  for (const name of ['up-down', 'up-up', 'context-distribution']) {
    const p = causalProgram(name);
    for (const n of [1, 3, 7]) {
      const s = seq(n);
      const st = trace(p, s.roles);
      const outs = st.slice(s.trigger, -1).map((x) => p.output(x));
      assert.deepEqual(outs, [...Array(n).fill('response'), 'end'], `${name} n=${n}`);
      assert.ok(st.slice(0, s.trigger).every((x) => p.output(x) === null));
    }
  }
  assert.deepEqual(trace(causalProgram('up-down'), seq(2).roles).map((s) => s.count), [0, 1, 2, 2, 1, 0, 0]);
  assert.throws(() => causalProgram('down-up'), (e) => isGroundlabError(e) && /up-down/.test(e.hint ?? ''));
});

test('counterfactuals: Up-Down carries the set count, Up-Up counts to the stored target, Context-Distribution changes one step', () => {
  const b = seq(3); // <bos> o o o trig r r r end ; trigger at 4
  // Up-Down: at the 2nd demo object set count 5: one more object follows, so 6 responses.
  const ud = counterfactual(causalProgram('up-down'), 'multi', b, 2, { count: 5 }, 64)!;
  assert.equal(ud.tokens.filter((t) => t === 'resp').length, 6);
  assert.equal(ud.tokens.at(-1), 'end');
  assert.equal(ud.labels.length, ud.tokens.length - 1);
  assert.ok(ud.labels.slice(0, 4).every((l) => l === null));
  // At the trigger, count 1: one response.
  assert.deepEqual(counterfactual(causalProgram('up-down'), 'multi', b, 4, { count: 1 }, 64)!.tokens.slice(4), ['trig', 'resp', 'end']);
  // Up-Up after the first response: count 0 again, so 3 more responses (4 in all).
  assert.equal(counterfactual(causalProgram('up-up'), 'multi', b, 5, { count: 0 }, 64)!.tokens.filter((t) => t === 'resp').length, 4);
  // Context-Distribution: count 0 at the first response ends at once; count 9 there adds no more than the context allows.
  assert.deepEqual(counterfactual(causalProgram('context-distribution'), 'multi', b, 5, { count: 0 }, 64)!.tokens.slice(4), ['trig', 'resp', 'end']);
  assert.deepEqual(counterfactual(causalProgram('context-distribution'), 'multi', b, 7, { count: 9 }, 64)!.tokens.slice(4), ['trig', 'resp', 'resp', 'resp', 'resp', 'end']);
  // Too long for the context: no counterfactual.
  assert.equal(counterfactual(causalProgram('up-down'), 'multi', b, 4, { count: 60 }, 64), null);
  assert.throws(() => counterfactual(causalProgram('up-down'), 'multi', b, 2, { target: 1 }, 64), (e) => isGroundlabError(e) && /no variable "target"/.test(e.message));
});

test('sampler: seeded, changes the output, labels line up', () => {
  const o = { program: 'up-down' as const, variables: ['count'], task: 'multi' as const, counts: [1, 2, 3, 5, 6], n: 50, seed: 3 };
  const a = sampleCounterfactuals(o);
  assert.equal(JSON.stringify(a), JSON.stringify(sampleCounterfactuals(o)));
  assert.notEqual(JSON.stringify(a), JSON.stringify(sampleCounterfactuals({ ...o, seed: 4 })));
  for (const c of a) {
    assert.ok(c.changed);
    assert.deepEqual(c.tokens.slice(0, c.baseStep + 1), c.base.tokens.slice(0, c.baseStep + 1));
    c.labels.forEach((l, t) => l !== null && assert.equal(l, c.tokens[t + 1]));
    assert.equal(c.values[0], trace(causalProgram('up-down'), c.source.roles)[c.sourceStep].count);
  }
  const capped = sampleCounterfactuals({ ...o, maxResponses: 6 });
  assert.ok(capped.every((c) => c.tokens.filter((t) => t === 'resp').length <= 6));
  assert.ok(a.some((c) => c.tokens.filter((t) => t === 'resp').length > 6), 'without the cap some go beyond');
  const band = sampleCounterfactuals({ ...o, counts: [5, 6, 7], maxResponses: 12, minResponses: 8, n: 10 });
  assert.ok(band.every((c) => { const r = c.tokens.filter((t) => t === 'resp').length; return r >= 8 && r <= 12; }));
  const two = sampleCounterfactuals({ ...o, variables: ['count', 'phase'], n: 10 });
  assert.ok(two.every((c) => c.values.length === 2));
});
