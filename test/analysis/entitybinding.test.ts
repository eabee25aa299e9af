import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { HandTransformer } from './handmodel';
import { entityAccuracy, entityMixture, mechanismPatching, positionRegion } from '../../src/analysis/entitybinding';
import { ENTITY_ITEMS, ENTITY_NAMES, entityCounterfactuals, entityEvalScenes, entityKnobs, entityTokenizer, groupStart } from '../../src/data/textbinding';
import { isGroundlabError } from '../../src/errors';

// ---------------------------------------------------------------------------------------------
// Two hand-built 3-layer attention-only Transformers that answer `who loves <item> ?` over 4 groups,
// one by each mechanism (head 1 of every layer is a control head):
// positional: L0H0 at the cue finds the context item equal to the cue and copies its group slot;
//             L1H0 at the last position copies that slot from the cue; L2H0 at the last position
//             reads the entity of that slot (the answer).
// lexical:    L0H0 at every item token copies the entity of its own group (the binding); L1H0 at
//             the last position copies the cue's item identity; L2H0 at the last position finds the
//             context item equal to it and reads the entity bound there.
// Patching the residual stream at the last position from a mechanism counterfactual: entering
// layers 0 and 1 nothing differs (base answer); entering layer 2 the positional model answers the
// positional prediction and the lexical model the lexical one; after layer 2 both answer the
// source's own answer (reflexive).
const N = 4;
const K = entityKnobs({ names: 5, items: 5, minGroups: N, maxGroups: N });
const TOK = entityTokenizer(K);
const BETA = 40;
const GAMMA = 15;
const Dh = 8;
const NE = 5;
const NI = 5;
// dims: 0..4 entity, 5..9 item, 10 const, 11..14 slot at entity tokens, 15..18 slot at item tokens,
// 19 query phase, 20 is-cue, 21..24 retrieved slot, 25..28 selected slot, 29..33 answer entity,
// 34..38 bound entity (at item tokens), 39..43 cue item (at the last position), 44 junk.
const D = 45;
const T = groupStart(N) + 4;

function entityModel(kind: 'positional' | 'lexical', shift = 0): HandTransformer {
  const V = TOK.vocabSize;
  const m = new HandTransformer({ arch: 'transformer', vocabSize: V, contextLength: T, dModel: D, nLayers: 3, nHeads: 2, dHead: Dh, envFeatureDim: 0, finalNorm: false });
  const mat = (r: number, c: number) => Array.from({ length: r }, () => new Array<number>(c).fill(0));
  const names = ENTITY_NAMES.slice(0, NE) as readonly string[];
  const items = ENTITY_ITEMS.slice(0, NI) as readonly string[];
  const WE = mat(V, D);
  for (let v = 0; v < V; v++) {
    const t = TOK.token(v);
    WE[v][10] = 1;
    if (names.includes(t)) WE[v][names.indexOf(t)] = 1;
    if (items.includes(t)) WE[v][5 + items.indexOf(t)] = 1;
  }
  m.set('W_E', WE);
  const WP = mat(T, D);
  for (let g = 0; g < N; g++) {
    WP[groupStart(g)][11 + g] = 1;
    WP[groupStart(g) + 2][15 + g] = 1;
  }
  for (let p = groupStart(N); p < T; p++) WP[p][19] = 1;
  WP[T - 2][20] = 1;
  m.set('W_pos', WP);
  for (let l = 0; l < 3; l++) {
    const WQ = mat(D, 2 * Dh), WK = mat(D, 2 * Dh), WV = mat(D, 2 * Dh), WO = mat(2 * Dh, D);
    const matchItems = () => {
      // query: the token's item identity; key: the context's item tokens, not the query's own
      for (let s = 0; s < NI; s++) {
        WQ[5 + s][s] = BETA;
        WK[5 + s][s] = 1;
      }
      WQ[10][5] = BETA;
      WK[19][5] = -1;
    };
    const attendCue = () => {
      WQ[10][0] = BETA;
      WK[20][0] = 1;
    };
    if (kind === 'positional') {
      if (l === 0) {
        matchItems();
        for (let g = 0; g < N; g++) {
          WV[15 + g][g] = 1;
          WO[g][21 + g] = 1;
        }
      } else if (l === 1) {
        attendCue();
        for (let g = 0; g < N; g++) {
          WV[21 + g][g] = 1;
          WO[g][25 + g] = 1;
        }
      } else {
        for (let g = 0; g < N; g++) {
          WQ[25 + g][(g + shift) % N] = BETA; // shift: read the next group (a planted positional error)
          WK[11 + g][g] = 1;
        }
        for (let e = 0; e < NE; e++) {
          WV[e][e] = 1;
          WO[e][29 + e] = GAMMA;
        }
      }
    } else if (l === 0) {
      for (let g = 0; g < N; g++) {
        WQ[15 + g][g] = BETA;
        WK[11 + g][g] = 1;
      }
      for (let e = 0; e < NE; e++) {
        WV[e][e] = 1;
        WO[e][34 + e] = 1;
      }
    } else if (l === 1) {
      attendCue();
      for (let s = 0; s < NI; s++) {
        WV[5 + s][s] = 1;
        WO[s][39 + s] = 1;
      }
    } else {
      for (let s = 0; s < NI; s++) {
        WQ[39 + s][s] = BETA;
        WK[5 + s][s] = 1;
      }
      WQ[10][5] = BETA;
      WK[19][5] = -1;
      for (let e = 0; e < NE; e++) {
        WV[34 + e][e] = 1;
        WO[e][29 + e] = GAMMA;
      }
    }
    WV[10][Dh] = 1; // control head: uniform attention, writes the constant into the junk dim
    WO[Dh][44] = 1;
    m.set(`blocks.${l}.W_Q`, WQ);
    m.set(`blocks.${l}.W_K`, WK);
    m.set(`blocks.${l}.W_V`, WV);
    m.set(`blocks.${l}.W_O`, WO);
  }
  const WU = mat(D, V);
  names.forEach((e, i) => (WU[29 + i][TOK.id(e)] = 1));
  m.set('W_U', WU);
  return m;
}

test('entity binding known answer: accuracy by slot, planted positional errors at offset +1', async () => {
  await initEngine();
  const scenes = entityEvalScenes(K, { counts: [N], perSlot: 8, seed: 0, query: 'who' });
  for (const kind of ['positional', 'lexical'] as const) {
    const a = await entityAccuracy(entityModel(kind), TOK, scenes);
    assert.equal(a.accuracy, 1, kind);
    assert.deepEqual(a.bySlot.map((s) => [s.groups, s.slot, s.n]), [0, 1, 2, 3].map((s) => [N, s, 8]));
  }
  const bad = await entityAccuracy(entityModel('positional', 1), TOK, scenes);
  assert.equal(bad.accuracy, 0);
  assert.equal(bad.errors.otherGroup, scenes.length);
  // Reading the next group: offset +1, and -3 from the last slot.
  assert.deepEqual(bad.errors.bySlotOffset, [{ offset: -3, n: 8 }, { offset: 1, n: 24 }]);
});

test('entity binding known answer: patching separates the positional, lexical and reflexive mechanisms; the mixture names the one used', async () => {
  await initEngine();
  const cfs = entityCounterfactuals(K, { counts: [N], count: 40, seed: 3, query: 'who' });
  for (const kind of ['positional', 'lexical'] as const) {
    const m = entityModel(kind);
    const before = tf.memory().numTensors;
    const p = await mechanismPatching(m, TOK, cfs);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    assert.equal(p.baseAccuracy, 1);
    assert.equal(p.sourceAccuracy, 1);
    assert.deepEqual(p.rows.map((r) => r.layer), [0, 1, 2, 3]);
    const share = (l: number, o: 'positional' | 'lexical' | 'reflexive' | 'base') => p.rows[l].shares[o];
    assert.equal(share(0, 'base'), 1, `${kind}: entering layer 0`);
    assert.equal(share(1, 'base'), 1, `${kind}: entering layer 1`);
    assert.equal(share(2, kind), 1, `${kind}: entering layer 2`);
    assert.equal(share(3, 'reflexive'), 1, `${kind}: after the last layer`);
    assert.ok(p.rows.every((r) => r.candidateMass > 0.99));
    const mix = entityMixture(p);
    assert.equal(mix.layer, 2);
    for (const c of mix.fit.cells) assert.ok(c.weights[kind] > 0.98, `${kind} ${c.cell}: weights ${JSON.stringify(c.weights)}`);
    assert.equal(mix.heldOut.top1, 1);
    assert.ok(mix.heldOut.jsSimilarity > 0.95, `JS ${mix.heldOut.jsSimilarity}`);
    const only = mix.restricted.find((r) => r.components[0] === kind)!;
    const other = mix.restricted.find((r) => r.components[0] === (kind === 'positional' ? 'lexical' : 'positional'))!;
    assert.equal(only.heldOut.top1, 1);
    assert.ok(other.heldOut.top1 < 0.5, `the other mechanism alone: ${other.heldOut.top1}`);
  }
  assert.equal(positionRegion(0, 4), 'first');
  assert.equal(positionRegion(2, 4), 'middle');
  assert.equal(positionRegion(3, 4), 'last');
  await assert.rejects(mechanismPatching(entityModel('lexical'), TOK, []), (e) => isGroundlabError(e) && /no mechanism counterfactuals/.test(e.message));
});
