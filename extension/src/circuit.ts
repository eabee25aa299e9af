/**
 * The circuit graph: the model's components as nodes laid out by layer (embeddings, heads
 * L{l}H{h}, MLPs, logits; circuitlayout.ts) and the traced paths as edges, width by the size of the
 * chosen measure (exact path-patching effect, edge-attribution estimate or recovery), colour by its
 * sign; a threshold slider hides the weaker edges; hovering an edge or a node shows its numbers.
 * The checkpoint follows the timeline (link key), like the inspector. Nothing is computed here.
 */
import { checkCircuit, CircuitNode, CircuitPath, CircuitPayload, fmt } from './payload';
import { circuitLayout, CircuitLayout, edgeCurve, edgePath, edgePointAt, inputBend } from './circuitlayout';
import { colorLut, parseColor } from './raster';
import { themeColors } from './theme';
import { el, isDark, labelled, selectOf, showTip, SliderView, tipHost, titleBar } from './common';
import { EDGE_COLORS } from './palette';
import type { WidgetOptions } from './inspector';

export type CircuitMeasure = 'effect' | 'attribution' | 'recovery';
export const MEASURE_LABELS: Record<CircuitMeasure, string> = {
  effect: 'path-patching effect (nats)',
  attribution: 'edge attribution estimate (nats)',
  recovery: 'recovery (share of clean - corrupted)',
};
/** Edge colours (the same as groundlab's static fallback): toward the clean answer blue, away orange. */
export { EDGE_COLORS };
const RING = { gather: '#f59f00', aggregate: '#d6336c' };
const SVG_NS = 'http://www.w3.org/2000/svg';
const STEPS_OF_THRESHOLD = 200;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export interface CircuitState {
  measure: CircuitMeasure;
  input: 'all' | CircuitPath['input'];
  threshold: number;
  /** A node whose edges alone are shown (a click on it), or null for every edge. */
  focus: string | null;
}

export class CircuitView extends SliderView<CircuitPayload> {
  readonly ready: Promise<void>;
  readonly state: CircuitState;
  readonly layout: CircuitLayout;
  protected readonly ui: {
    measure: HTMLSelectElement;
    input: HTMLSelectElement;
    threshold: HTMLInputElement;
    thresholdLabel: HTMLElement;
    caption: HTMLElement;
    graph: HTMLElement;
    tip: HTMLElement;
    readout: HTMLElement;
    legend: HTMLElement;
    note: HTMLElement;
  };
  private hover: { edge?: number; node?: string } = {};

  constructor(host: HTMLElement, payload: unknown, _options: WidgetOptions = {}) {
    super(host, checkCircuit(payload), 'gl-circuit', 'circuit graph');
    const p = this.payload;
    this.layout = circuitLayout(p.nodes, p.layers, p.heads);
    this.state = { measure: 'effect', input: 'all', threshold: p.threshold, focus: null };
    const measure = selectOf(
      'gl-measure',
      (Object.keys(MEASURE_LABELS) as CircuitMeasure[]).filter((m) => p[m]).map((m) => [MEASURE_LABELS[m], m]),
    );
    const inputs = [...new Set(p.paths.map((x) => x.input))];
    const input = selectOf('gl-input', [
      ['every input', 'all'],
      ...inputs.map((i): [string, string] => [i === 'logits' ? 'logits (direct)' : i === 'mlp' ? 'MLP input' : `${i} of a head`, i]),
    ]);
    const threshold = el('input', 'gl-threshold');
    threshold.type = 'range';
    threshold.min = '0';
    threshold.max = String(STEPS_OF_THRESHOLD);
    threshold.step = '1';
    threshold.setAttribute('aria-label', 'edge threshold');
    const thresholdLabel = el('span', 'gl-threshold-label');
    const tbox = el('span', 'gl-step-box');
    tbox.append(threshold, thresholdLabel);
    const controls = el('div', 'gl-controls');
    controls.append(
      labelled('edges', measure),
      labelled('receiver input', input),
      labelled('show |value| at least', tbox),
      labelled('checkpoint', this.slider.box),
    );
    const caption = el('div', 'gl-caption gl-circuit-caption');
    const graph = el('div', 'gl-circuit-graph');
    const { wrap, tip } = tipHost(graph);
    const readout = el(
      'div',
      'gl-readout gl-circuit-readout',
      'hover an edge or a node for its numbers; click a node to show its edges only',
    );
    const legend = el('div', 'gl-caption gl-circuit-legend');
    const note = el('div', 'gl-note');
    host.append(titleBar(p.title, p.model), controls, caption, wrap, readout, legend, note);
    this.ui = { measure, input, threshold, thresholdLabel, caption, graph, tip, readout, legend, note };
    measure.addEventListener('change', () => void this.setMeasure(measure.value as CircuitMeasure));
    input.addEventListener('change', () => void this.setInput(input.value as CircuitState['input']));
    threshold.addEventListener('input', () => void this.setThreshold((Number(threshold.value) / STEPS_OF_THRESHOLD) * this.maxAbs()));
    this.ready = this.start(() => void this.update());
  }

  // --- actions -------------------------------------------------------------------------------

  setMeasure(m: CircuitMeasure): Promise<void> {
    if (!this.payload[m]) return Promise.resolve();
    // keep the same share of the range when the measure changes
    const share = this.state.threshold / this.maxAbs();
    this.state.measure = m;
    this.state.threshold = share * this.maxAbs();
    return this.update();
  }

  setInput(i: CircuitState['input']): Promise<void> {
    this.state.input = i;
    return this.update();
  }

  /** Shows only the edges into and out of `id` (null: every edge); a click on a node toggles it. */
  setFocus(id: string | null): Promise<void> {
    this.state.focus = id && this.layout.at.has(id) ? id : null;
    return this.update();
  }

  setThreshold(v: number): Promise<void> {
    this.state.threshold = Math.max(0, v);
    return this.update();
  }

  /** The largest |value| of the current measure over every path and checkpoint (edge widths and the slider share it). */
  maxAbs(): number {
    let m = 0;
    for (const row of this.payload[this.state.measure] ?? []) for (const v of row) if (v != null) m = Math.max(m, Math.abs(v));
    return m || 1;
  }

  /** The paths shown now: measured at this checkpoint, of the chosen input, |value| >= threshold, at most maxEdges (largest first). */
  shownPaths(): { index: number; value: number }[] {
    const p = this.payload;
    const row = p[this.state.measure]![this.slider.c];
    const all = p.paths
      .map((x, index) => ({ index, value: row[index], input: x.input }))
      .filter((e): e is { index: number; value: number; input: CircuitPath['input'] } => e.value != null)
      .filter(
        (e) => (this.state.input === 'all' || e.input === this.state.input) && Math.abs(e.value) >= this.state.threshold && e.value !== 0,
      )
      .filter((e) => !this.state.focus || p.paths[e.index].sender === this.state.focus || p.paths[e.index].receiver === this.state.focus)
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
    this.host.dataset.hiddenByCap = String(Math.max(0, all.length - p.maxEdges));
    return all.slice(0, p.maxEdges).map(({ index, value }) => ({ index, value }));
  }

  /** The readout of path j at the current checkpoint: every measure the payload carries. */
  edgeText(j: number): string {
    const p = this.payload;
    const x = p.paths[j];
    const c = this.slider.c;
    const parts = (['effect', 'recovery', 'attribution'] as const)
      .filter((m) => p[m])
      .map((m) => `${m} ${fmt(p[m]![c][j])}${m === 'recovery' ? '' : ' nats'}`);
    const n = p.pairs?.[c];
    const t = p.tests?.[c]?.find((e) => e.path === j);
    const test = t
      ? `; path test ${t.test}: controls ${fmt(t.control)} nats, p ${fmt(t.p)}, ${t.significant ? 'significant' : 'not significant'}`
      : '';
    return `${x.sender} -> ${x.receiver}${x.input === 'logits' || x.input === 'mlp' ? '' : `.${x.input}`} at step ${p.steps[c]}: ${parts.join(', ')}${n != null ? ` (${n} pairs)` : ''}${test}`;
  }

  /** The readout of a node at the current checkpoint: DLA, role, the edges shown into and out of it. */
  nodeText(id: string): string {
    const p = this.payload;
    const c = this.slider.c;
    const k = p.nodes.findIndex((n) => n.id === id);
    const dla = p.dla?.[c]?.[k];
    const role = p.aggregate?.[c]?.includes(id) ? 'aggregate head' : p.gather?.[c]?.includes(id) ? 'gather head' : '';
    const shown = this.shownPaths();
    const into = shown.filter((e) => p.paths[e.index].receiver === id).length;
    const out = shown.filter((e) => p.paths[e.index].sender === id);
    const best = out[0] ? `; strongest out: -> ${p.paths[out[0].index].receiver} ${fmt(out[0].value)}` : '';
    const parts = [
      p.dla ? `direct logit attribution (match - mismatch) ${fmt(dla)}` : '',
      role,
      id === 'embed' && !p.paths.some((x) => x.sender === 'embed')
        ? 'no path from the embedding is carried (circuitsRun traces heads and MLPs)'
        : `edges shown: ${into} in, ${out.length} out${best}`,
    ].filter(Boolean);
    return `${id} at step ${p.steps[c]}: ${parts.join('; ')}`;
  }

  /** Page coordinates of path j's edge at t in [0, 1] along its curve (default the middle), or of a node (for UI tests that hover like a user). */
  edgePoint(j: number, t = 0.5): { x: number; y: number } | null {
    const e = this.ui.graph.querySelector(`path[data-path="${j}"]`);
    if (!e) return null;
    const x = this.payload.paths[j];
    const a = this.layout.at.get(x.sender)!;
    const b = this.layout.at.get(x.receiver)!;
    const pt = edgePointAt(edgeCurve(a, b, this.layout, inputBend(x.input, this.layout.r)), t);
    const box = (this.ui.graph.querySelector('svg') as SVGSVGElement).getBoundingClientRect();
    return { x: box.left + pt.x, y: box.top + pt.y };
  }

  nodePoint(id: string): { x: number; y: number } | null {
    const at = this.layout.at.get(id);
    const s = this.ui.graph.querySelector('svg');
    if (!at || !s) return null;
    const box = s.getBoundingClientRect();
    return { x: box.left + at.x, y: box.top + at.y };
  }

  // --- rendering -----------------------------------------------------------------------------

  private nodeFill(v: number | null | undefined, lut: Uint8Array, M: number, bg: string): string {
    if (v == null) return bg;
    const b = Math.max(0, Math.min(255, Math.round(((v + M) / (2 * M)) * 255)));
    return `rgb(${lut[b * 3]},${lut[b * 3 + 1]},${lut[b * 3 + 2]})`;
  }

  protected async render(): Promise<void> {
    if (this.disposed) return;
    const p = this.payload;
    const s = this.state;
    const c = this.slider.c;
    const step = p.steps[c];
    this.slider.sync();
    const max = this.maxAbs();
    this.ui.measure.value = s.measure;
    this.ui.input.value = s.input;
    this.ui.threshold.value = String(Math.round(Math.min(1, s.threshold / max) * STEPS_OF_THRESHOLD));
    this.ui.thresholdLabel.textContent = `${fmt(s.threshold)}${s.measure === 'recovery' ? '' : ' nats'}`;
    const shown = this.shownPaths();
    const theme = themeColors(this.host);
    const bg = theme.background;
    const lay = this.layout;
    const root = svg('svg', { width: lay.width, height: lay.height, viewBox: `0 0 ${lay.width} ${lay.height}`, class: 'gl-circuit-svg' });
    // layer labels above the head columns
    for (let l = 0; l < p.layers; l++) {
      const at = lay.at.get(`L${l}H0`);
      if (at)
        root.append(
          Object.assign(svg('text', { x: at.x, y: 12, 'text-anchor': 'middle', 'font-size': 10, fill: theme.muted }), {
            textContent: `layer ${l}`,
          }),
        );
    }
    const edges = svg('g', { class: 'gl-edges' });
    const significant = new Set((p.tests?.[c] ?? []).filter((t) => t.significant).map((t) => t.path));
    const tested = new Set((p.tests?.[c] ?? []).map((t) => t.path));
    // the weakest first, so the strongest lie on top
    for (const e of [...shown].reverse()) {
      const x = p.paths[e.index];
      const a = lay.at.get(x.sender)!;
      const b = lay.at.get(x.receiver)!;
      const path = svg('path', {
        d: edgePath(a, b, lay, inputBend(x.input, lay.r)),
        fill: 'none',
        stroke: e.value >= 0 ? EDGE_COLORS.positive : EDGE_COLORS.negative,
        'stroke-width': (0.6 + 6 * (Math.abs(e.value) / max)).toFixed(2),
        'stroke-opacity': 0.8,
        'stroke-dasharray': x.input === 'k' ? '5 2' : x.input === 'q' ? '2 2' : '',
        'data-path': e.index,
        'data-sender': x.sender,
        'data-receiver': x.receiver,
        'data-input': x.input,
        'data-value': e.value,
        class: 'gl-edge',
      });
      if (tested.has(e.index)) path.setAttribute('data-test', significant.has(e.index) ? 'significant' : 'tested');
      // a significant path of the path test gets a halo in the accent colour
      if (significant.has(e.index))
        edges.append(
          svg('path', {
            d: path.getAttribute('d')!,
            fill: 'none',
            stroke: theme.accent,
            'stroke-opacity': 0.35,
            'stroke-width': (Number(path.getAttribute('stroke-width')) + 6).toFixed(2),
            class: 'gl-edge-halo',
          }),
        );
      // a wider transparent twin takes the pointer: thin edges are easy to hover too
      const hit = svg('path', { d: path.getAttribute('d')!, fill: 'none', stroke: 'transparent', 'stroke-width': 9, class: 'gl-edge-hit' });
      for (const t of [path, hit]) t.addEventListener('mousemove', (ev) => this.hoverEdge(e.index, ev as MouseEvent));
      edges.append(path, hit);
    }
    root.append(edges);
    // nodes: fill by DLA (diverging, one range over every checkpoint), ring by role
    const dark = isDark(parseColor(bg));
    let M = 0;
    for (const row of p.dla ?? []) for (const v of row) if (v != null) M = Math.max(M, Math.abs(v));
    M = M || 1;
    const lut = colorLut('blueorange', -M, M, true, [-M, M]);
    const gather = new Set(p.gather?.[c] ?? []);
    const aggregate = new Set(p.aggregate?.[c] ?? []);
    const nodes = svg('g', { class: 'gl-nodes' });
    p.nodes.forEach((n: CircuitNode, k) => {
      const at = lay.at.get(n.id)!;
      const g = svg('g', { class: 'gl-node', 'data-node': n.id });
      const ring = aggregate.has(n.id) ? RING.aggregate : gather.has(n.id) ? RING.gather : theme.border;
      const shape =
        n.kind === 'head'
          ? svg('circle', { cx: at.x, cy: at.y, r: lay.r })
          : svg('rect', { x: at.x - lay.r, y: at.y - lay.r * 1.6, width: 2 * lay.r, height: 3.2 * lay.r, rx: 3 });
      shape.setAttribute('fill', this.nodeFill(p.dla?.[c]?.[k], lut, M, bg));
      shape.setAttribute('stroke', ring);
      shape.setAttribute('stroke-width', ring === theme.border ? '1' : '3');
      const label = svg('text', {
        x: at.x,
        y: n.kind === 'head' ? at.y + lay.r + 10 : at.y + lay.r * 1.6 + 11,
        'text-anchor': 'middle',
        'font-size': 9,
        fill: dark ? theme.text : theme.muted,
      });
      label.textContent = n.kind === 'head' ? `H${n.head}` : n.kind === 'mlp' ? `MLP${n.layer}` : n.id;
      g.append(shape, label);
      if (n.id === s.focus) {
        g.classList.add('gl-node-focus');
        shape.setAttribute('stroke-dasharray', '3 2');
        shape.setAttribute('stroke-width', '3');
        shape.setAttribute('stroke', theme.accent);
      }
      g.addEventListener('mousemove', (ev) => this.hoverNode(n.id, ev as MouseEvent));
      g.addEventListener('click', () => void this.setFocus(s.focus === n.id ? null : n.id));
      nodes.append(g);
    });
    root.append(nodes);
    this.ui.graph.textContent = '';
    this.ui.graph.append(root);
    const hidden = Number(this.host.dataset.hiddenByCap);
    this.ui.caption.textContent =
      `${MEASURE_LABELS[s.measure]} at step ${step}: ${shown.length} of ${p.paths.length} paths shown (|value| >= ${fmt(s.threshold)}` +
      (s.input === 'all' ? '' : `, into ${s.input}`) +
      (s.focus ? `, into and out of ${s.focus} only: click it again for all` : '') +
      `)${hidden ? `; ${hidden} more above the threshold hidden (at most ${p.maxEdges} edges)` : ''}; widths share one scale over all checkpoints (largest ${fmt(max)})`;
    this.ui.legend.textContent =
      `edges: blue = toward the clean answer, orange = away; solid v / MLP / logits, dashed k, dotted q` +
      (p.tests ? '; a halo: significant in the path test (p < 0.001, above its controls)' : '') +
      '. ' +
      `Nodes: fill = direct logit attribution (match - mismatch)${p.dla ? `, -${fmt(M)}..${fmt(M)}` : ': not carried'}; ring: aggregate head (pink), gather head (yellow).`;
    this.ui.note.textContent =
      `${p.paths.length} paths carried at ${p.steps.length} checkpoints` +
      (p.carried.omittedPaths ? `; ${p.carried.omittedPaths} weaker paths were left out by the producer` : '') +
      (p.paths.some((x) => x.sender === 'embed')
        ? '.'
        : '. No path from the embedding is carried: its node has no edges, only its DLA colour.');
    if (this.hover.edge != null) this.ui.readout.textContent = this.edgeText(this.hover.edge);
    else if (this.hover.node) this.ui.readout.textContent = this.nodeText(this.hover.node);
    this.host.dataset.step = String(step);
    this.host.dataset.edges = String(shown.length);
    this.host.dataset.threshold = String(s.threshold);
    this.host.dataset.measure = s.measure;
    this.host.dataset.focus = s.focus ?? '';
  }

  private hoverEdge(j: number, ev: MouseEvent): void {
    this.hover = { edge: j };
    const text = this.edgeText(j);
    this.ui.readout.textContent = text;
    showTip(this.ui.tip, this.host, ev.clientX, ev.clientY, text.replace(': ', ':\n').replace(/, /g, '\n'));
  }

  private hoverNode(id: string, ev: MouseEvent): void {
    this.hover = { node: id };
    const text = this.nodeText(id);
    this.ui.readout.textContent = text;
    showTip(this.ui.tip, this.host, ev.clientX, ev.clientY, text.replace(': ', ':\n').replace(/; /g, '\n'));
  }
}
