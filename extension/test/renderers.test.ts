/** Unit tests of the renderers: payload in, DOM out (jsdom, vega's SVG renderer). */
import './dom';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InspectorView, thumbnail } from '../src/inspector';
import { TimelineView, logTicks } from '../src/timeline';
import { checkInspector, checkTimeline, decodeBytes, decodeMap, fmt, PayloadError } from '../src/payload';
import { listenerCount, nearestIndex, sliderKey } from '../src/bus';
import { bmpDataUrl, colorLut, parseColor } from '../src/raster';
import { inspectorPayload, lowerValues, timelinePayload, TOKENS } from './fixture';

function host(): HTMLElement {
  const h = document.createElement('div');
  document.body.appendChild(h);
  return h;
}

const q = (h: HTMLElement, sel: string) => h.querySelector(sel) as HTMLElement;
const text = (h: HTMLElement, sel: string) => q(h, sel).textContent ?? '';

test('decodeMap / decodeBytes invert the producer encoding (lower triangle, 8 bits)', () => {
  const p = inspectorPayload();
  const m = p.maps[0];
  const vals = decodeMap(m);
  const want = lowerValues(6);
  for (let i = 0; i < 36; i++) assert.ok(Math.abs(vals[i] - want[i]) <= m.max / 510 + 1e-7, `cell ${i}: ${vals[i]} vs ${want[i]}`);
  const { bytes, present } = decodeBytes(m);
  assert.equal(bytes.length, 36);
  assert.equal(present![0 * 6 + 1], 0, 'the upper triangle is not stored');
  assert.equal(present![5 * 6 + 2], 1);
  assert.throws(() => decodeMap({ ...m, data: m.data.slice(0, 8) }), PayloadError);
});

test('checkInspector / checkTimeline reject a payload they cannot show, saying why', () => {
  assert.throws(() => checkInspector({ ...inspectorPayload(), version: 2 }), /version 2 is not supported/);
  assert.throws(() => checkInspector({ ...inspectorPayload(), scores: {} }), /does not follow its schema .*\/scores: needs at least 1 properties/);
  // the renderer checks the whole payload against the schema, naming the path of what is wrong
  assert.throws(() => checkInspector({ ...inspectorPayload(), maps: [{ ...inspectorPayload().maps[0], encoding: 'u16' }] }), /\/maps\/0\/encoding: must be one of "u8", "u8-lower", got "u16"/);
  assert.throws(() => checkInspector({ ...inspectorPayload(), heads: '2' }), /\/heads: expected integer, got string "2"/);
  assert.throws(() => checkTimeline({ ...timelinePayload(), curves: { infoGain: [1, 'a', 2] } }), /\/curves\/infoGain\/1: expected number or null/);
  assert.throws(() => checkTimeline([]), /the timeline payload is not an object/);
  assert.throws(() => checkInspector({ ...inspectorPayload(), scores: { aggregate: [[1, 2]] } }), /one entry per step/);
  assert.throws(() => checkTimeline({ ...timelinePayload(), curves: { infoGain: [1] } }), /one value per step/);
  assert.equal(checkTimeline(timelinePayload()).steps.length, 3);
});

test('inspector: tokens coloured by kind, overview, the initial map with the ENV -> pre-LAN cell', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  const toks = h.querySelectorAll('.gl-tokens .gl-tok[data-pos]');
  assert.equal(toks.length, TOKENS.length);
  assert.deepEqual(Array.from(toks, (t) => t.textContent), TOKENS);
  assert.ok(toks[2].classList.contains('gl-kind-ENV') && toks[2].classList.contains('gl-tok-env-slot'));
  assert.ok(toks[0].classList.contains('gl-kind-speaker'));
  assert.ok(toks[5].classList.contains('gl-tok-pred'));
  assert.equal(text(h, '.gl-tokens .gl-target'), '-> ball<LAN>');
  // controls reflect the initial state
  assert.equal((q(h, '.gl-example') as HTMLSelectElement).value, 'ex1');
  assert.equal((q(h, '.gl-kind') as HTMLSelectElement).value, 'attention');
  assert.equal(text(h, '.gl-step-label'), 'step 200 (2/2)');
  // overview: one rect per head (plus the selection outline), drawn by vega
  const overviewRects = h.querySelectorAll('.gl-overview svg path.mark-rect, .gl-overview svg g.mark-rect path');
  assert.ok(overviewRects.length >= 3 * 2, `overview has ${overviewRects.length} rect paths`);
  assert.match(text(h, '.gl-overview').concat(text(h, '.gl-caption')), /aggregate score per head at step 200 \(threshold 0.3\)/);
  // the map: an image with the marker, the status names the ENV -> pre-LAN cell and its value
  assert.equal(h.dataset.map, 'shown');
  assert.equal(h.querySelectorAll('.gl-map svg image').length, 1);
  assert.match(q(h, '.gl-map svg image').getAttribute('href') ?? '', /^data:image\/bmp;base64,/);
  const cell = (5 * 6 + 2) / 35; // fixture value at (q=5, k=2)
  assert.match(text(h, '.gl-map-status'), /^attention map of L2 H1 at step 200, example ex1: ball \(match\).*ENV -> pre-LAN cell \(row 5, column 2\) = /);
  assert.ok(Math.abs(Number(h.dataset.envCell) - cell) < 0.003, `env cell ${h.dataset.envCell} vs ${cell}`);
  assert.equal(text(h, '.gl-legend-title'), 'attention');
  assert.equal(text(h, '.gl-legend-min'), '0');
  assert.match(text(h, '.gl-note'), /carries per-head scores for all 2 checkpoints and 4 token x token maps .*3 more maps were left out/);
  v.dispose();
});

test('inspector: hover readout names tokens and value; a head without a map says what is not carried', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  (v as unknown as { showCell(q: number, k: number, x: number | null): void }).showCell(5, 2, v.cellValue(5, 2));
  assert.match(text(h, '.gl-map-readout'), /^query 5 "this" <- key 2 "ball<ENV>": 0\.91\d* \[ENV -> pre-LAN\]$/);
  assert.ok(h.querySelectorAll('.gl-tokens .gl-tok-q')[0].textContent === 'this');
  assert.equal(v.cellValue(1, 4), null, 'cells above the diagonal are not stored');
  // the readout follows a change of map: saliency doubles the fixture's values
  await v.setKind('saliency');
  assert.match(text(h, '.gl-map-readout'), /^query 5 "this" <- key 2 "ball<ENV>": 1\.8\d* \[ENV -> pre-LAN\]$/);
  await v.setKind('attention');
  await v.selectHead(0, 1);
  assert.equal(h.dataset.head, '0.1');
  assert.equal(h.dataset.map, 'missing');
  assert.match(text(h, '.gl-map-status'), /^Not carried in this bundle: the attention map of L0 H1 at step 200, example ex1: ball \(match\)\. Heads with a attention map here: L2H1\./);
  assert.equal(q(h, '.gl-map').style.display, 'none');
  // a head that has a map at another checkpoint says at which
  await v.selectHead(1, 0);
  assert.match(text(h, '.gl-map-status'), /This head has one at step 100\./);
  await v.setStepIndex(0);
  assert.equal(h.dataset.map, 'shown');
  assert.equal(text(h, '.gl-step-label'), 'step 100 (1/2)');
  v.dispose();
});

test('inspector: switch to saliency, to mismatch, to another example and score', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  const kind = q(h, '.gl-kind') as HTMLSelectElement;
  kind.value = 'saliency';
  kind.dispatchEvent(new window.Event('change'));
  await v.update();
  assert.equal(h.dataset.kind, 'saliency');
  assert.match(text(h, '.gl-map-status'), /^saliency map of L2 H1 at step 200/);
  assert.equal(text(h, '.gl-legend-title'), 'saliency');
  assert.equal(text(h, '.gl-legend-max'), fmt(2 * 1), 'the saliency fixture is scaled by 2');
  await v.setKind('attention');
  await v.setVariant('mismatch');
  assert.equal(text(h, '.gl-tokens .gl-tok-env-slot'), 'cup<ENV>');
  assert.equal(h.dataset.map, 'shown');
  // ex2 has no mismatch variant: switching to it falls back to match and disables the option
  await v.setExample('ex2');
  assert.equal(h.dataset.variant, 'match');
  assert.equal((q(h, '.gl-variant') as HTMLSelectElement).options[1].disabled, true);
  assert.equal(h.querySelectorAll('.gl-tokens .gl-tok[data-pos]').length, 4);
  await v.setScore('gather');
  assert.match(text(h, '.gl-caption'), /^gather score per head at step 200;/);
  v.dispose();
});

test('inspector: a click on an overview cell (vega event) selects that head', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  // the first rect group holds one path per head in data order (layer-major)
  const paths = Array.from(h.querySelectorAll('.gl-overview svg g.mark-rect'))[0].querySelectorAll('path');
  assert.equal(paths.length, 6);
  const target = paths[2]; // layer 1, head 0
  const before = Number(h.dataset.updates);
  target.dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
  await new Promise((r) => setTimeout(r, 20));
  await v.update();
  assert.ok(Number(h.dataset.updates) > before);
  assert.equal(h.dataset.head, '1.0');
  v.dispose();
});

test('timeline: readout per curve, says which curves are not carried, scrubber moves linked inspectors', async () => {
  const ht = host();
  const hi = host();
  const t = new TimelineView(ht, timelinePayload(), { renderer: 'svg' });
  const v = new InspectorView(hi, inspectorPayload(), { renderer: 'svg' });
  await Promise.all([t.ready, v.ready]);
  assert.equal(listenerCount('unit'), 2);
  assert.equal(text(ht, '.gl-step-label'), 'step 200 (3/3)');
  const vals = Array.from(ht.querySelectorAll('.gl-tl-value'), (e) => e.textContent);
  assert.deepEqual(vals, ['surprisal, match: 4', 'surprisal, mismatch: 5.9', 'information gain G: 1.9', 'aggregate heads: n/a']);
  assert.match(text(ht, '.gl-note'), /Not carried in this bundle: R² vs co-occurrence, gather heads\./);
  assert.ok(ht.querySelectorAll('.gl-tl-chart svg path').length > 0);
  // move the scrubber like a user: set the range value and fire 'input'
  const s = q(ht, '.gl-scrubber') as HTMLInputElement;
  s.value = '0';
  s.dispatchEvent(new window.Event('input'));
  await t.update();
  await v.update();
  assert.equal(ht.dataset.step, '100');
  assert.equal(text(ht, '.gl-tl-value[data-curve=infoGain]'), 'information gain G: 0.1');
  assert.equal(hi.dataset.step, '100', 'the linked inspector follows');
  // 150 is not an inspector checkpoint: it goes to the nearest one (ties to the earlier)
  s.value = '1';
  s.dispatchEvent(new window.Event('input'));
  await t.update();
  await v.update();
  assert.equal(hi.dataset.step, '100');
  // arrow keys on the focused scrubber are handled by the widget (JupyterLab would take them)
  const key = (k: string) => {
    const e = new window.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true });
    s.dispatchEvent(e);
    return e.defaultPrevented;
  };
  assert.equal(key('End'), true);
  await t.update();
  assert.equal(ht.dataset.step, '200');
  key('ArrowLeft');
  await t.update();
  assert.equal(ht.dataset.step, '150');
  assert.equal(key('a'), false, 'other keys pass through');
  // and the inspector's own slider moves the timeline
  await v.setStepIndex(1);
  await t.update();
  assert.equal(ht.dataset.step, '200');
  t.dispose();
  v.dispose();
  assert.equal(listenerCount('unit'), 0);
});

test('bus.nearestIndex, sliderKey and raster helpers', () => {
  assert.equal(sliderKey('ArrowRight', 9, 10), 9);
  assert.equal(sliderKey('PageUp', 0, 30), 3);
  assert.equal(sliderKey('Home', 5, 10), 0);
  assert.equal(sliderKey('x', 5, 10), null);
  assert.equal(nearestIndex([100, 200, 400], 290), 1);
  assert.equal(nearestIndex([100, 200, 400], 150), 0);
  assert.deepEqual(parseColor('#ff8000'), [255, 128, 0]);
  assert.deepEqual(parseColor('rgb(1, 2, 3)'), [1, 2, 3]);
  const lut = colorLut('blues', 0, 1, false);
  assert.equal(lut.length, 768);
  assert.ok(lut[0] > lut[255 * 3], 'blues: low values are lighter');
  const url = bmpDataUrl(new Uint8Array([0, 0, 255, 128]), new Uint8Array([1, 0, 1, 1]), 2, lut, [9, 9, 9]);
  const bytes = Buffer.from(url.split(',')[1], 'base64');
  assert.equal(bytes.toString('latin1', 0, 2), 'BM');
  assert.equal(bytes.readInt32LE(18), 2);
  // bottom-up rows of 8 bytes (6 + 2 padding): first stored row is q = 1: cells (1,0)=255, (1,1)=128
  assert.deepEqual([...bytes.subarray(54, 57)], [lut[255 * 3 + 2], lut[255 * 3 + 1], lut[255 * 3]]);
  // row q = 0: (0,0) = byte 0, (0,1) not present -> the empty colour
  assert.deepEqual([...bytes.subarray(62, 68)], [lut[2], lut[1], lut[0], 9, 9, 9]);
});

test('inspector: token labels on both map axes, coloured by kind', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  const labels = Array.from(h.querySelectorAll('.gl-map svg .role-axis-label text'), (t) => t.textContent);
  // six tokens on the key axis and six on the query axis
  for (const tok of TOKENS) assert.equal(labels.filter((x) => x === tok).length, 2, `${tok} labelled on both axes: ${JSON.stringify(labels)}`);
  const env = Array.from(h.querySelectorAll('.gl-map svg .role-axis-label text')).find((t) => t.textContent === 'ball<ENV>')!;
  assert.equal(env.getAttribute('fill'), '#e8590c', 'the ENV token label has the ENV colour');
  // the mismatch variant relabels the axes
  await v.setVariant('mismatch');
  assert.ok(Array.from(h.querySelectorAll('.gl-map svg .role-axis-label text'), (t) => t.textContent).includes('cup<ENV>'));
  v.dispose();
});

test('inspector: colour scales shared by all heads and checkpoints (each kind its range over the bundle), or per map', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  const p = v.payload;
  const att = p.maps.find((m) => m.kind === 'attention' && m.variant === 'mismatch')!; // values scaled by 0.5: max 0.5
  const sal = p.maps.find((m) => m.kind === 'saliency')!; // max 2
  assert.deepEqual(v.mapDomain(att).domain, [0, 1]);
  assert.deepEqual(v.mapDomain(sal).domain, [0, 2]);
  // the same value gets the same colour in two attention maps of different ranges
  const lutOf = (m: typeof att) => (v as unknown as { lutFor(m: unknown): Uint8Array }).lutFor(m);
  const full = p.maps.find((m) => m.kind === 'attention' && m.variant === 'match' && m.step === 200)!; // max 1
  const a = lutOf(att);
  const b = lutOf(full);
  // byte 255 of the half-range map (value 0.5) and byte ~128 of the full-range map (value ~0.5)
  const rgb = (lut: Uint8Array, i: number) => [lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]];
  const dist = rgb(a, 255).map((x, k) => Math.abs(x - rgb(b, 128)[k]));
  assert.ok(Math.max(...dist) <= 3, `same value, same colour: ${rgb(a, 255)} vs ${rgb(b, 128)}`);
  await v.setVariant('mismatch');
  assert.equal(text(h, '.gl-legend-max'), '1');
  assert.match(text(h, '.gl-legend-scope'), /shared by all heads and checkpoints/);
  assert.equal(text(h, '.gl-legend-unit'), 'attention probability');
  await v.setScale('map');
  assert.equal(h.dataset.scale, 'map');
  assert.equal(text(h, '.gl-legend-max'), '0.5');
  assert.deepEqual(v.mapDomain(att).domain, [0, 0.5]);
  // the overview's colours span the score's range over every checkpoint
  assert.deepEqual(v.scoreDomain('aggregate'), [0, 0.6]);
  assert.match(text(h, '.gl-caption'), /colours span 0\.\.0\.6, its range over all checkpoints/);
  v.dispose();
});

test('inspector: small multiples of a layer or of every head; a click selects the head', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  // layer 2 (the selected head's): 2 heads, one map carried (L2H1 attention at step 200)
  assert.equal(h.querySelectorAll('.gl-multiples-grid .gl-mult').length, 2);
  assert.equal(h.querySelectorAll('.gl-multiples-grid img.gl-mult-img').length, 1);
  assert.equal(h.dataset.multiples, '1');
  assert.ok(q(h, '.gl-mult[data-head="2.1"]').classList.contains('gl-mult-selected'));
  assert.match((q(h, '.gl-mult[data-head="2.1"] img') as HTMLImageElement).src, /^data:image\/bmp;base64,/);
  assert.equal(text(h, '.gl-mult[data-head="2.0"] .gl-mult-none'), 'not carried');
  assert.match(text(h, '.gl-multiples-caption'), /attention maps of every head of layer 2 at step 200 \(1 carried\), one colour scale shared/);
  await v.setMultiples('model');
  assert.equal(h.querySelectorAll('.gl-multiples-grid .gl-mult').length, 6);
  q(h, '.gl-mult[data-head="1.0"]').dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
  await new Promise((r) => setTimeout(r, 10));
  await v.update();
  assert.equal(h.dataset.head, '1.0');
  await v.setMultiples('off');
  assert.equal(h.querySelectorAll('.gl-multiples-grid .gl-mult').length, 0);
  v.dispose();
});

test('inspector: the layers x checkpoints view; a click on a column moves the checkpoint', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  const groups = Array.from(h.querySelectorAll('.gl-layers svg g.mark-rect'));
  const cells = groups[0].querySelectorAll('path');
  assert.equal(cells.length, 3 * 2, 'layers x checkpoints cells');
  assert.match(text(h, '.gl-layers-caption'), /^largest aggregate score over each layer's heads, per checkpoint/);
  assert.ok(Array.from(h.querySelectorAll('.gl-layers svg .role-axis-label text'), (t) => t.textContent).includes('100'), 'columns are labelled by step');
  // cells are in data order: checkpoint-major (c = 0: layers 0..2, then c = 1)
  cells[1].dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
  await new Promise((r) => setTimeout(r, 20));
  await v.update();
  assert.equal(h.dataset.step, '100');
  v.dispose();
});

test('inspector: a tooltip beside the hovered cell names the tokens and the value', async () => {
  const h = host();
  const v = new InspectorView(h, inspectorPayload(), { renderer: 'svg' });
  await v.ready;
  const pt = v.cellPoint(5, 2)!;
  const svg = q(h, '.gl-map svg');
  svg.dispatchEvent(new window.MouseEvent('mousemove', { bubbles: true, clientX: pt.x, clientY: pt.y }));
  await new Promise((r) => setTimeout(r, 20));
  const tip = q(h, '.gl-panel-map .gl-tooltip');
  assert.equal(tip.style.display, 'block');
  assert.equal(tip.textContent, `query 5 "this"\n<- key 2 "ball<ENV>"\nattention ${fmt(v.cellValue(5, 2))} [ENV -> pre-LAN]`);
  assert.match(text(h, '.gl-map-readout'), /^query 5 "this" <- key 2 "ball<ENV>": 0\.9\d* \[ENV -> pre-LAN\]$/);
  assert.match(tip.style.left, /^\d+(\.\d+)?px$/);
  q(h, '.gl-panel-map .gl-tip-host').dispatchEvent(new window.MouseEvent('mouseleave'));
  assert.equal(tip.style.display, 'none');
  v.dispose();
});

test('timeline: log-scaled step axis by default when the steps span a factor of 20 or more; a checkbox switches it', async () => {
  const h = host();
  const wide = { ...timelinePayload(), steps: [0, 10, 1000] };
  const t = new TimelineView(h, wide, { renderer: 'svg' });
  await t.ready;
  assert.equal(h.dataset.logSteps, 'true');
  assert.equal((q(h, '.gl-log-steps') as HTMLInputElement).checked, true);
  const titles = Array.from(h.querySelectorAll('.gl-tl-chart svg .role-axis-title text'), (x) => x.textContent);
  assert.ok(titles.includes('step (log scale)'), JSON.stringify(titles));
  // on the symlog axis, step 10 sits about a third of the way from 0 to 1000, not at 1%
  const sx = (t as unknown as { view: { scale(n: string): (x: number) => number } }).view.scale('concat_0_x');
  const frac = (sx(10) - sx(0)) / (sx(1000) - sx(0));
  assert.ok(frac > 0.3 && frac < 0.4, `step 10 at ${frac}`);
  await t.setLogSteps(false);
  const lin = (t as unknown as { view: { scale(n: string): (x: number) => number } }).view.scale('concat_0_x');
  assert.ok(Math.abs((lin(10) - lin(0)) / (lin(1000) - lin(0)) - 0.01) < 1e-9);
  assert.equal(h.dataset.logSteps, 'false');
  const narrow = new TimelineView(host(), timelinePayload(), { renderer: 'svg' });
  await narrow.ready;
  assert.equal(narrow.logSteps, false, 'steps 100..200: linear');
  assert.deepEqual(logTicks(0, 1500), [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
  t.dispose();
  narrow.dispose();
});

test('thumbnail: maps larger than the thumbnail are max-pooled, keeping strong cells and the causal shape', () => {
  const n = 6;
  const bytes = new Uint8Array(n * n);
  const present = new Uint8Array(n * n);
  for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) present[q * n + k] = 1;
  bytes[5 * n + 2] = 200; // one strong cell
  bytes[1 * n + 0] = 10;
  const t = thumbnail({ bytes, present }, n, 3);
  assert.equal(t.n, 3);
  assert.equal(t.bytes[2 * 3 + 1], 200, 'the strong cell survives in its 2 x 2 block');
  assert.equal(t.bytes[0], 10);
  assert.deepEqual(Array.from(t.present!), [1, 0, 0, 1, 1, 0, 1, 1, 1], 'blocks above the diagonal stay empty');
  const small = thumbnail({ bytes, present }, n, 64);
  assert.equal(small.n, 6);
  assert.equal(small.bytes, bytes);
});
