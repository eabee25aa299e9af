/** The binding grid's producer: known answers on a hand-built Transformer, a tiny trained binding run, the payload contract, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { HandTransformer } from '../analysis/handmodel';
import { bindingKnobs, bindingTokenizer, slotStart, cuePosition, type BindingScene } from '../../src/data/binding';
import { BINDING_GRID_MIME, bindingGrid, bindingGridPayload, bindingReads, type BindingReads } from '../../src/viz/bindinggrid';
import { isGroundlabError } from '../../src/errors';
import { createModel, modelPreset } from '../../src/models';
import { validate, unsupportedKeywords } from '../../extension/src/schema';
import { BINDING_GRID_SCHEMA } from '../../extension/src/contract.generated';

// A one-layer hand-built Transformer over 3-object scenes on a 3 x 3 grid, reading at the last
// prompt position (the "?", position cuePosition(3) + 1):
//   head 0 attends to slot 0's colour token (a positional key): it reads slot 0, whatever its cell;
//   head 1 attends to the x-coordinate token "2" (a content and position key): it reads the object
//          in column x = 2 (every scene below has exactly one), whatever its slot.
const N = 3;
const K = bindingKnobs({ colours: 4, shapes: 4, grid: 3, minObjects: N, maxObjects: N, heldOut: 'none' });
const TOK = bindingTokenizer(K);
const BETA = 40; // score BETA / sqrt(Dh) = 14: one-hot attention (the rest weighs < 2e-5)
const Dh = 8;
// Residual dims: 0 constant, 1 is-last, 2 slot-0 colour position, 3 x-coordinate position, 4 token "2".
const D = 6;

function handModel(): HandTransformer {
  const V = TOK.vocabSize;
  const T = cuePosition(N) + 2;
  const m = new HandTransformer({ arch: 'transformer', vocabSize: V, contextLength: T, dModel: D, nLayers: 1, nHeads: 2, dHead: Dh, envFeatureDim: 0, finalNorm: false });
  const mat = (r: number, c: number) => Array.from({ length: r }, () => new Array<number>(c).fill(0));
  const WE = mat(V, D);
  for (let v = 0; v < V; v++) {
    WE[v][0] = 1;
    if (TOK.token(v) === '2') WE[v][4] = 1;
  }
  m.set('W_E', WE);
  const WP = mat(T, D);
  WP[T - 1][1] = 1;
  WP[slotStart(0)][2] = 1;
  for (let i = 0; i < N; i++) WP[slotStart(i) + 3][3] = 1;
  m.set('W_pos', WP);
  const WQ = mat(D, 2 * Dh), WK = mat(D, 2 * Dh);
  WQ[1][0] = BETA;
  WK[2][0] = 1;
  WQ[1][Dh] = BETA;
  WK[3][Dh] = 1;
  WK[4][Dh] = 1;
  WK[0][Dh] = -1;
  m.set('blocks.0.W_Q', WQ);
  m.set('blocks.0.W_K', WK);
  return m;
}

const o = (colour: string, shape: string, x: number, y: number) => ({ colour, shape, x, y });
// exactly one object with x = 2 per scene; targets vary
const SCENES: BindingScene[] = [
  { objects: [o('red', 'square', 2, 0), o('blue', 'circle', 0, 1), o('green', 'star', 1, 1)], query: 'colour', target: 0 },
  { objects: [o('red', 'circle', 0, 0), o('blue', 'square', 2, 2), o('green', 'triangle', 1, 0)], query: 'colour', target: 1 },
  { objects: [o('yellow', 'star', 1, 2), o('red', 'triangle', 0, 2), o('blue', 'circle', 2, 1)], query: 'colour', target: 1 },
  { objects: [o('green', 'square', 0, 1), o('yellow', 'circle', 2, 0), o('red', 'star', 1, 2)], query: 'shape', target: 2 },
];

test('bindingReads known answer: a positional head reads slot 0, a content head reads column x = 2, through the pattern hook', async () => {
  await initEngine({ log: false });
  const m = handModel();
  const before = tf.memory().numTensors;
  const r = await bindingReads(m, TOK, SCENES, { grid: 3, slots: 3, batchSize: 3 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.deepEqual([r.layers, r.heads, r.slots, r.grid, r.scenes, r.kind], [1, 2, 3, 3, 4, 'attention']);
  const near = (a: number | null, b: number, what: string) => assert.ok(a != null && Math.abs(a - b) < 1e-4, `${what}: ${a} vs ${b}`);
  // head 0: all of its weight on slot 0
  [1, 0, 0].forEach((v, s) => near(r.slot[0 * 3 + s], v, `head 0 slot ${s}`));
  // by cell: the mean, over scenes with an object there, of the weight on that object; expected from the scenes themselves
  const cellMean = (f: (sc: BindingScene, i: number) => number, x: number, y: number) => {
    const vals = SCENES.flatMap((sc) => sc.objects.map((ob, i) => (ob.x === x && ob.y === y ? f(sc, i) : NaN))).filter((v) => !Number.isNaN(v));
    return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  };
  for (let y = 0; y < 3; y++)
    for (let x = 0; x < 3; x++) {
      const want0 = cellMean((_, i) => (i === 0 ? 1 : 0), x, y);
      const want1 = cellMean((sc, i) => (sc.objects[i].x === 2 ? 1 : 0), x, y);
      if (want0 == null) {
        assert.equal(r.cell[0 * 9 + y * 3 + x], null, `empty cell (${x}, ${y})`);
        continue;
      }
      near(r.cell[0 * 9 + y * 3 + x], want0, `head 0 cell (${x}, ${y})`);
      near(r.cell[1 * 9 + y * 3 + x], want1!, `head 1 cell (${x}, ${y})`);
    }
  // head 1: its weight sits in column x = 2 and nowhere else
  for (let y = 0; y < 3; y++) near(r.cell[9 + y * 3 + 2], 1, `head 1 cell (2, ${y})`);
  // slot shares of head 1: where the x = 2 object sits (slots 0, 1, 2, 1)
  [0.25, 0.5, 0.25].forEach((v, s) => near(r.slot[3 + s], v, `head 1 slot ${s}`));
  // target: head 0 reads the queried object where it is slot 0 (scene 0); head 1 where it is at x = 2 (scenes 0 and 1)
  near(r.target[0], 1 / 4, 'head 0 target');
  near(r.target[1], SCENES.filter((sc) => sc.objects[sc.target].x === 2).length / 4, 'head 1 target');
  near(r.query[0], 0, 'head 0 query');
  // the cue position reads differently: head 0's query is not the last position, so it spreads its weight
  const cue = await bindingReads(m, TOK, SCENES, { grid: 3, slots: 3, position: 'cue' });
  assert.ok(cue.slot[0]! < 0.5, `at the cue head 0 has no is-last query: slot 0 weight ${cue.slot[0]}`);
  // bad input names the scene
  await assert.rejects(bindingReads(m, TOK, SCENES, { grid: 2, slots: 3 }), (e) => isGroundlabError(e) && /scene 0 has an object at \(2, 0\), outside the 2 x 2 grid/.test((e as Error).message));
  await assert.rejects(bindingReads(m, TOK, SCENES, { grid: 3, slots: 2 }), (e) => isGroundlabError(e) && /3 objects, more than slots = 2/.test((e as Error).message));
  m.dispose();
});

function reads(v: number): BindingReads {
  return { layers: 1, heads: 2, slots: 2, grid: 2, slot: [v, 0, 0, v], cell: [v, 0, 0, null, 0, v, null, 0], target: [v, 0.1], query: [0, 0], scenes: 5, kind: 'attention' };
}

test('bindingGridPayload: schema-valid, the head reading the target most first; bad input named', () => {
  const p = bindingGridPayload({ steps: [1, 2], reads: [reads(0.2), reads(0.9)] });
  assert.deepEqual(validate(BINDING_GRID_SCHEMA, JSON.parse(JSON.stringify(p))), []);
  assert.deepEqual(unsupportedKeywords(BINDING_GRID_SCHEMA), []);
  assert.deepEqual(p.initial, { layer: 0, head: 0 });
  assert.equal(p.units, 'attention probability (each row sums to 1)');
  assert.match(p.from, /answer position/);
  const cases: [unknown, RegExp][] = [
    [{ steps: [1, 2], reads: [reads(0.2)] }, /1 reads for 2 steps/],
    [{ steps: [1], reads: [{ ...reads(0.2), cell: [1] }] }, /reads\[0\]\.cell has 1 values, expected 8/],
    [{ steps: [1, 2], reads: [reads(0.2), { ...reads(0.2), heads: 3 }] }, /reads\[1\] is 1x3 heads/],
    [{ steps: [1], reads: [reads(0.2)], initial: { head: 5 } }, /initial head L0H5 is outside 1 layers x 2 heads/],
    [{ steps: [1], reads: [reads(0.2)], roles: [['ID selection']] }, /roles\[0\] has 1 values, expected layers\*heads = 2/],
  ];
  for (const [d, re] of cases) assert.throws(() => bindingGridPayload(d as never), (e: unknown) => isGroundlabError(e) && re.test((e as Error).message), String(re));
  const errs = validate(BINDING_GRID_SCHEMA, { ...p, grid: 0 });
  assert.ok(errs.some((e) => /^\/grid: must be >= 1, got 0$/.test(e)), JSON.stringify(errs));
});

test('binding grid of a tiny trained binding run: reads at every checkpoint through its anatomy; a counting run is refused', async () => {
  const { train, openRun } = await import('../../src/train');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'binding-grid-'));
  try {
    const out = path.join(dir, 'bind');
    await train({ out, arch: 'transformer', preset: 'tiny', steps: 4, seqLen: 32, corpus: { kind: 'binding', knobs: { maxObjects: 3, sequences: 64 } } });
    const run = await openRun(out);
    const b = await bindingGrid(run, { perCount: 4 });
    const p = b[BINDING_GRID_MIME] as ReturnType<typeof bindingGridPayload>;
    assert.deepEqual(validate(BINDING_GRID_SCHEMA, JSON.parse(JSON.stringify(p))), []);
    assert.deepEqual(p.steps, run.checkpoints.map((c) => c.step));
    assert.equal(p.slots, 3);
    assert.equal(p.grid, 4);
    assert.equal(p.scenes, 8, 'scenes of 2 and 3 objects, 4 each');
    const L = p.layers, H = p.heads;
    assert.equal(L, run.config.model.nLayers);
    for (const c of p.steps.keys()) {
      // softmax attention: a head's weight on the objects and the query is at most 1
      for (let j = 0; j < L * H; j++) {
        const t = p.target[c][j]!;
        assert.ok(t >= 0 && t <= 1, `target ${t}`);
        assert.ok(p.slot[c][j * 3] != null && p.slot[c][j * 3 + 2] != null, 'every slot is seen (3-object scenes)');
      }
    }
    assert.match(b['image/svg+xml'] as string, /<title>L0H0 cell \(0, 0\): /);
    assert.equal(p.roles, undefined, 'no checkpoint classified yet: no roles');
    const grid = await bindingGrid(run, { perCount: 4 });
    assert.deepEqual(grid[BINDING_GRID_MIME], p, 'same seed, same numbers');
    // after `groundlab binding` classified the last checkpoint, each head carries its role there
    const { bindingRun } = await import('../../src/analysis/binding');
    const rep = await bindingRun(run, { pairs: 4, perCount: 2 });
    const withRoles = (await bindingGrid(run, { perCount: 4 }))[BINDING_GRID_MIME] as ReturnType<typeof bindingGridPayload>;
    const c = withRoles.steps.indexOf(rep.step);
    for (const r of rep.roles) assert.equal(withRoles.roles![c][r.layer * H + r.head], r.role, r.name);
    assert.ok(withRoles.roles![0].every((x) => x === null), 'other checkpoints: not classified');
    assert.deepEqual(validate(BINDING_GRID_SCHEMA, JSON.parse(JSON.stringify(withRoles))), []);
    const counting = { ...run, config: { ...run.config, corpus: { kind: 'counting' as const } } };
    await assert.rejects(bindingGrid(counting as never), (e) => isGroundlabError(e) && /needs a scene binding run/.test((e as Error).message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bindingReads goes through the anatomy: Mamba-2 (SSD) and GLA mixing rows read alike, the GRU (no mixing matrix) is refused', async () => {
  await initEngine({ log: false });
  const k = bindingKnobs({ maxObjects: 3 });
  const tok = bindingTokenizer(k);
  const { bindingEvalScenes } = await import('../../src/data/binding');
  const scenes = bindingEvalScenes(k, { counts: [2, 3], perCount: 2, seed: 0 });
  for (const [arch, kind] of [
    ['mamba2', 'ssd'],
    ['gla', 'gla'],
  ] as const) {
    const m = createModel(modelPreset(arch, 'tiny', tok.vocabSize), 0);
    const before = tf.memory().numTensors;
    const r = await bindingReads(m, tok, scenes, { grid: k.grid, slots: 3 });
    assert.equal(tf.memory().numTensors, before, `${arch}: no tensor leaks`);
    assert.equal(r.kind, kind);
    assert.equal(r.layers, m.anatomy.layers.length);
    assert.ok(r.target.every((v) => v != null && Number.isFinite(v)), `${arch}: every head has a target weight`);
    assert.match(bindingGridPayload({ steps: [0], reads: [r] }).units, new RegExp(kind === 'ssd' ? 'SSD mixing weight' : 'GLA mixing weight'));
    m.dispose();
  }
  const gru = createModel(modelPreset('gru', 'tiny', tok.vocabSize), 0);
  await assert.rejects(bindingReads(gru, tok, scenes, { grid: k.grid, slots: 3 }), (e) => isGroundlabError(e) && e.code === 'UNSUPPORTED' && /no token-mixing matrices/.test((e as Error).message));
  gru.dispose();
});
