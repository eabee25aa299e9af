/**
 * The attention/saliency inspector: tokens coloured by kind, a layers x heads overview coloured by a
 * chosen per-head score, and the selected head's token x token map (attention or saliency) with the
 * ENV -> pre-LAN cell marked. Everything shown comes from the payload; nothing is computed here but
 * decoding and layout.
 */
import { RenderQueue } from './renderqueue';
import type { View } from 'vega';
import { publish, subscribe, nearestIndex, sliderKey, StepListener } from './bus';
import {
  checkInspector,
  decodeBytes,
  EncodedMap,
  fmt,
  HeadScore,
  InspectorPayload,
  MapKind,
  mapKey,
  SCORE_LABELS,
  Variant,
  VariantPayload,
} from './payload';
import { bmpDataUrl, colorLut, lutGradient, parseColor } from './raster';
import { onThemeChange, themeColors, vegaConfig } from './theme';
import { clientPoint, createView, RendererKind, setData } from './vegaview';
import { el, firstRender, isDark, labelled, showError, takeHost, tipHost, titleBar } from './common';

export interface WidgetOptions {
  /** 'canvas' in the browser (fast); 'svg' where no canvas exists (jsdom unit tests). */
  renderer?: RendererKind;
}

export interface InspectorState {
  c: number;
  example: string;
  variant: Variant;
  kind: MapKind;
  score: HeadScore;
  layer: number;
  head: number;
  /** Colour scale of the maps: 'shared' by every head and checkpoint of the bundle (comparable), or 'map' (each map's own range, more contrast). */
  scale: 'shared' | 'map';
  /** Small multiples of the maps: the selected head's layer, every head of the model, or none. */
  multiples: 'layer' | 'model' | 'off';
}

export const DEFAULT_UNITS: Record<MapKind, string> = { attention: 'attention probability', saliency: 'saliency' };

const CELL = 18;
/** Small multiples draw at most this many cells per side (larger maps are max-pooled). */
const THUMB_CELLS = 64;

/**
 * A map reduced to at most `max` x `max` cells for a thumbnail: each cell is the largest byte of its
 * f x f block (f = ceil(n / max)), so a strong cell never vanishes; present if any cell of the block is.
 */
export function thumbnail(
  dec: { bytes: Uint8Array; present: Uint8Array | null },
  n: number,
  max: number,
): { bytes: Uint8Array; present: Uint8Array | null; n: number } {
  if (n <= max) return { ...dec, n };
  const f = Math.ceil(n / max);
  const m = Math.ceil(n / f);
  const bytes = new Uint8Array(m * m);
  const present = dec.present ? new Uint8Array(m * m) : null;
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      const i = q * n + k;
      if (dec.present && !dec.present[i]) continue;
      const j = Math.floor(q / f) * m + Math.floor(k / f);
      if (dec.bytes[i] > bytes[j]) bytes[j] = dec.bytes[i];
      if (present) present[j] = 1;
    }
  }
  return { bytes, present, n: m };
}

export class InspectorView {
  readonly host: HTMLElement;
  readonly payload: InspectorPayload;
  readonly state: InspectorState;
  /** Resolves when the first render is done. */
  readonly ready: Promise<void>;
  private readonly renderer: RendererKind;
  private readonly mapsByKey = new Map<string, EncodedMap>();
  private readonly decoded = new Map<string, { bytes: Uint8Array; present: Uint8Array | null }>();
  private shownMap: EncodedMap | null = null;
  private hoverCell: { q: number; k: number } | null = null;
  private hoverHead: { l: number; h: number } | null = null;
  private overview?: View;
  private overviewSignature = '';
  private layerChart?: View;
  private layerSignature = '';
  private map?: View;
  private mapSignature = '';
  private readonly thumbs = new Map<string, string>();
  private readonly luts = new Map<string, Uint8Array>();
  private readonly renders: RenderQueue;
  private disposed = false;
  private readonly unsubscribe: () => void;
  private readonly unwatchTheme: () => void;
  private readonly onStep: StepListener;
  private readonly ui: {
    example: HTMLSelectElement;
    variant: HTMLSelectElement;
    kind: HTMLSelectElement;
    score: HTMLSelectElement;
    step: HTMLInputElement;
    stepLabel: HTMLElement;
    scale: HTMLSelectElement;
    multiples: HTMLSelectElement;
    tokens: HTMLElement;
    overview: HTMLElement;
    overviewWrap: HTMLElement;
    overviewTip: HTMLElement;
    layers: HTMLElement;
    layersCaption: HTMLElement;
    mapWrap: HTMLElement;
    mapTip: HTMLElement;
    multiplesBox: HTMLElement;
    multiplesCaption: HTMLElement;
    overviewCaption: HTMLElement;
    overviewReadout: HTMLElement;
    mapStatus: HTMLElement;
    map: HTMLElement;
    mapReadout: HTMLElement;
    mapLegend: HTMLElement;
    note: HTMLElement;
  };

  constructor(host: HTMLElement, payload: unknown, options: WidgetOptions = {}) {
    this.host = host;
    this.renders = new RenderQueue(
      host,
      () => this.render(),
      (e) => showError(this.ui.note, 'inspector', e),
    );
    this.payload = checkInspector(payload);
    this.renderer = options.renderer ?? 'canvas';
    const p = this.payload;
    for (const m of p.maps) this.mapsByKey.set(mapKey(m.step, m.example, m.variant, m.kind, m.layer, m.head), m);
    const init = p.initial;
    this.state = {
      c: Math.max(0, p.steps.indexOf(init.step)),
      example: init.example,
      variant: init.variant,
      kind: init.kind,
      score: p.scores[init.score] ? init.score : (Object.keys(p.scores)[0] as HeadScore),
      layer: init.layer,
      head: init.head,
      scale: 'shared',
      multiples: 'layer',
    };
    takeHost(host, 'gl-inspector', p.link);

    const title = titleBar(p.title, p.model);
    const example = el('select', 'gl-example');
    for (const ex of p.examples) example.append(new Option(ex.label, ex.id));
    const variant = el('select', 'gl-variant');
    variant.append(new Option('match', 'match'), new Option('mismatch', 'mismatch'));
    const kind = el('select', 'gl-kind');
    kind.append(new Option('attention', 'attention'), new Option('saliency', 'saliency'));
    const score = el('select', 'gl-score');
    for (const s of Object.keys(p.scores) as HeadScore[]) score.append(new Option(SCORE_LABELS[s] ?? s, s));
    const step = el('input', 'gl-step');
    step.type = 'range';
    step.min = '0';
    step.max = String(p.steps.length - 1);
    step.step = '1';
    const stepLabel = el('span', 'gl-step-label');
    const scale = el('select', 'gl-scale');
    scale.append(new Option('shared by all heads and checkpoints', 'shared'), new Option('each map its own range', 'map'));
    const multiples = el('select', 'gl-multiples');
    multiples.append(new Option("the selected head's layer", 'layer'), new Option('every head', 'model'), new Option('none', 'off'));
    const controls = el('div', 'gl-controls');
    const stepBox = el('span', 'gl-step-box');
    stepBox.append(step, stepLabel);
    controls.append(
      labelled('example', example),
      labelled('variant', variant),
      labelled('map', kind),
      labelled('colour heads by', score),
      labelled('map colours', scale),
      labelled('small multiples', multiples),
      labelled('checkpoint', stepBox),
    );

    const tokens = el('div', 'gl-tokens');
    const legend = el('div', 'gl-kind-legend');
    for (const k of ['ENV', 'LAN', 'speaker', 'other']) legend.append(el('span', `gl-tok gl-kind-${k}`, k));
    legend.append(el('span', 'gl-tok gl-tok-env-slot', 'ENV slot'), el('span', 'gl-tok gl-tok-pred', 'pre-LAN position'));

    const panels = el('div', 'gl-panels');
    const left = el('div', 'gl-panel gl-panel-overview');
    const overviewCaption = el('div', 'gl-caption');
    const overview = el('div', 'gl-overview');
    const { wrap: overviewWrap, tip: overviewTip } = tipHost(overview);
    const overviewReadout = el('div', 'gl-readout gl-overview-readout', 'hover a head for its scores; click it to show its map');
    const layersCaption = el('div', 'gl-caption gl-layers-caption');
    const layers = el('div', 'gl-layers');
    left.append(overviewCaption, overviewWrap, overviewReadout, layersCaption, layers);
    const right = el('div', 'gl-panel gl-panel-map');
    const mapStatus = el('div', 'gl-caption gl-map-status');
    const map = el('div', 'gl-map');
    const { wrap: mapWrap, tip: mapTip } = tipHost(map);
    const mapReadout = el('div', 'gl-readout gl-map-readout', 'hover a cell for its value');
    const mapLegend = el('div', 'gl-map-legend');
    const mapRow = el('div', 'gl-map-row');
    mapRow.append(mapWrap, mapLegend);
    right.append(mapStatus, mapReadout, mapRow);
    panels.append(left, right);
    const multiplesCaption = el('div', 'gl-caption gl-multiples-caption');
    const multiplesBox = el('div', 'gl-multiples-grid');
    const note = el('div', 'gl-note');
    host.append(title, controls, legend, tokens, panels, multiplesCaption, multiplesBox, note);
    this.ui = {
      example,
      variant,
      kind,
      score,
      step,
      stepLabel,
      scale,
      multiples,
      tokens,
      overview,
      overviewWrap,
      overviewTip,
      overviewCaption,
      overviewReadout,
      layers,
      layersCaption,
      mapStatus,
      mapWrap,
      mapTip,
      map,
      mapReadout,
      mapLegend,
      multiplesBox,
      multiplesCaption,
      note,
    };
    scale.addEventListener('change', () => this.setScale(scale.value as InspectorState['scale']));
    multiples.addEventListener('change', () => this.setMultiples(multiples.value as InspectorState['multiples']));

    example.addEventListener('change', () => this.setExample(example.value));
    variant.addEventListener('change', () => this.setVariant(variant.value as Variant));
    kind.addEventListener('change', () => this.setKind(kind.value as MapKind));
    score.addEventListener('change', () => this.setScore(score.value as HeadScore));
    step.addEventListener('input', () => this.setStepIndex(Number(step.value)));
    step.addEventListener('keydown', (e) => {
      const next = sliderKey(e.key, this.state.c, this.payload.steps.length);
      if (next == null) return;
      e.preventDefault();
      e.stopPropagation();
      void this.setStepIndex(next);
    });

    this.onStep = (s: number) => {
      const c = nearestIndex(this.payload.steps, s);
      if (c !== this.state.c) {
        this.state.c = c;
        void this.update();
      }
    };
    this.unsubscribe = subscribe(p.link, this.onStep);
    this.unwatchTheme = onThemeChange(() => this.rebuildViews());
    this.ready = firstRender(host, () => this.update());
  }

  // --- public actions (the controls call these; tests may too) -------------------------------

  selectHead(layer: number, head: number): Promise<void> {
    if (layer < 0 || layer >= this.payload.layers || head < 0 || head >= this.payload.heads) return Promise.resolve();
    this.state.layer = layer;
    this.state.head = head;
    return this.update();
  }

  setKind(kind: MapKind): Promise<void> {
    this.state.kind = kind;
    return this.update();
  }

  setVariant(variant: Variant): Promise<void> {
    this.state.variant = variant;
    return this.update();
  }

  setExample(id: string): Promise<void> {
    if (!this.payload.examples.some((e) => e.id === id)) return Promise.resolve();
    this.state.example = id;
    if (!this.currentExample().variants[this.state.variant]) this.state.variant = 'match';
    return this.update();
  }

  setScore(score: HeadScore): Promise<void> {
    if (!this.payload.scores[score]) return Promise.resolve();
    this.state.score = score;
    return this.update();
  }

  setScale(scale: InspectorState['scale']): Promise<void> {
    this.state.scale = scale === 'map' ? 'map' : 'shared';
    return this.update();
  }

  setMultiples(m: InspectorState['multiples']): Promise<void> {
    this.state.multiples = m === 'model' || m === 'off' ? m : 'layer';
    return this.update();
  }

  setStepIndex(c: number): Promise<void> {
    const cc = Math.max(0, Math.min(this.payload.steps.length - 1, Math.round(c)));
    this.state.c = cc;
    publish(this.payload.link, this.payload.steps[cc], this.onStep);
    return this.update();
  }

  /** Page coordinates of a head's cell in the overview (for UI tests that click like a user). */
  headPoint(layer: number, head: number): { x: number; y: number } | null {
    if (!this.overview) return null;
    return clientPoint(this.overview, this.ui.overview, 'x', head, 'y', layer);
  }

  /** Page coordinates of a map cell (query row q, key column k). */
  cellPoint(q: number, k: number): { x: number; y: number } | null {
    if (!this.map || this.ui.map.style.display === 'none') return null;
    return clientPoint(this.map, this.ui.map, 'x', k + 0.5, 'y', q + 0.5);
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe();
    this.unwatchTheme();
    this.overview?.finalize();
    this.layerChart?.finalize();
    this.map?.finalize();
  }

  /**
   * The value range a map's colours span. Shared scale: one range per kind of map for the whole
   * bundle, [min(0, smallest value), largest value] over all carried maps of that kind, so that a
   * colour means the same value in every head and at every checkpoint (for softmax attention the
   * largest value is about 1: some head attends fully to one token). Per-map scale: the map's own range.
   */
  mapDomain(m: Pick<EncodedMap, 'kind' | 'min' | 'max'>): { domain: [number, number]; signed: boolean; shared: boolean } {
    if (this.state.scale === 'map') return { domain: [Math.min(0, m.min), m.max], signed: m.min < 0, shared: false };
    let lo = 0;
    let hi = -Infinity;
    for (const x of this.payload.maps) {
      if (x.kind !== m.kind) continue;
      lo = Math.min(lo, x.min);
      hi = Math.max(hi, x.max);
    }
    if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1;
    return { domain: [lo, hi], signed: lo < 0, shared: true };
  }

  /** The range of a per-head score over every checkpoint (the overview's colours are comparable across checkpoints). */
  scoreDomain(score: HeadScore): [number, number] {
    let lo = 0;
    let hi = 0;
    for (const g of this.payload.scores[score] ?? []) for (const v of g) if (v != null) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    return [lo, hi > lo ? hi : lo + 1];
  }

  private lutFor(m: EncodedMap): Uint8Array {
    const { domain, signed } = this.mapDomain(m);
    const name = this.schemeFor(m.kind, signed);
    const key = `${name}|${m.min}|${m.max}|${domain[0]}|${domain[1]}`;
    let lut = this.luts.get(key);
    if (!lut) {
      lut = colorLut(name, m.min, m.max, signed, domain);
      this.luts.set(key, lut);
    }
    return lut;
  }

  /**
   * The colour scheme of a map: diverging for signed values; otherwise one whose low end is close
   * to the page background (light theme: white to blue or orange; dark theme: black to bright), so
   * that empty cells recede and strong ones stand out in both themes.
   */
  private schemeFor(kind: MapKind, signed: boolean): string {
    if (signed) return 'blueorange';
    if (isDark(parseColor(themeColors(this.host).background))) return kind === 'attention' ? 'viridis' : 'inferno';
    return kind === 'attention' ? 'blues' : 'oranges';
  }

  private decodedOf(m: EncodedMap): { bytes: Uint8Array; present: Uint8Array | null } {
    const key = mapKey(m.step, m.example, m.variant, m.kind, m.layer, m.head);
    let dec = this.decoded.get(key);
    if (!dec) {
      dec = decodeBytes(m);
      this.decoded.set(key, dec);
    }
    return dec;
  }

  /** Places a tooltip beside the pointer inside its host (the pointer's page coordinates). */
  private showTip(tip: HTMLElement, clientX: number, clientY: number, text: string): void {
    const hostBox = (tip.parentElement as HTMLElement).getBoundingClientRect();
    const widget = this.host.getBoundingClientRect();
    tip.textContent = text;
    tip.style.display = 'block';
    const x = clientX - hostBox.left + 14;
    const y = clientY - hostBox.top + 14;
    // beside the pointer, inside the widget: to its right, or to its left near the widget's right edge
    const w = tip.offsetWidth || 200;
    const fitsRight = clientX + 14 + w <= widget.right || widget.width === 0;
    tip.style.left = `${fitsRight ? x : x - w - 28}px`;
    tip.style.top = `${y}px`;
  }

  // --- rendering ------------------------------------------------------------------------------

  private currentExample() {
    return this.payload.examples.find((e) => e.id === this.state.example) ?? this.payload.examples[0];
  }

  private currentVariant(): VariantPayload {
    const ex = this.currentExample();
    return ex.variants[this.state.variant] ?? ex.variants.match!;
  }

  private rebuildViews(): void {
    this.overview?.finalize();
    this.layerChart?.finalize();
    this.map?.finalize();
    this.overview = undefined;
    this.layerChart = undefined;
    this.map = undefined;
    this.overviewSignature = this.layerSignature = this.mapSignature = '';
    this.thumbs.clear();
    this.ui.overview.textContent = '';
    this.ui.layers.textContent = '';
    this.ui.map.textContent = '';
    void this.update();
  }

  /** Schedules a render of the current state; calls made while one is queued share it. */
  update(): Promise<void> {
    return this.renders.update();
  }

  private async render(): Promise<void> {
    if (this.disposed) return;
    const p = this.payload;
    const s = this.state;
    const ex = this.currentExample();
    const v = this.currentVariant();
    const step = p.steps[s.c];
    // controls
    this.ui.example.value = ex.id;
    this.ui.variant.value = s.variant;
    (this.ui.variant.options[1] as HTMLOptionElement).disabled = !ex.variants.mismatch;
    this.ui.kind.value = s.kind;
    this.ui.score.value = s.score;
    this.ui.scale.value = s.scale;
    this.ui.multiples.value = s.multiples;
    this.ui.step.value = String(s.c);
    this.ui.stepLabel.textContent = `step ${step} (${s.c + 1}/${p.steps.length})`;
    this.host.dataset.step = String(step);
    this.host.dataset.kind = s.kind;
    this.host.dataset.variant = s.variant;
    this.host.dataset.example = ex.id;
    this.host.dataset.head = `${s.layer}.${s.head}`;
    this.host.dataset.scale = s.scale;
    this.renderTokens(v);

    // overview (colour range: the score over all checkpoints, so scrubbing shows heads strengthen)
    const grid = p.scores[s.score]![s.c];
    const heads: { layer: number; head: number; value: number | null; carried: boolean }[] = [];
    for (let l = 0; l < p.layers; l++) {
      for (let h = 0; h < p.heads; h++) {
        heads.push({
          layer: l,
          head: h,
          value: grid[l * p.heads + h],
          carried: this.mapsByKey.has(mapKey(step, ex.id, s.variant, s.kind, l, h)),
        });
      }
    }
    const thr = p.thresholds[s.score];
    const sd = this.scoreDomain(s.score);
    this.ui.overviewCaption.textContent = `${SCORE_LABELS[s.score] ?? s.score} per head at step ${step}${thr != null ? ` (threshold ${fmt(thr)})` : ''}; colours span ${fmt(sd[0])}..${fmt(sd[1])}, its range over all checkpoints; dots: heads whose ${s.kind} map this bundle carries; outlined: selected`;
    const sel = [{ layer: s.layer, head: s.head }];
    if (!this.overview || this.overviewSignature !== s.score) {
      this.overview?.finalize();
      this.ui.overview.textContent = '';
      this.overviewSignature = s.score;
      this.overview = await createView(this.ui.overview, this.overviewSpec(sd), this.renderer, { heads, sel });
      this.overview.addEventListener('click', (_e, item) => {
        const d = (item as { datum?: { layer?: number; head?: number } } | null)?.datum;
        if (d && typeof d.layer === 'number' && typeof d.head === 'number') void this.selectHead(d.layer, d.head);
      });
      this.overview.addEventListener('mousemove', (e, item) => {
        const d = (item as { datum?: { layer?: number; head?: number } } | null)?.datum;
        if (d && typeof d.layer === 'number' && typeof d.head === 'number') {
          this.hoverHead = { l: d.layer, h: d.head };
          const text = this.headSummary(d.layer, d.head);
          this.ui.overviewReadout.textContent = text;
          const ev = e as MouseEvent;
          this.showTip(this.ui.overviewTip, ev.clientX, ev.clientY, text.replace(': ', ':\n').replace(/, /g, '\n'));
        } else this.ui.overviewTip.style.display = 'none';
      });
    } else {
      await setData(this.overview, { heads, sel });
    }
    // readouts follow the state: the last hovered head and cell show their current values
    if (this.hoverHead) this.ui.overviewReadout.textContent = this.headSummary(this.hoverHead.l, this.hoverHead.h);
    await this.renderLayerChart(sd);

    // map
    const key = mapKey(step, ex.id, s.variant, s.kind, s.layer, s.head);
    const m = this.mapsByKey.get(key);
    const what = `${s.kind} map of L${s.layer} H${s.head} at step ${step}, example ${ex.label} (${s.variant})`;
    this.renderNote();
    this.renderMultiples(step, ex.id);
    if (!m) {
      this.ui.map.style.display = 'none';
      this.ui.mapLegend.style.display = 'none';
      this.ui.mapTip.style.display = 'none';
      this.shownMap = null;
      this.ui.mapReadout.textContent = '';
      this.host.dataset.map = 'missing';
      const here = heads.filter((x) => x.carried).map((x) => `L${x.layer}H${x.head}`);
      const otherSteps = p.steps.filter((st) => this.mapsByKey.has(mapKey(st, ex.id, s.variant, s.kind, s.layer, s.head)));
      this.ui.mapStatus.textContent =
        `Not carried in this bundle: the ${what}. ` +
        (here.length
          ? `Heads with a ${s.kind} map here: ${here.join(', ')}. `
          : `No ${s.kind} map is carried for this checkpoint, example and variant. `) +
        (otherSteps.length ? `This head has one at step ${otherSteps.join(', ')}.` : '');
      this.ui.mapStatus.classList.add('gl-missing');
      return;
    }
    const dec = this.decodedOf(m);
    const n = m.n;
    const theme = themeColors(this.host);
    const lut = this.lutFor(m);
    const img = [{ x0: 0, y0: 0, url: bmpDataUrl(dec.bytes, dec.present, n, lut, parseColor(theme.background)) }];
    const marker = [{ q: v.predPos, k: v.envPos, q1: v.predPos + 1, k1: v.envPos + 1 }];
    this.shownMap = m;
    this.ui.map.style.display = '';
    this.ui.mapLegend.style.display = '';
    this.ui.mapStatus.classList.remove('gl-missing');
    const cellValue = this.cellValue(v.predPos, v.envPos);
    this.host.dataset.mapStep = String(m.step);
    this.ui.mapStatus.textContent = `${what}: rows = query positions, columns = key positions; ENV -> pre-LAN cell (row ${v.predPos}, column ${v.envPos}) = ${fmt(cellValue)}; range ${fmt(m.min)}..${fmt(m.max)}, 8-bit quantised`;
    this.renderLegend(m, s.kind);
    this.host.dataset.map = 'shown';
    this.host.dataset.envCell = fmt(cellValue);
    if (this.hoverCell && this.hoverCell.q < n && this.hoverCell.k < n)
      this.showCell(this.hoverCell.q, this.hoverCell.k, this.cellValue(this.hoverCell.q, this.hoverCell.k));
    else this.ui.mapReadout.textContent = 'hover a cell for its value';
    // token labels are part of the spec: a new example or variant rebuilds the view
    const signature = `${n}|${theme.background}|${theme.text}|${ex.id}|${s.variant}`;
    if (!this.map || signature !== this.mapSignature) {
      this.map?.finalize();
      this.ui.map.textContent = '';
      this.mapSignature = signature;
      this.map = await createView(this.ui.map, this.mapSpec(n, v), this.renderer, { img, marker });
      this.map.addEventListener('mousemove', (e) => {
        const ev = e as MouseEvent;
        const cell = this.cellAt(ev.clientX, ev.clientY);
        if (cell) {
          this.showCell(cell.q, cell.k, this.cellValue(cell.q, cell.k));
          this.showTip(this.ui.mapTip, ev.clientX, ev.clientY, this.cellTip(cell.q, cell.k));
        } else this.ui.mapTip.style.display = 'none';
      });
    } else {
      await setData(this.map, { img, marker });
    }
  }

  /** Layers x checkpoints: the largest score over each layer's heads at each checkpoint; click a column to go there. */
  private async renderLayerChart(sd: [number, number]): Promise<void> {
    const p = this.payload;
    const s = this.state;
    const per = p.scores[s.score]!;
    const rows: { c: number; layer: number; value: number | null; best: string }[] = [];
    per.forEach((g, c) => {
      for (let l = 0; l < p.layers; l++) {
        let best: number | null = null;
        let arg = -1;
        for (let h = 0; h < p.heads; h++) {
          const x = g[l * p.heads + h];
          if (x != null && (best == null || x > best)) [best, arg] = [x, h];
        }
        rows.push({ c, layer: l, value: best, best: arg >= 0 ? `H${arg}` : 'n/a' });
      }
    });
    this.ui.layersCaption.textContent = `largest ${SCORE_LABELS[s.score] ?? s.score} over each layer's heads, per checkpoint (same colours as above); click a column to go to that checkpoint`;
    const cur = [{ c: s.c }];
    if (!this.layerChart || this.layerSignature !== s.score) {
      this.layerChart?.finalize();
      this.ui.layers.textContent = '';
      this.layerSignature = s.score;
      this.layerChart = await createView(this.ui.layers, this.layerSpec(sd), this.renderer, { lc: rows, cur });
      this.layerChart.addEventListener('click', (_e, item) => {
        const d = (item as { datum?: { c?: number } } | null)?.datum;
        if (d && typeof d.c === 'number') void this.setStepIndex(d.c);
      });
    } else {
      await setData(this.layerChart, { cur });
    }
  }

  /** Small multiples: the maps of every head of the selected layer (or the model), one colour scale. */
  private renderMultiples(step: number, example: string): void {
    const p = this.payload;
    const s = this.state;
    const box = this.ui.multiplesBox;
    if (s.multiples === 'off') {
      box.textContent = '';
      box.dataset.sig = '';
      this.ui.multiplesCaption.textContent = '';
      return;
    }
    const layers = s.multiples === 'model' ? Array.from({ length: p.layers }, (_, l) => l) : [s.layer];
    const bg = parseColor(themeColors(this.host).background);
    const sig = `${s.multiples}|${layers.join(',')}|${step}|${example}|${s.variant}|${s.kind}|${s.scale}|${s.layer}.${s.head}|${bg.join(',')}`;
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    box.textContent = '';
    let shown = 0;
    // one row of the model's heads fits the widget's width (jsdom has no layout: 900 px)
    const avail = (this.host.clientWidth || 900) - 24;
    const size = Math.max(24, Math.min(s.multiples === 'model' ? 72 : 120, Math.floor(avail / p.heads) - 8));
    box.style.gridTemplateColumns = `repeat(${p.heads}, ${size}px)`;
    for (const l of layers) {
      for (let h = 0; h < p.heads; h++) {
        const m = this.mapsByKey.get(mapKey(step, example, s.variant, s.kind, l, h));
        const cell = el('div', 'gl-mult');
        cell.dataset.head = `${l}.${h}`;
        if (l === s.layer && h === s.head) cell.classList.add('gl-mult-selected');
        const label = el('div', 'gl-mult-label', `L${l}H${h}`);
        const score = p.scores[s.score]![s.c][l * p.heads + h];
        if (m) {
          const key = `${mapKey(m.step, m.example, m.variant, m.kind, m.layer, m.head)}|${s.scale}|${bg.join(',')}`;
          let url = this.thumbs.get(key);
          if (!url) {
            const t = thumbnail(this.decodedOf(m), m.n, THUMB_CELLS);
            url = bmpDataUrl(t.bytes, t.present, t.n, this.lutFor(m), bg);
            // a bounded cache: 600 thumbnails of at most 64 x 64 cells are about 10 MB of data URLs
            if (this.thumbs.size >= 600) this.thumbs.clear();
            this.thumbs.set(key, url);
          }
          const img = el('img', 'gl-mult-img');
          img.src = url;
          img.width = size;
          img.height = size;
          img.alt = `${s.kind} map of L${l} H${h}`;
          cell.append(img);
          shown++;
        } else {
          const none = el('div', 'gl-mult-none', 'not carried');
          none.style.width = none.style.height = `${size}px`;
          cell.append(none);
        }
        cell.title = `L${l} H${h} at step ${step}: ${SCORE_LABELS[s.score] ?? s.score} ${fmt(score)}${m ? '' : ' (no map carried)'}; click to select`;
        cell.append(label);
        cell.addEventListener('click', () => void this.selectHead(l, h));
        box.append(cell);
      }
    }
    const scope = s.multiples === 'model' ? 'every head' : `every head of layer ${s.layer}`;
    this.ui.multiplesCaption.textContent = `${s.kind} maps of ${scope} at step ${step} (${shown} carried), ${s.scale === 'shared' ? 'one colour scale shared by all heads and checkpoints' : 'each with its own colour range'}; click one to select it`;
    this.host.dataset.multiples = String(shown);
  }

  /** The value of cell (q, k) of the map shown now (null where the map stores none). */
  cellValue(q: number, k: number): number | null {
    const m = this.shownMap;
    if (!m || q < 0 || k < 0 || q >= m.n || k >= m.n) return null;
    const dec = this.decoded.get(mapKey(m.step, m.example, m.variant, m.kind, m.layer, m.head))!;
    if (dec.present && !dec.present[q * m.n + k]) return null;
    return m.min + (dec.bytes[q * m.n + k] * (m.max - m.min)) / 255;
  }

  /** The map cell under a page point, if any. */
  cellAt(clientX: number, clientY: number): { q: number; k: number } | null {
    if (!this.map || !this.shownMap) return null;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const sx = this.map.scale('x') as any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const sy = this.map.scale('y') as any;
    const o = clientPoint(this.map, this.ui.map, 'x', 0, 'y', 0);
    const k = Math.floor(sx.invert(sx(0) + clientX - o.x));
    const q = Math.floor(sy.invert(sy(0) + clientY - o.y));
    const n = this.shownMap.n;
    return q >= 0 && k >= 0 && q < n && k < n ? { q, k } : null;
  }

  private renderLegend(m: EncodedMap, kind: MapKind): void {
    const box = this.ui.mapLegend;
    box.textContent = '';
    const { domain, signed, shared } = this.mapDomain(m);
    const name = this.schemeFor(kind, signed);
    const bar = el('div', 'gl-legend-bar');
    bar.style.background = lutGradient(colorLut(name, domain[0], domain[1], signed, domain));
    const labels = el('div', 'gl-legend-labels');
    labels.append(el('span', 'gl-legend-max', fmt(domain[1])), el('span', 'gl-legend-min', fmt(domain[0])));
    const body = el('div', 'gl-legend-body');
    body.append(bar, labels);
    const unit = this.payload.mapUnits?.[kind] ?? DEFAULT_UNITS[kind];
    box.append(
      el('div', 'gl-legend-title', kind),
      body,
      el('div', 'gl-legend-unit', unit),
      el('div', 'gl-legend-scope', shared ? 'scale shared by all heads and checkpoints' : 'scale of this map'),
    );
  }

  private showCell(q: number, k: number, value: number | null): string {
    this.hoverCell = { q, k };
    const v = this.currentVariant();
    const tq = v.tokens[q] ?? '?';
    const tk = v.tokens[k] ?? '?';
    const mark = q === v.predPos && k === v.envPos ? ' [ENV -> pre-LAN]' : '';
    const text = `query ${q} "${tq}" <- key ${k} "${tk}": ${value == null ? 'n/a' : fmt(value)}${mark}`;
    this.ui.mapReadout.textContent = text;
    this.ui.tokens.querySelectorAll('.gl-tok-q, .gl-tok-k').forEach((e) => e.classList.remove('gl-tok-q', 'gl-tok-k'));
    this.ui.tokens.children[q]?.classList.add('gl-tok-q');
    this.ui.tokens.children[k]?.classList.add('gl-tok-k');
    return text;
  }

  /** The tooltip of map cell (q, k): the two tokens and the value, one per line. */
  cellTip(q: number, k: number): string {
    const v = this.currentVariant();
    const value = this.cellValue(q, k);
    const mark = q === v.predPos && k === v.envPos ? ' [ENV -> pre-LAN]' : '';
    return `query ${q} "${v.tokens[q] ?? '?'}"\n<- key ${k} "${v.tokens[k] ?? '?'}"\n${this.state.kind} ${value == null ? 'n/a' : fmt(value)}${mark}`;
  }

  private headSummary(l: number, h: number): string {
    const p = this.payload;
    const parts = (Object.keys(p.scores) as HeadScore[]).map(
      (sc) => `${SCORE_LABELS[sc] ?? sc} ${fmt(p.scores[sc]![this.state.c][l * p.heads + h])}`,
    );
    return `L${l} H${h} at step ${p.steps[this.state.c]}: ${parts.join(', ')}`;
  }

  private renderTokens(v: VariantPayload): void {
    const box = this.ui.tokens;
    const sig = `${this.state.example}|${this.state.variant}`;
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    box.textContent = '';
    v.tokens.forEach((t, i) => {
      const span = el('span', `gl-tok gl-kind-${v.kinds[i]}`, t);
      span.dataset.pos = String(i);
      span.title = `position ${i}, ${v.kinds[i]}`;
      if (i === v.envPos) span.classList.add('gl-tok-env-slot');
      if (i === v.predPos) span.classList.add('gl-tok-pred');
      box.append(span);
    });
    if (v.target) box.append(el('span', 'gl-tok gl-target', `-> ${v.target}`));
  }

  private renderNote(): void {
    const p = this.payload;
    const c = p.carried;
    const steps = Array.from(new Set(p.maps.map((m) => m.step))).sort((a, b) => a - b);
    this.ui.note.textContent =
      `This bundle carries per-head scores for all ${p.steps.length} checkpoints and ${c.maps} token x token maps` +
      (steps.length ? ` (at step ${steps.join(', ')})` : '') +
      `, ${(c.mapBytes / 1e6).toFixed(2)} MB` +
      (c.omittedMaps ? `; ${c.omittedMaps} more maps were left out to stay within ${(c.maxMapBytes / 1e6).toFixed(1)} MB` : '') +
      '. Maps are 8-bit quantised.';
  }

  private overviewSpec(domain: [number, number]): Record<string, unknown> {
    const p = this.payload;
    const t = themeColors(this.host);
    const enc = {
      x: { field: 'head', type: 'ordinal', title: 'head', axis: { labelAngle: 0 } },
      y: { field: 'layer', type: 'ordinal', title: 'layer' },
    };
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      width: p.heads * CELL,
      height: p.layers * CELL,
      config: vegaConfig(t),
      layer: [
        {
          data: { name: 'heads' },
          mark: { type: 'rect', cursor: 'pointer' },
          encoding: {
            ...enc,
            color: {
              field: 'value',
              type: 'quantitative',
              scale: { scheme: 'viridis', domain, clamp: true },
              legend: { title: null, gradientLength: Math.max(60, p.layers * CELL - 20) },
            },
          },
        },
        {
          data: { name: 'heads' },
          transform: [{ filter: 'datum.carried' }],
          mark: { type: 'circle', size: 14, color: '#ffffff', stroke: '#000000', strokeWidth: 0.5, opacity: 0.9, cursor: 'pointer' },
          encoding: enc,
        },
        { data: { name: 'sel' }, mark: { type: 'rect', fill: null, filled: false, stroke: t.accent, strokeWidth: 3 }, encoding: enc },
      ],
    };
  }

  private layerSpec(domain: [number, number]): Record<string, unknown> {
    const p = this.payload;
    const t = themeColors(this.host);
    const steps = JSON.stringify(p.steps);
    const w = Math.max(6, Math.min(CELL, Math.floor(420 / p.steps.length)));
    const x = {
      field: 'c',
      type: 'ordinal',
      title: 'checkpoint (step)',
      axis: { labelExpr: `${steps}[datum.value]`, labelAngle: -45, labelOverlap: true },
    };
    const y = { field: 'layer', type: 'ordinal', title: 'layer' };
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      width: p.steps.length * w,
      height: p.layers * Math.min(CELL, 12),
      config: vegaConfig(t),
      layer: [
        {
          data: { name: 'lc' },
          mark: { type: 'rect', cursor: 'pointer' },
          encoding: {
            x,
            y,
            color: { field: 'value', type: 'quantitative', scale: { scheme: 'viridis', domain, clamp: true }, legend: null },
          },
        },
        { data: { name: 'cur' }, mark: { type: 'rect', fill: null, filled: false, stroke: t.accent, strokeWidth: 2 }, encoding: { x } },
      ],
    };
  }

  private mapSpec(n: number, v: VariantPayload): Record<string, unknown> {
    const t = themeColors(this.host);
    // cells of 14 px up to 560 px: a 20-token context gets readable token labels on both axes;
    // where labels would overlap, vega drops some (labelOverlap), and the tooltip names every cell
    const size = Math.max(220, Math.min(560, n * 14));
    const tokens = JSON.stringify(v.tokens.map((x) => (x.length > 14 ? x.slice(0, 13) + '…' : x)));
    const kinds = JSON.stringify(v.kinds);
    const kindColor = `${kinds}[floor(datum.value)] === 'ENV' ? '${t.env}' : ${kinds}[floor(datum.value)] === 'LAN' ? '${t.lan}' : '${t.muted}'`;
    const positions = Array.from({ length: n }, (_, i) => i + 0.5);
    const labels = {
      values: positions,
      labelExpr: `${tokens}[floor(datum.value)]`,
      labelOverlap: true,
      labelFontSize: 9,
      labelColor: { expr: kindColor },
      ticks: false,
      grid: false,
      labelPadding: 2,
    };
    const x = {
      field: 'x0',
      type: 'quantitative',
      title: 'key token (attended to)',
      scale: { domain: [0, n], nice: false },
      axis: { ...labels, orient: 'top', labelAngle: -90, labelAlign: 'left', labelBaseline: 'middle' },
    };
    const y = {
      field: 'y0',
      type: 'quantitative',
      title: 'query token (predicting the next)',
      scale: { domain: [0, n], nice: false, reverse: true },
      axis: labels,
    };
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      width: size,
      height: size,
      config: vegaConfig(t),
      layer: [
        {
          data: { name: 'img' },
          mark: { type: 'image', width: size, height: size, align: 'left', baseline: 'top', aspect: false },
          encoding: { x, y, url: { field: 'url', type: 'nominal' } },
        },
        {
          data: { name: 'marker' },
          mark: { type: 'rect', fill: null, filled: false, stroke: t.accent, strokeWidth: 2 },
          encoding: { x: { ...x, field: 'k' }, x2: { field: 'k1' }, y: { ...y, field: 'q' }, y2: { field: 'q1' } },
        },
      ],
    };
  }
}

export { checkInspector };
