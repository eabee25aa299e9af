/**
 * The binding grid view (scene binding runs): for every head, small grids of where it reads from
 * the query position: the scene's grid cells (the weight on the object at each cell) and the object
 * slots in text order, with the weight on the queried object; one colour scale shared by every head
 * and checkpoint (or each head its own). A click on a head shows its grids large with the numbers;
 * hovering a cell names it. The checkpoint follows the timeline (link key). Nothing is computed here.
 */
import { checkBindingGrid, BindingGridPayload, fmt } from './payload';
import { colorLut, parseColor } from './raster';
import { themeColors } from './theme';
import { el, isDark, labelled, selectOf, showTip, SliderView, tipHost, titleBar } from './common';
import type { WidgetOptions } from './inspector';

export class BindingGridView extends SliderView<BindingGridPayload> {
  readonly ready: Promise<void>;
  layer: number;
  head: number;
  scale: 'shared' | 'head' = 'shared';
  private hovered: { l: number; h: number; what: 'cell' | 'slot'; i: number } | null = null;
  protected readonly ui: {
    scale: HTMLSelectElement;
    caption: HTMLElement;
    heads: HTMLElement;
    detail: HTMLElement;
    tip: HTMLElement;
    readout: HTMLElement;
    note: HTMLElement;
  };

  constructor(host: HTMLElement, payload: unknown, _options: WidgetOptions = {}) {
    super(host, checkBindingGrid(payload), 'gl-bgrid', 'binding grid');
    const p = this.payload;
    this.layer = p.initial.layer;
    this.head = p.initial.head;
    const scale = selectOf('gl-scale', [
      ['shared by all heads and checkpoints', 'shared'],
      ['each head its own range', 'head'],
    ]);
    const controls = el('div', 'gl-controls');
    controls.append(labelled('colours', scale), labelled('checkpoint', this.slider.box));
    const caption = el('div', 'gl-caption');
    const heads = el('div', 'gl-bgrid-heads');
    const { wrap, tip } = tipHost(heads);
    const readout = el('div', 'gl-readout gl-bgrid-readout', 'hover a cell or a slot for its value; click a head to enlarge it');
    const detail = el('div', 'gl-bgrid-detail');
    const note = el('div', 'gl-note');
    host.append(titleBar(p.title, p.model), controls, caption, wrap, readout, detail, note);
    this.ui = { scale, caption, heads, detail, tip, readout, note };
    scale.addEventListener('change', () => void this.setScale(scale.value === 'head' ? 'head' : 'shared'));
    this.ready = this.start(() => void this.update());
  }

  selectHead(layer: number, head: number): Promise<void> {
    if (!(layer >= 0 && layer < this.payload.layers && head >= 0 && head < this.payload.heads)) return Promise.resolve();
    this.layer = layer;
    this.head = head;
    return this.update();
  }

  setScale(s: 'shared' | 'head'): Promise<void> {
    this.scale = s;
    return this.update();
  }

  /** The value of head (l, h)'s cell (x, y) or slot s at the current checkpoint. */
  cellValue(l: number, h: number, x: number, y: number): number | null {
    const p = this.payload;
    return p.cell[this.slider.c][(l * p.heads + h) * p.grid * p.grid + y * p.grid + x];
  }

  slotValue(l: number, h: number, s: number): number | null {
    const p = this.payload;
    return p.slot[this.slider.c][(l * p.heads + h) * p.slots + s];
  }

  /** The colour range: [0, the largest cell or slot value of every head at every checkpoint], or of one head at this checkpoint. */
  domain(l: number, h: number): number {
    const p = this.payload;
    let hi = 0;
    const G2 = p.grid * p.grid;
    const steps = this.scale === 'shared' ? p.steps.map((_, c) => c) : [this.slider.c];
    for (const c of steps) {
      const cells = this.scale === 'shared' ? p.cell[c] : p.cell[c].slice((l * p.heads + h) * G2, (l * p.heads + h + 1) * G2);
      const slots = this.scale === 'shared' ? p.slot[c] : p.slot[c].slice((l * p.heads + h) * p.slots, (l * p.heads + h + 1) * p.slots);
      for (const v of [...cells, ...slots]) if (v != null) hi = Math.max(hi, v);
    }
    return hi || 1;
  }

  private describe(l: number, h: number, what: 'cell' | 'slot', i: number): string {
    const p = this.payload;
    const step = p.steps[this.slider.c];
    if (what === 'cell') {
      const x = i % p.grid;
      const y = Math.floor(i / p.grid);
      return `L${l}H${h} at step ${step}: cell (${x}, ${y}) ${fmt(this.cellValue(l, h, x, y))} (mean weight on the object there, over scenes with one)`;
    }
    return `L${l}H${h} at step ${step}: slot ${i} ${fmt(this.slotValue(l, h, i))} (mean weight on the object in slot ${i})`;
  }

  private grids(l: number, h: number, size: number, lut: Uint8Array, empty: string, numbers: boolean): HTMLElement {
    const p = this.payload;
    const hi = this.domain(l, h);
    const byte = (v: number) => Math.max(0, Math.min(255, Math.round((v / hi) * 255)));
    const color = (v: number | null) => {
      if (v == null) return empty;
      const b = byte(v);
      return `rgb(${lut[b * 3]},${lut[b * 3 + 1]},${lut[b * 3 + 2]})`;
    };
    // printed numbers: dark on light cells, light on dark ones
    const ink = (v: number | null) => {
      if (v == null) return '';
      const b = byte(v) * 3;
      return isDark([lut[b], lut[b + 1], lut[b + 2]]) ? '#fff' : '#111';
    };
    const box = el('div', 'gl-bgrid-grids');
    const grid = el('div', 'gl-bgrid-cells');
    grid.style.gridTemplateColumns = `repeat(${p.grid}, ${size}px)`;
    for (let y = 0; y < p.grid; y++)
      for (let x = 0; x < p.grid; x++) {
        const v = this.cellValue(l, h, x, y);
        const d = el('div', 'gl-bgrid-cell', numbers ? fmt(v) : undefined);
        d.style.width = d.style.height = `${size}px`;
        d.style.background = color(v);
        if (numbers) d.style.color = ink(v);
        d.dataset.cell = `${x},${y}`;
        d.dataset.value = String(v);
        d.addEventListener('mousemove', (ev) => this.hover(l, h, 'cell', y * p.grid + x, ev as MouseEvent));
        grid.append(d);
      }
    const strip = el('div', 'gl-bgrid-slots');
    strip.style.gridTemplateColumns = `repeat(${p.slots}, ${size}px)`;
    for (let s = 0; s < p.slots; s++) {
      const v = this.slotValue(l, h, s);
      const d = el('div', 'gl-bgrid-slot', numbers ? fmt(v) : undefined);
      d.style.width = d.style.height = `${size}px`;
      d.style.background = color(v);
      if (numbers) d.style.color = ink(v);
      d.dataset.slot = String(s);
      d.dataset.value = String(v);
      d.addEventListener('mousemove', (ev) => this.hover(l, h, 'slot', s, ev as MouseEvent));
      strip.append(d);
    }
    box.append(grid, strip);
    return box;
  }

  private hover(l: number, h: number, what: 'cell' | 'slot', i: number, ev: MouseEvent): void {
    this.hovered = { l, h, what, i };
    const text = this.describe(l, h, what, i);
    this.ui.readout.textContent = text;
    showTip(this.ui.tip, this.host, ev.clientX, ev.clientY, text.replace(': ', ':\n').replace(' (', '\n('));
  }

  protected async render(): Promise<void> {
    if (this.disposed) return;
    const p = this.payload;
    const c = this.slider.c;
    const step = p.steps[c];
    this.slider.sync();
    this.ui.scale.value = this.scale;
    const theme = themeColors(this.host);
    const dark = isDark(parseColor(theme.background));
    const lut = colorLut(dark ? 'viridis' : 'blues', 0, 1, false, [0, 1]);
    const empty = dark ? '#333' : '#eee';
    const box = this.ui.heads;
    box.textContent = '';
    box.style.gridTemplateColumns = `repeat(${p.heads}, max-content)`;
    const size = Math.max(8, Math.min(18, Math.floor(96 / Math.max(p.grid, p.slots))));
    for (let l = 0; l < p.layers; l++)
      for (let h = 0; h < p.heads; h++) {
        const b = el('div', 'gl-bgrid-head');
        b.dataset.head = `${l}.${h}`;
        if (l === this.layer && h === this.head) b.classList.add('gl-mult-selected');
        const t = p.target[c][l * p.heads + h];
        const role = p.roles?.[c]?.[l * p.heads + h];
        const label = el('div', 'gl-mult-label', `L${l}H${h}  target ${fmt(t)}`);
        if (role && role !== 'none') label.append(el('span', 'gl-bgrid-role', role));
        b.append(label, this.grids(l, h, size, lut, empty, false));
        b.title = `L${l}H${h} at step ${step}: weight on the queried object ${fmt(t)}, on the query ${fmt(p.query[c][l * p.heads + h])}${role ? `; role (groundlab binding): ${role}` : ''}; click to enlarge`;
        b.addEventListener('click', () => void this.selectHead(l, h));
        box.append(b);
      }
    const d = this.ui.detail;
    d.textContent = '';
    const lh = this.layer * p.heads + this.head;
    const role = p.roles?.[c]?.[lh];
    d.append(
      el(
        'div',
        'gl-caption',
        `L${this.layer}H${this.head} at step ${step}: grid cells (x across, y down) and slots 0..${p.slots - 1} below; weight on the queried object ${fmt(p.target[c][lh])}, on the query's tokens ${fmt(p.query[c][lh])}${role ? `; role: ${role}` : p.roles ? '; role: not classified at this step' : ''}`,
      ),
      this.grids(this.layer, this.head, 40, lut, empty, true),
    );
    const hi = this.domain(this.layer, this.head);
    this.ui.caption.textContent =
      `each head's weight from ${p.from}, summed over each object's tokens and averaged over ${p.scenes} scenes, at step ${step}: ` +
      `the ${p.grid} x ${p.grid} grid by the object's cell, the strip by its slot (text order); ` +
      `colours 0..${fmt(hi)} (${this.scale === 'shared' ? 'one scale for all heads and checkpoints' : "each head its own range at this step; the numbers are the selected head's"}); grey: no scene has an object there`;
    this.ui.note.textContent = `Weights: ${p.units}. ${p.steps.length} checkpoints; widgets linked as "${p.link}" follow the slider.`;
    if (this.hovered) this.ui.readout.textContent = this.describe(this.hovered.l, this.hovered.h, this.hovered.what, this.hovered.i);
    this.host.dataset.step = String(step);
    this.host.dataset.head = `${this.layer}.${this.head}`;
    this.host.dataset.scale = this.scale;
  }
}
