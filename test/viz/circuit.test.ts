/** The circuit graph's producer: known answers from a traced hand-built copy-head run, the payload contract, bad input, budget, fallback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../../src/engine';
import { circuitsRun } from '../../src/analysis/circuits';
import { CIRCUIT_MIME, circuitGraph, circuitGraphBundle, circuitGraphData, circuitGraphPayload, type CircuitGraphData } from '../../src/viz/circuit';
import { isGroundlabError } from '../../src/errors';
import { significantPath } from '../../src/analysis/analyses/paths';
import { validate, unsupportedKeywords } from '../../extension/src/schema';
import { CIRCUIT_SCHEMA } from '../../extension/src/contract.generated';
import type { Episode } from '../../src/data/types';
import { copyModel, NOUNS, VOCAB, FRAMES, GAMMA } from '../analysis/handmodel';
import { fakeRun } from '../analysis/runfake';

function episodes(): Episode[] {
  return Array.from({ length: 12 }, (_, i) => ({ id: `e${i}`, turns: [{ speaker: 'f1', env: { situation: [], before: [NOUNS[i % 3] + '<ENV>'], during: [], after: [] }, utterance: ['f2', NOUNS[i % 3] + '<LAN>'] }] }));
}

let traced: Promise<ReturnType<typeof fakeRun>> | undefined;
/** A fake run of two hand-built checkpoints (copy head L1H1 with output scale 1, then GAMMA), traced by circuitsRun. */
function tracedRun() {
  traced ??= (async () => {
    await initEngine({ log: false });
    const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 100: () => copyModel(1), 200: () => copyModel(GAMMA) } });
    await circuitsRun(run, { checkpoints: [100, 200] });
    return run;
  })();
  return traced;
}

const bad = (re: RegExp) => (e: unknown) => isGroundlabError(e) && (e as Error & { code: string }).code === 'BAD_ARGUMENT' && re.test((e as Error).message);

test('circuit graph of a traced copy-head run: the one live path L1H1 -> logits, its numbers from the tables, DLA per node', async () => {
  const run = await tracedRun();
  const facts: Record<string, unknown> = {};
  const d = await circuitGraphData(run);
  assert.deepEqual(d.steps, [100, 200]);
  assert.equal(d.layers, 2);
  assert.equal(d.heads, 2);
  const b = await circuitGraph(run);
  const p = b[CIRCUIT_MIME] as ReturnType<typeof circuitGraphPayload>;
  assert.deepEqual(validate(CIRCUIT_SCHEMA, JSON.parse(JSON.stringify(p))), []);
  // attention-only model: embeddings, four heads, logits (no MLP nodes)
  assert.deepEqual(p.nodes.map((n) => n.id), ['embed', 'L0H0', 'L0H1', 'L1H0', 'L1H1', 'logits']);
  const table = (await run.readTable('analysis/circuit_paths'))!.objects() as Array<Record<string, unknown>>;
  assert.equal(p.paths.length, table.filter((r) => r.step === 200).length, 'one path per traced sender -> receiver input');
  const j = p.paths.findIndex((x) => x.sender === 'L1H1' && x.receiver === 'logits' && x.input === 'logits');
  assert.ok(j >= 0);
  const row = table.find((r) => r.step === 200 && r.sender === 'L1H1' && r.receiver === 'logits')!;
  const c = p.steps.indexOf(200);
  assert.equal(p.effect[c][j], Number((row.effect as number).toPrecision(5)));
  assert.ok(p.effect[c][j]! > 1, `the copy head's direct path moves the answer by ${p.effect[c][j]} nats`);
  assert.ok(Math.abs(p.recovery![c][j]! - 1) < 1e-4, 'and recovers the clean answer fully');
  p.paths.forEach((x, i) => {
    if (i !== j) assert.ok(Math.abs(p.effect[c][i]!) < 1e-4, `${x.sender} -> ${x.receiver}.${x.input}: ${p.effect[c][i]}`);
  });
  // receivers of q/k/v paths are head nodes with their input named
  assert.ok(p.paths.some((x) => x.sender === 'L0H0' && x.receiver === 'L1H1' && x.input === 'k'));
  // node colours: DLA difference (match - mismatch) as circuit_dla has it
  const dla = (await run.readTable('analysis/circuit_dla'))!.objects() as Array<Record<string, unknown>>;
  const dd = dla.find((r) => r.step === 200 && r.term === 'L1H1')!;
  assert.equal(p.dla![c][p.nodes.findIndex((n) => n.id === 'L1H1')], Number((dd.difference as number).toPrecision(5)));
  assert.equal(p.dla![c][0], Number((dla.find((r) => r.step === 200 && r.term === 'embed')!.difference as number).toPrecision(5)));
  assert.deepEqual(p.aggregate![c], ['L1H1']);
  // the default threshold is a tenth of the largest |effect|: the fallback draws only the live path
  const top = Math.max(...p.effect.flat().map((v) => Math.abs(v ?? 0)));
  assert.equal(p.threshold, Number((top / 10).toPrecision(2)));
  const svg = b['image/svg+xml'] as string;
  assert.equal((svg.match(/<path d=/g) ?? []).length, 1);
  assert.match(svg, /<title>L1H1 -&gt; logits\.logits: /);
  assert.match(b['text/plain'] as string, /strongest paths at step 200 \(effect, nats\): L1H1 -> logits\.logits /);
  // the path test (analysis/circuit_path_test): every tested path carries its controls, p and verdict; its embedding paths are edges
  const pt = ((await run.readTable('analysis/circuit_path_test'))?.objects() ?? []) as Array<Record<string, unknown>>;
  const done = pt.filter((r) => Number(r.step) === 200 && Number.isFinite(Number(r.effect)));
  assert.ok(done.length > 0, 'the copy-head run has path tests');
  for (const r of done) {
    const k = p.paths.findIndex((x) => x.sender === r.sender && x.receiver === String(r.receiver).replace(/\.[qkv]$/, '') && x.input === r.input);
    assert.ok(k >= 0, `${r.sender} -> ${r.receiver} is a path of the graph`);
    const t = p.tests![c].find((x) => x.path === k)!;
    assert.equal(t.test, r.path);
    assert.equal(t.p, Number.isFinite(Number(r.p_t)) ? Number(Number(r.p_t).toPrecision(5)) : null);
    assert.equal(t.significant, significantPath(r));
    if (r.sender === 'embed') assert.equal(p.effect[c][k], Number(Number(r.effect).toPrecision(5)), 'an embedding path drawn with the test\'s effect');
  }
  facts.pathTests = done.map((r) => `${r.path} ${r.sender}->${r.receiver} p ${r.p_t}`);
  console.log('path tests at step 200:', JSON.stringify(facts.pathTests));
  await assert.rejects(circuitGraphData(run, { steps: [300] }), (e) => isGroundlabError(e) && /no circuit paths at step 300/.test((e as Error).message) && /traced steps: 100, 200/.test((e as { hint?: string }).hint ?? ''));
});

test('circuit graph: an untraced run is told to run `groundlab circuits` first', async () => {
  const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 1: () => copyModel(1) } });
  await assert.rejects(circuitGraphData(run), (e) => isGroundlabError(e) && e.code === 'NOT_FOUND' && /groundlab circuits/.test((e as { hint?: string }).hint ?? ''));
});

function small(): CircuitGraphData {
  return {
    layers: 2,
    heads: 2,
    steps: [10, 20],
    paths: [
      { sender: 'L0H0', receiver: 'L1H1', input: 'v' },
      { sender: 'L0H1', receiver: 'L0.mlp', input: 'mlp' },
      { sender: 'L0.mlp', receiver: 'logits', input: 'logits' },
      { sender: 'L1H1', receiver: 'logits', input: 'logits' },
    ],
    effect: [
      [0.1, -0.2, 0.05, 1],
      [0.5, -0.4, 0.01, 2],
    ],
    dla: [{ embed: 0.1, L1H1: 2 }, { embed: 0.2, L1H1: 3, 'L0.mlp': -1 }],
  };
}

test('circuitGraphPayload: MLP nodes where named, schema-valid; the path budget keeps the strongest paths and counts the rest', () => {
  const p = circuitGraphPayload(small());
  assert.deepEqual(p.nodes.map((n) => n.id), ['embed', 'L0H0', 'L0H1', 'L0.mlp', 'L1H0', 'L1H1', 'logits']);
  assert.deepEqual(validate(CIRCUIT_SCHEMA, JSON.parse(JSON.stringify(p))), []);
  assert.deepEqual(unsupportedKeywords(CIRCUIT_SCHEMA), []);
  assert.equal(p.threshold, 0.2);
  assert.deepEqual(p.dla![1], [0.2, null, null, -1, null, 3, null]);
  const cut = circuitGraphPayload({ ...small(), maxPaths: 2 });
  assert.deepEqual(cut.paths.map((x) => x.sender), ['L0H0', 'L1H1'], 'largest |effect| at any checkpoint, in the order given');
  assert.deepEqual(cut.effect, [[0.1, 1], [0.5, 2]]);
  assert.deepEqual(cut.carried, { paths: 2, omittedPaths: 2 });
  // a path from the token embedding (pathPatching's sender 'embed') is a path like the others
  const emb = circuitGraphPayload({ ...small(), paths: [{ sender: 'embed', receiver: 'L0H0', input: 'v' }], effect: [[1], [2]], dla: undefined });
  assert.deepEqual(emb.paths, [{ sender: 'embed', receiver: 'L0H0', input: 'v' }]);
  // the schema names what is wrong, by path
  const errs = validate(CIRCUIT_SCHEMA, { ...p, paths: [{ ...p.paths[0], input: 'x' }] });
  assert.ok(errs.some((e) => /^\/paths\/0\/input: must be one of/.test(e)), JSON.stringify(errs));
});

test('circuitGraphPayload: bad input is a GroundlabError naming what is wrong', () => {
  const d = small();
  const cases: [Partial<CircuitGraphData>, RegExp][] = [
    [{ steps: [20, 10] }, /strictly ascending/],
    [{ layers: 0 }, /positive integers/],
    [{ effect: [d.effect[0]] }, /effect has 1 checkpoints, steps has 2/],
    [{ effect: [[1], [2]] }, /effect\[0\] has 1 values, expected one per path \(4\)/],
    [{ paths: [{ sender: 'L1H1', receiver: 'L0H0', input: 'q' }], effect: [[1], [1]] }, /does not come after the sender/],
    [{ paths: [{ sender: 'L0H0', receiver: 'logits', input: 'q' }], effect: [[1], [1]] }, /input "q" does not fit a logits receiver/],
    [{ paths: [{ sender: 'L7H0', receiver: 'logits', input: 'logits' }], effect: [[1], [1]] }, /sender must be the embedding \(embed\), a head/],
    [{ paths: [{ sender: 'logits', receiver: 'L1H0', input: 'q' }], effect: [[1], [1]] }, /sender must be the embedding/],
    [{ dla: [{ L9H9: 1 }, {}] }, /dla\[0\] names "L9H9"/],
    [{ initialStep: 15 }, /initialStep 15 is not in steps/],
    [{ gather: [['L0.mlp'], []] }, /gather\[0\] names "L0.mlp", which is not a head/],
  ];
  for (const [patch, re] of cases) assert.throws(() => circuitGraphPayload({ ...d, ...patch } as CircuitGraphData), bad(re), String(re));
});

test('the SVG fallbacks of the circuit graph, DAS panel and binding grid escape free text', async () => {
  const { circuitGraphBundle } = await import('../../src/viz/circuit');
  const { dasPanelBundle } = await import('../../src/viz/das');
  const { bindingGridBundle } = await import('../../src/viz/bindinggrid');
  const evil = '<script>alert(1)</script>';
  const svgs = [
    circuitGraphBundle({ ...small(), title: evil, model: evil }),
    dasPanelBundle({ title: evil, model: evil, steps: [1], groups: [{ program: evil, variables: evil, site: evil, series: [{ k: 1, method: 'das', iia: [0.5] }], taskAccuracy: [1] }] }),
    bindingGridBundle({ title: evil, model: evil, steps: [1], reads: [{ layers: 1, heads: 1, slots: 1, grid: 1, slot: [1], cell: [1], target: [1], query: [0], scenes: 1, kind: 'attention' }] }),
  ].map((b) => b['image/svg+xml'] as string);
  for (const svg of svgs) {
    assert.doesNotMatch(svg, /<script/);
    assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  }
});

test('a 12-layer x 12-head circuit graph over 8 checkpoints stays within a few MB (the path budget bounds it)', () => {
  const L = 12, H = 12;
  const senders: string[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) senders.push(`L${l}H${h}`);
    senders.push(`L${l}.mlp`);
  }
  const layerOf = (id: string) => Number(/^L(\d+)/.exec(id)![1]);
  const paths: CircuitGraphData['paths'] = [];
  for (const s of senders) {
    const l = layerOf(s);
    const mlp = s.endsWith('.mlp');
    for (let r = l + 1; r < L; r++) for (let h = 0; h < H; h++) for (const input of ['q', 'k', 'v'] as const) paths.push({ sender: s, receiver: `L${r}H${h}`, input });
    for (let r = mlp ? l + 1 : l; r < L; r++) paths.push({ sender: s, receiver: `L${r}.mlp`, input: 'mlp' });
    paths.push({ sender: s, receiver: 'logits', input: 'logits' });
  }
  const steps = [250, 500, 1000, 2000, 4000, 6000, 8000, 10000];
  const effect = steps.map((_, c) => paths.map((_, j) => Math.sin(j * 12.9898 + c) * Math.exp(-(j % 97) / 9)));
  const t0 = Date.now();
  const b = circuitGraphBundle({ layers: L, heads: H, steps, paths, effect, recovery: effect, attribution: effect });
  const ms = Date.now() - t0;
  const p = b[CIRCUIT_MIME] as ReturnType<typeof circuitGraphPayload>;
  assert.ok(paths.length > 20000, `${paths.length} paths traced`);
  assert.equal(p.carried.paths, 4000);
  assert.equal(p.carried.omittedPaths, paths.length - 4000);
  const bytes = JSON.stringify(b).length;
  assert.ok(bytes < 3e6, `${bytes} bytes`);
  console.log(`12 x 12 circuit graph: ${paths.length} paths, 4000 carried, ${(bytes / 1e6).toFixed(2)} MB, built in ${ms} ms`);
});
