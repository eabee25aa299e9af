/** circuitsRun over a fake run of hand-built copy-head models: tables, known answers, resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import { initEngine } from '../../src/engine';
import { train, openRun } from '../../src/train';
import { circuitsRun } from '../../src/analysis/circuits';
import { analyzeRun, type AnalysisRun } from '../../src/analysis/analyze';
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
  // no head passes the gather threshold: the paths analysis' fallback, the top gather share of layer 0 -> L1H1's q, k, v
  assert.equal(s.ga_paths, 3);
  assert.equal(s.ga_significant, 0, 'layer 0 carries nothing to L1H1');
  const pt = (await run.readTable('analysis/circuit_path_test'))!.objects() as Array<Record<string, unknown>>;
  const direct = pt.find((r) => r.path === 'aggregate->logits' && r.sender === 'L1H1')!;
  assert.ok(Math.abs((direct.recovery as number) - 1) < 1e-4 && Number(direct.p_t) < 1e-6, JSON.stringify(direct));
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

/** The columns of a path_test row that carry numbers, and those that name it. */
const NUM = ['sender_share', 'effect', 'recovery', 'control', 'controls', 'rank', 'p_t', 'p_wilcoxon', 'cohen_dz', 'n'];
const KEY = ['step', 'path', 'sender', 'receiver', 'input', 'rule', 'note'];

/** circuit_path_test (circuitsRun, from its own path patching) against path_test (analyzeRun --only paths): the same rows and numbers. */
async function sameAsPaths(run: AnalysisRun, step: number): Promise<Array<Record<string, unknown>>> {
  // analyzeRun's batches (64) are not circuitsRun's (32)
  await analyzeRun(run, { only: ['paths'], checkpoints: [step] });
  const read = async (name: string) => ((await run.readTable(name))!.objects() as Array<Record<string, unknown>>).filter((r) => Number(r.step) === step);
  const a = await read('analysis/circuit_path_test');
  const b = await read('analysis/path_test');
  assert.deepEqual(
    a.map((r) => KEY.map((k) => r[k])),
    b.map((r) => KEY.map((k) => r[k])),
  );
  a.forEach((r, i) => {
    for (const k of NUM) {
      const x = Number(r[k]),
        y = Number(b[i][k]);
      assert.ok(Number.isNaN(x) ? Number.isNaN(y) : Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)), `${r.path} ${r.sender} -> ${r.receiver} ${k}: ${x} vs ${y}`);
    }
  });
  return a;
}

test('circuitsRun\'s path test is the paths analysis\': the same rows and numbers on the hand-built copy-head run', async () => {
  await initEngine({ log: false });
  const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 200: () => copyModel(GAMMA) } });
  await circuitsRun(run, { checkpoints: [200] });
  const rows = await sameAsPaths(run, 200);
  assert.deepEqual(
    rows.map((r) => `${r.path} ${r.sender} -> ${r.receiver}`),
    ['gather->aggregate L0H0 -> L1H1.q', 'gather->aggregate L0H0 -> L1H1.k', 'gather->aggregate L0H0 -> L1H1.v', 'aggregate->logits L1H1 -> logits'],
  );
});

test('circuitsRun\'s path test is the paths analysis\' on a tiny trained Transformer: embed, gather, MLP and logit paths, the same numbers', async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine({ log: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-circuits-paths-'));
  const out = path.join(dir, 'run');
  await train({ out, arch: 'transformer', preset: 'tiny', model: { nLayers: 3, nHeads: 4 }, log: false });
  const run = await openRun(out);
  const step = run.checkpoints.at(-1)!.step;
  // one context per noun (60 pairs); the shares are measured, the classes declared (no head of a
  // 30-step model passes the thresholds): L0H3 and L1H3 aggregate, L0H0 gather
  await analyzeRun(run, { only: ['heads'], checkpoints: [step], evalSet: { contextsPerNoun: 1, mismatchesPerContext: 1 } });
  const heads = ((await run.readTable('analysis/heads'))!.objects() as Array<Record<string, unknown>>).map((r) => ({
    ...r,
    aggregate: (r.layer === 0 || r.layer === 1) && r.head === 3,
    gather: r.layer === 0 && r.head === 0,
  }));
  await run.writeTable('analysis/heads', aq.from(heads));
  const [s] = await circuitsRun(run, { checkpoints: [step] });
  assert.equal(s.pairs, 60);
  assert.equal(s.aggregate, 'L0H3 L1H3');
  const rows = await sameAsPaths(run, step);
  assert.deepEqual(
    rows.map((r) => `${r.path} ${r.sender} -> ${r.receiver}${r.note ? ` (${r.note})` : ''}`),
    [
      'gather->aggregate  -> L0H3 (the aggregate head is in layer 0: no head precedes it (it reads the embeddings))',
      ...['q', 'k', 'v'].map((i) => `embed->aggregate embed -> L0H3.${i}`),
      ...[0, 1, 2].map((l) => `aggregate->mlp L0H3 -> L${l}.mlp`),
      'aggregate->logits L0H3 -> logits',
      ...['q', 'k', 'v'].map((i) => `gather->aggregate L0H0 -> L1H3.${i}`),
      ...[1, 2].map((l) => `aggregate->mlp L1H3 -> L${l}.mlp`),
      'aggregate->logits L1H3 -> logits',
    ],
  );
  // a 30-step model hardly reads the ENV token (effects 1e-8 to 1e-4 nats), but the tests are real ones
  assert.ok(rows.filter((r) => Math.abs(Number(r.effect)) > 1e-6).length >= 5, 'effects that are not all 0');
  assert.ok(rows.filter((r) => !r.note).every((r) => Number(r.p_t) > 0 && Number(r.p_t) <= 1), 'a p value for every test');
  assert.equal(s.ga_paths, 3);
  assert.equal(s.tests, 13);
  fs.rmSync(dir, { recursive: true, force: true });
});
