/** Unit tests of the circuit graph, DAS panel and binding grid views: payload in, DOM out (jsdom, vega's SVG renderer). */
import './dom';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitView } from '../src/circuit';
import { DasView } from '../src/das';
import { BindingGridView } from '../src/bindinggrid';
import { TimelineView } from '../src/timeline';
import { checkBindingGrid, checkCircuit, checkDas } from '../src/payload';
import { publish, listenerCount } from '../src/bus';
import { circuitLayout } from '../src/circuitlayout';
import { bindingGridPayload, circuitPayload, dasPayload, timelinePayload } from './fixture';

function host(): HTMLElement {
  const h = document.createElement('div');
  document.body.appendChild(h);
  return h;
}
const q = (h: HTMLElement, sel: string) => h.querySelector(sel) as HTMLElement;
const text = (h: HTMLElement, sel: string) => q(h, sel).textContent ?? '';
const move = (e: Element) => e.dispatchEvent(new window.MouseEvent('mousemove', { bubbles: true, clientX: 10, clientY: 10 }));

test('payload checks name what is wrong (schema path or relation)', () => {
  assert.throws(() => checkCircuit({ ...circuitPayload(), effect: [[1, 2, 3, 4, 5]] }), /effect must have one entry per step/);
  const { recovery: _r, attribution: _a, ...rest } = circuitPayload();
  assert.throws(() => checkCircuit({ ...rest, paths: [{ sender: 'L0H0', receiver: 'L9H9', input: 'v' }], effect: [[1], [1]] }), /paths\[0\] \(L0H0 -> L9H9\) names a node/);
  assert.throws(() => checkCircuit({ ...circuitPayload(), nodes: [{ id: 'x', kind: 'neuron', layer: 0, head: null }] }), /circuit payload does not follow its schema \(extension\/schema\/circuit.schema.json\): .*\/nodes\/0\/kind: must be one of/);
  assert.throws(() => checkDas({ ...dasPayload(), initial: { group: 5, k: 1 } }), /initial.group 5 is not a group/);
  assert.throws(() => checkDas({ ...dasPayload(), version: 2 }), /das payload version 2 is not supported/);
  assert.throws(() => checkBindingGrid({ ...bindingGridPayload(), cell: [[1], [1]] }), /cell entries must have 8 values/);
  assert.throws(() => checkBindingGrid({ ...bindingGridPayload(), grid: 0 }), /bindinggrid.schema.json\): \/grid: must be >= 1/);
  assert.throws(() => checkBindingGrid({ ...bindingGridPayload(), roles: [['none']] }), /roles must have one entry per step/);
});

test('circuit: nodes laid out by layer, edges above the threshold with width by |effect| and colour by sign, caption and note', async () => {
  const h = host();
  const v = new CircuitView(h, circuitPayload(), { renderer: 'svg' });
  await v.ready;
  assert.equal(h.querySelectorAll('.gl-node').length, 7);
  // threshold 0.1 at step 200: L0H0->L1H1.v 0.8, L0H1->L0.mlp -0.3, L1H1->logits 2 (the k path 0.05 and the MLP's 0.04 are hidden)
  const edges = Array.from(h.querySelectorAll('path.gl-edge'));
  assert.deepEqual(edges.map((e) => `${e.getAttribute('data-sender')}>${e.getAttribute('data-receiver')}.${e.getAttribute('data-input')}`).sort(), ['L0H0>L1H1.v', 'L0H1>L0.mlp.mlp', 'L1H1>logits.logits']);
  assert.equal(h.dataset.edges, '3');
  const neg = edges.find((e) => e.getAttribute('data-sender') === 'L0H1')!;
  assert.equal(neg.getAttribute('stroke'), '#e8590c', 'a negative effect is orange');
  const top = edges.find((e) => e.getAttribute('data-sender') === 'L1H1')!;
  assert.equal(top.getAttribute('stroke'), '#1c7ed6');
  assert.equal(Number(top.getAttribute('stroke-width')), 6.6, 'the largest |effect| over all checkpoints has the widest edge');
  assert.match(text(h, '.gl-circuit-caption'), /^path-patching effect \(nats\) at step 200: 3 of 5 paths shown \(\|value\| >= 0.1\)/);
  assert.match(text(h, '.gl-note'), /5 paths carried at 2 checkpoints; 7 weaker paths were left out by the producer\. No path from the embedding is carried/);
  // layout: embeddings left, logits right, heads of layer 1 right of layer 0's MLP
  const lay = circuitLayout(v.payload.nodes, 2, 2);
  const X = (id: string) => lay.at.get(id)!.x;
  assert.ok(X('embed') < X('L0H0') && X('L0H0') < X('L0.mlp') && X('L0.mlp') < X('L1H0') && X('L1H1') < X('logits'));
  // the path test: a halo on the significant path, every tested path marked
  assert.equal(h.querySelectorAll('path.gl-edge-halo').length, 1);
  assert.equal(q(h, 'path.gl-edge[data-sender="L0H0"][data-input="v"]').getAttribute('data-test'), 'significant');
  assert.equal(q(h, 'path.gl-edge[data-sender="L1H1"]').getAttribute('data-test'), 'tested');
  assert.match(text(h, '.gl-circuit-legend'), /a halo: significant in the path test/);
  // roles: aggregate pink ring, gather yellow at step 200
  assert.equal(q(h, '[data-node="L1H1"] circle').getAttribute('stroke'), '#d6336c');
  assert.equal(q(h, '[data-node="L0H0"] circle').getAttribute('stroke'), '#f59f00');
  v.dispose();
});

test('circuit: hovering an edge or a node shows its numbers; threshold, measure and input filter the edges; capped edges are counted', async () => {
  const h = host();
  const v = new CircuitView(h, circuitPayload(), { renderer: 'svg' });
  await v.ready;
  move(q(h, 'path[data-sender="L0H0"][data-input="v"]'));
  assert.equal(text(h, '.gl-circuit-readout'), 'L0H0 -> L1H1.v at step 200: effect 0.8 nats, recovery 0.4, attribution 0.7 nats (12 pairs); path test gather->aggregate: controls 0.1 nats, p 1.00e-5, significant');
  assert.equal(q(h, '.gl-tooltip').style.display, 'block');
  move(q(h, '[data-node="L1H1"]'));
  assert.equal(text(h, '.gl-circuit-readout'), 'L1H1 at step 200: direct logit attribution (match - mismatch) 3; aggregate head; edges shown: 1 in, 1 out; strongest out: -> logits 2');
  move(q(h, '[data-node="embed"]'));
  assert.match(text(h, '.gl-circuit-readout'), /^embed at step 200: direct logit attribution \(match - mismatch\) 0.2; no path from the embedding is carried \(circuitsRun traces heads and MLPs\)$/);
  // the threshold slider (0..200 over [0, largest |effect|]): 0 shows every path, the top hides all but L1H1 -> logits
  const thr = q(h, '.gl-threshold') as HTMLInputElement;
  thr.value = '0';
  thr.dispatchEvent(new window.Event('input'));
  await v.update();
  assert.equal(h.dataset.edges, '5');
  thr.value = '100';
  thr.dispatchEvent(new window.Event('input'));
  await v.update();
  assert.equal(h.dataset.threshold, '1');
  assert.equal(h.dataset.edges, '1');
  assert.match(text(h, '.gl-threshold-label'), /^1 nats$/);
  // the edge-attribution estimate as the measure, q/k/v filter
  await v.setThreshold(0);
  await v.setMeasure('attribution');
  assert.equal(h.dataset.edges, '5');
  await v.setInput('k');
  assert.deepEqual(Array.from(h.querySelectorAll('path.gl-edge'), (e) => e.getAttribute('data-input')), ['k']);
  assert.equal(q(h, 'path.gl-edge').getAttribute('stroke-dasharray'), '5 2', 'key paths dashed');
  await v.setInput('all');
  // a click on a node shows its edges only; a second click shows every edge again
  await v.setThreshold(0);
  q(h, '[data-node="L0H0"]').dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
  await v.update();
  assert.equal(h.dataset.focus, 'L0H0');
  assert.deepEqual(Array.from(h.querySelectorAll('path.gl-edge'), (e) => e.getAttribute('data-sender')), ['L0H0', 'L0H0']);
  assert.match(text(h, '.gl-circuit-caption'), /into and out of L0H0 only/);
  q(h, '[data-node="L0H0"]').dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
  await v.update();
  assert.equal(h.dataset.focus, '');
  assert.equal(h.dataset.edges, '5');
  // at most maxEdges edges: the strongest, the rest counted
  const capped = new CircuitView(host(), { ...circuitPayload(), maxEdges: 2, threshold: 0 }, { renderer: 'svg' });
  await capped.ready;
  assert.equal(capped.host.dataset.edges, '2');
  assert.match(text(capped.host, '.gl-circuit-caption'), /3 more above the threshold hidden \(at most 2 edges\)/);
  capped.dispose();
  v.dispose();
});

test('circuit: a path from the embedding (sender embed) is drawn from the embeddings node', async () => {
  const p = circuitPayload();
  const withEmbed = { ...p, paths: [...p.paths, { sender: 'embed', receiver: 'L0H1', input: 'v' as const }], effect: p.effect.map((r) => [...r, 1.5]), recovery: undefined, attribution: undefined };
  delete (withEmbed as { recovery?: unknown }).recovery;
  delete (withEmbed as { attribution?: unknown }).attribution;
  const h = host();
  const v = new CircuitView(h, withEmbed, { renderer: 'svg' });
  await v.ready;
  assert.ok(q(h, 'path.gl-edge[data-sender="embed"][data-receiver="L0H1"]'));
  move(q(h, '[data-node="embed"]'));
  assert.match(text(h, '.gl-circuit-readout'), /^embed at step 200: direct logit attribution \(match - mismatch\) 0.2; edges shown: 0 in, 1 out; strongest out: -> L0H1 1.5$/);
  assert.doesNotMatch(text(h, '.gl-note'), /No path from the embedding/);
  v.dispose();
});

test('circuit: the timeline scrubber redraws the graph at that checkpoint (link key), and its own slider moves the timeline', async () => {
  const tl = new TimelineView(host(), timelinePayload(), { renderer: 'svg' });
  const h = host();
  const v = new CircuitView(h, circuitPayload(), { renderer: 'svg' });
  await Promise.all([tl.ready, v.ready]);
  await tl.setStepIndex(0); // step 100
  await v.update();
  assert.equal(h.dataset.step, '100');
  assert.equal(text(h, '.gl-step-label'), 'step 100 (1/2)');
  // step 100: L1H1 -> logits 0.5, L0H0 -> L1H1.v 0.2 and the MLP path -0.1 pass the 0.1 threshold
  assert.equal(h.dataset.edges, '3');
  move(q(h, 'path[data-sender="L1H1"]'));
  assert.match(text(h, '.gl-circuit-readout'), /^L1H1 -> logits at step 100: effect 0.5 nats/);
  // the timeline's step 150 is nearest to 100 (ties go to the earlier)
  await tl.setStepIndex(1);
  await v.update();
  assert.equal(h.dataset.step, '100');
  const s = q(h, '.gl-step') as HTMLInputElement;
  s.value = '1';
  s.dispatchEvent(new window.Event('input'));
  await v.update();
  await tl.update();
  assert.equal(tl.host.dataset.step, '200');
  // keyboard on the slider
  s.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Home', bubbles: true }));
  await v.update();
  assert.equal(h.dataset.step, '100');
  const before = listenerCount('unit');
  v.dispose();
  tl.dispose();
  assert.equal(listenerCount('unit'), before - 2);
});

test('DAS panel: IIA of DAS k with its baselines beside task accuracy; every k; another group; says what is not carried', async () => {
  const h = host();
  const v = new DasView(h, dasPayload(), { renderer: 'svg' });
  await v.ready;
  assert.equal(h.dataset.step, '100');
  assert.equal(h.dataset.k, '1');
  const vals = () => Array.from(h.querySelectorAll('.gl-das-readout .gl-tl-value'), (e) => e.textContent);
  assert.deepEqual(vals(), ['IIA DAS k=1: 0.98', 'IIA identity rotation k=1: 0.15', 'IIA random rotation k=1: 0.1', 'IIA full-vector swap k=16: 1', 'IIA probe direction k=1: 0.5', 'task accuracy: 0.999', 'held-out accuracy: 0.99']);
  // two panels drawn by vega (lines and the step rule)
  assert.ok(h.querySelectorAll('.gl-das-chart svg path').length >= 5);
  assert.match(text(h, '.gl-note'), /64 pairs at this step.*Not carried for this group: boundless DAS\./);
  // every k: the DAS lines of k = 1 and 2 and the full swap
  (q(h, '.gl-das-k') as HTMLSelectElement).value = 'all';
  q(h, '.gl-das-k').dispatchEvent(new window.Event('change'));
  await v.update();
  assert.deepEqual(vals().slice(0, 3), ['IIA DAS k=1: 0.98', 'IIA DAS k=2: 0.99', 'IIA full-vector swap k=16: 1']);
  assert.equal(h.dataset.series, '3');
  // the other group (up-up): its only k
  await v.setK(1);
  (q(h, '.gl-das-group') as HTMLSelectElement).value = '1';
  q(h, '.gl-das-group').dispatchEvent(new window.Event('change'));
  await v.update();
  assert.deepEqual(vals(), ['IIA DAS k=1: 0.3', 'task accuracy: 0.999', 'held-out accuracy: n/a']);
  assert.match(text(h, '.gl-note'), /Not carried for this group: boundless DAS, identity rotation, random rotation, full-vector swap, probe direction\./);
  // linked: another widget's step moves it (0 -> 0, 10 -> 10, 30 -> 10)
  publish('unit', 30);
  await v.update();
  assert.equal(h.dataset.step, '10');
  // steps 10..100 span a factor of 10 (< 20): a linear step axis first; the checkbox switches it
  assert.equal(v.logSteps, false);
  const log = q(h, '.gl-log-steps') as HTMLInputElement;
  log.checked = true;
  log.dispatchEvent(new window.Event('change'));
  await v.update();
  assert.equal(v.logSteps, true);
  assert.match(h.querySelector('.gl-das-chart svg')!.textContent ?? '', /step \(log scale\)/);
  v.dispose();
});

test('binding grid: per head a grid of cells and a strip of slots, one shared colour scale; hover, click to enlarge, linked checkpoint', async () => {
  const h = host();
  const v = new BindingGridView(h, bindingGridPayload(), { renderer: 'svg' });
  await v.ready;
  const heads = h.querySelectorAll('.gl-bgrid-heads .gl-bgrid-head');
  assert.equal(heads.length, 2);
  assert.equal(heads[0].querySelectorAll('.gl-bgrid-cell').length, 4);
  assert.equal(heads[0].querySelectorAll('.gl-bgrid-slot').length, 3);
  assert.equal(h.dataset.head, '0.1');
  assert.ok(heads[1].classList.contains('gl-mult-selected'));
  // the enlarged head prints its numbers: cell (1, 1) of head 1 = 0.8 at step 200
  const big = Array.from(h.querySelectorAll('.gl-bgrid-detail .gl-bgrid-cell'), (e) => e.textContent);
  assert.deepEqual(big, ['0', '0', '0', '0.8']);
  assert.match(text(h, '.gl-bgrid-detail .gl-caption'), /weight on the queried object 0.5, on the query's tokens 0.1; role: feature retrieval$/);
  // roles from groundlab binding beside the head labels ('none' is not shown)
  assert.deepEqual(Array.from(h.querySelectorAll('.gl-bgrid-heads .gl-bgrid-role'), (e) => e.textContent), ['feature retrieval']);
  // the same value has the same colour in both heads (shared scale); an empty cell is grey
  const bg = (sel: string) => q(h, sel).style.background;
  assert.equal(bg('.gl-bgrid-head[data-head="0.0"] [data-cell="0,0"]'), bg('.gl-bgrid-head[data-head="0.1"] [data-slot="1"]'), '0.3 in head 0 and in head 1');
  assert.equal(q(h, '.gl-bgrid-head[data-head="0.0"] [data-cell="1,1"]').dataset.value, 'null');
  move(q(h, '.gl-bgrid-head[data-head="0.0"] [data-slot="0"]'));
  assert.equal(text(h, '.gl-bgrid-readout'), 'L0H0 at step 200: slot 0 0.9 (mean weight on the object in slot 0)');
  move(q(h, '.gl-bgrid-head[data-head="0.1"] [data-cell="1,1"]'));
  assert.equal(text(h, '.gl-bgrid-readout'), 'L0H1 at step 200: cell (1, 1) 0.8 (mean weight on the object there, over scenes with one)');
  // click head 0: it is enlarged
  (heads[0] as HTMLElement).click();
  await v.update();
  assert.equal(h.dataset.head, '0.0');
  assert.deepEqual(Array.from(h.querySelectorAll('.gl-bgrid-detail .gl-bgrid-slot'), (e) => e.textContent), ['0.9', '0.05', '0.05']);
  assert.match(text(h, '.gl-caption'), /colours 0\.\.0\.9 \(one scale for all heads and checkpoints\)/);
  // linked: the timeline's step 100 -> step 100 here, where the readout follows
  publish('unit', 100);
  await v.update();
  assert.equal(h.dataset.step, '100');
  assert.equal(text(h, '.gl-bgrid-readout'), 'L0H1 at step 100: cell (1, 1) 0.4 (mean weight on the object there, over scenes with one)');
  assert.equal(h.querySelectorAll('.gl-bgrid-heads .gl-bgrid-role').length, 0, 'step 100 was not classified');
  assert.match(text(h, '.gl-bgrid-detail .gl-caption'), /role: not classified at this step$/);
  await v.setScale('head');
  assert.match(text(h, '.gl-caption'), /each head its own range at this step/);
  v.dispose();
});
