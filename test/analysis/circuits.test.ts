/** circuitsRun over a fake run of hand-built copy-head models: tables, known answers, resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/engine';
import { circuitsRun } from '../../src/analysis/circuits';
import type { Episode } from '../../src/data/types';
import { copyModel, NOUNS, VOCAB, FRAMES, BETA, Dh, GAMMA } from './handmodel';
import { fakeRun } from './runfake';

function episodes(): Episode[] {
  return Array.from({ length: 12 }, (_, i) => ({ id: `e${i}`, turns: [{ speaker: 'f1', env: { situation: [], before: [NOUNS[i % 3] + '<ENV>'], during: [], after: [] }, utterance: ['f2', NOUNS[i % 3] + '<LAN>'] }] }));
}

test('circuitsRun writes path, head, DLA and summary tables per checkpoint and skips what is there', async () => {
  await initEngine({ log: false });
  const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 100: () => copyModel(1), 200: () => copyModel(GAMMA) } });
  const res = await circuitsRun(run, { checkpoints: [200] });
  assert.equal(res.length, 1);
  const s = res[0];
  assert.equal(s.aggregate, 'L1H1');
  assert.equal(s.gather, '');
  assert.equal(s.ga_paths, 0, 'no gather head: no path test');
  assert.ok(s.atp_r > 0.99, `r(AtP, exact) over heads = ${s.atp_r}`);
  const heads = (await run.readTable('analysis/circuit_heads'))!.objects() as Array<Record<string, number>>;
  assert.equal(heads.length, 4);
  const copy = heads.find((h) => h.layer === 1 && h.head === 1)!;
  assert.ok(copy.exact > 1 && heads.filter((h) => h !== copy).every((h) => Math.abs(h.exact) < 1e-5 && Math.abs(h.atp) < 1e-5));
  const paths = (await run.readTable('analysis/circuit_paths'))!.objects() as Array<Record<string, unknown>>;
  const live = paths.find((p) => p.sender === 'L1H1' && p.receiver === 'logits')!;
  assert.ok(Math.abs((live.recovery as number) - 1) < 1e-4);
  const dla = (await run.readTable('analysis/circuit_dla'))!.objects() as Array<Record<string, number | string>>;
  const d = dla.find((r) => r.term === 'L1H1')!;
  const g = (len: number) => (GAMMA * Math.exp(BETA / Math.sqrt(Dh))) / (Math.exp(BETA / Math.sqrt(Dh)) + len - 1);
  // the evaluation set's frames have 3, 5 and 7 tokens, each used equally often
  assert.ok(Math.abs((d.difference as number) - (g(3) + g(5) + g(7)) / 3) < 1e-4, `${d.difference}`);
  run.loads.length = 0;
  const again = await circuitsRun(run, { checkpoints: [200] });
  assert.deepEqual(run.loads, [], 'a stored step loads no model');
  assert.equal(again[0].atp_r, s.atp_r);
  await assert.rejects(circuitsRun(run, { checkpoints: [7] }), /no checkpoint at step 7/);
});
