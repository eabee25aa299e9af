/**
 * The DAS timeline panel: interchange-intervention accuracy (IIA) over checkpoints for one program,
 * variables and site (a select), for one subspace size k (DAS with its baselines: identity rotation,
 * random rotation, probe direction, full-vector swap, boundless DAS as reference lines) or every k,
 * beside task accuracy (all counts, held-out counts). A checkpoint slider and a rule at the current
 * step; the checkpoint follows the timeline and the other widgets with the same link key.
 */
import type { View } from 'vega';
import { nearestIndex } from './bus';
import { checkDas, DasGroup, DasMethod, DasPayload, DasSeries, fmt } from './payload';
import { themeColors, vegaConfig } from './theme';
import { clientPoint, createView, groupOffset, setData } from './vegaview';
import { stepAxis, wantsLogSteps } from './timeline';
import { el, labelled, selectOf, SliderView, titleBar } from './common';
import { DAS_METHOD_COLORS } from './palette';
import type { WidgetOptions } from './inspector';

export const METHOD_LABELS: Record<DasMethod, string> = {
  das: 'DAS',
  boundless: 'boundless DAS',
  identity: 'identity rotation',
  random: 'random rotation',
  full: 'full-vector swap',
  probe: 'probe direction',
};
/** Colours of DAS lines by k when every k is shown. */
const K_COLORS = ['#1c7ed6', '#0b7285', '#7048e8', '#c2255c', '#e8590c', '#5c940d', '#364fc7', '#862e9c'];

export function seriesLabel(s: Pick<DasSeries, 'method' | 'k'>): string {
  return `${METHOD_LABELS[s.method]} k=${s.k}`;
}

export class DasView extends SliderView<DasPayload> {
  readonly ready: Promise<void>;
  /** The group shown (index into payload.groups) and the k (null: every DAS k). */
  group: number;
  k: number | null;
  logSteps: boolean;
  private view?: View;
  private signature = '';
  private readonly renderer: 'canvas' | 'svg';
  protected readonly ui: {
    group: HTMLSelectElement;
    k: HTMLSelectElement;
    log: HTMLInputElement;
    readout: HTMLElement;
    chart: HTMLElement;
    note: HTMLElement;
  };

  constructor(host: HTMLElement, payload: unknown, options: WidgetOptions = {}) {
    super(host, checkDas(payload), 'gl-das', 'DAS panel');
    const p = this.payload;
    this.renderer = options.renderer ?? 'canvas';
    this.group = p.initial.group;
    this.k = p.initial.k;
    this.logSteps = wantsLogSteps(p.steps);
    const group = selectOf(
      'gl-das-group',
      p.groups.map((g, i): [string, string] => [`${g.program}: ${g.variables} at ${g.site}`, String(i)]),
    );
    const k = el('select', 'gl-das-k');
    const log = el('input', 'gl-log-steps');
    log.type = 'checkbox';
    const logLabel = el('label', 'gl-control');
    logLabel.append(log, el('span', 'gl-control-label', 'log step axis'));
    const controls = el('div', 'gl-controls');
    controls.append(
      labelled('program, variables, site', group),
      labelled('subspace size', k),
      labelled('checkpoint', this.slider.box),
      logLabel,
    );
    const readout = el('div', 'gl-tl-readout gl-das-readout');
    const chart = el('div', 'gl-das-chart');
    const note = el('div', 'gl-note');
    host.append(titleBar(p.title, p.model), controls, readout, chart, note);
    this.ui = { group, k, log, readout, chart, note };
    group.addEventListener('change', () => void this.setGroup(Number(group.value)));
    k.addEventListener('change', () => void this.setK(k.value === 'all' ? null : Number(k.value)));
    log.addEventListener('change', () => void this.setLogSteps(log.checked));
    this.ready = this.start(() => this.rebuild());
  }

  private g(): DasGroup {
    return this.payload.groups[this.group];
  }

  dasKs(): number[] {
    return [
      ...new Set(
        this.g()
          .series.filter((s) => s.method === 'das')
          .map((s) => s.k),
      ),
    ].sort((a, b) => a - b);
  }

  /** The series drawn now: one k (DAS and the baselines of that k, the full swap, the probe, boundless DAS) or every DAS k with the full swap. */
  shownSeries(): DasSeries[] {
    const k = this.k;
    return this.g().series.filter((s) =>
      k == null
        ? s.method === 'das' || s.method === 'full' || s.method === 'boundless'
        : s.k === k || s.method === 'full' || s.method === 'probe' || s.method === 'boundless',
    );
  }

  setGroup(i: number): Promise<void> {
    if (!(i >= 0 && i < this.payload.groups.length)) return Promise.resolve();
    this.group = i;
    const ks = this.dasKs();
    if (this.k != null && !ks.includes(this.k)) this.k = ks[0] ?? null;
    return this.rebuild();
  }

  setK(k: number | null): Promise<void> {
    this.k = k;
    return this.rebuild();
  }

  setLogSteps(on: boolean): Promise<void> {
    this.logSteps = on;
    return this.rebuild();
  }

  dispose(): void {
    super.dispose();
    this.view?.finalize();
  }

  /** Page coordinates of series `label`'s point at checkpoint index c in the IIA panel (for UI tests). */
  pointAt(label: string, c: number): { x: number; y: number } | null {
    if (!this.view) return null;
    const s = this.shownSeries().find((x) => seriesLabel(x) === label);
    const v = s?.iia[c];
    if (v == null) return null;
    const pt = clientPoint(this.view, this.ui.chart, 'concat_0_x', this.payload.steps[c], 'concat_0_y', v);
    const g = groupOffset(this.view, 'concat_0_group');
    return g ? { x: pt.x + g[0], y: pt.y + g[1] } : null;
  }

  private rebuild(): Promise<void> {
    this.view?.finalize();
    this.view = undefined;
    this.ui.chart.textContent = '';
    return this.update();
  }

  private colorOf(s: DasSeries): string {
    if (this.k == null && s.method === 'das') return K_COLORS[this.dasKs().indexOf(s.k) % K_COLORS.length];
    return DAS_METHOD_COLORS[s.method];
  }

  protected async render(): Promise<void> {
    if (this.disposed) return;
    const p = this.payload;
    const g = this.g();
    const c = this.slider.c;
    const step = p.steps[c];
    this.slider.sync();
    this.ui.group.value = String(this.group);
    this.ui.log.checked = this.logSteps;
    const ks = this.dasKs();
    const kopts = [
      ...ks.map((k): [string, string] => [`k = ${k}, with its baselines`, String(k)]),
      ['every k of DAS', 'all'] as [string, string],
    ];
    if (this.ui.k.options.length !== kopts.length || Array.from(this.ui.k.options).some((o, i) => o.value !== kopts[i][1])) {
      this.ui.k.textContent = '';
      for (const [label, value] of kopts) this.ui.k.append(new Option(label, value));
    }
    this.ui.k.value = this.k == null ? 'all' : String(this.k);
    const shown = this.shownSeries();
    this.ui.readout.textContent = '';
    const item = (name: string, v: number | null | undefined, color: string, key: string) => {
      const e = el('span', 'gl-tl-value', `${name}: ${fmt(v)}`);
      e.style.setProperty('--gl-curve-color', color);
      e.dataset.series = key;
      this.ui.readout.append(e);
    };
    for (const s of shown) item(`IIA ${seriesLabel(s)}`, s.iia[c], this.colorOf(s), seriesLabel(s));
    item('task accuracy', g.taskAccuracy[c], themeColors(this.host).text, 'task');
    item('held-out accuracy', g.heldoutAccuracy[c], themeColors(this.host).muted, 'heldout');
    const missing = (Object.keys(METHOD_LABELS) as DasMethod[]).filter((m) => !g.series.some((s) => s.method === m));
    this.ui.note.textContent =
      `IIA: the share of counterfactual pairs on which the intervention gives the causal model's answer (${g.series[0].pairs?.[c] ?? 'n/a'} pairs at this step); ` +
      `baselines dashed. ${p.steps.length} checkpoints; widgets linked as "${p.link}" follow the slider.` +
      (missing.length ? ` Not carried for this group: ${missing.map((m) => METHOD_LABELS[m]).join(', ')}.` : '');
    this.host.dataset.step = String(step);
    this.host.dataset.group = String(this.group);
    this.host.dataset.k = this.k == null ? 'all' : String(this.k);
    this.host.dataset.series = String(shown.length);
    const cursor = [{ step }];
    const sig = `${this.group}|${this.k}|${this.logSteps}`;
    if (!this.view || sig !== this.signature) {
      this.view?.finalize();
      this.ui.chart.textContent = '';
      this.signature = sig;
      this.view = await createView(this.ui.chart, this.spec(shown), this.renderer, {
        iia: this.iiaRows(shown),
        acc: this.accRows(),
        cursor,
      });
      this.view.addEventListener('click', (_e, it) => {
        const d = (it as { datum?: { step?: number } } | null)?.datum;
        if (d && typeof d.step === 'number') void this.setStepIndex(nearestIndex(this.payload.steps, d.step));
      });
    } else await setData(this.view, { cursor });
  }

  private iiaRows(shown: DasSeries[]) {
    const out: { step: number; series: string; baseline: string; value: number }[] = [];
    for (const s of shown)
      this.payload.steps.forEach((step, i) => {
        const v = s.iia[i];
        if (v != null)
          out.push({
            step,
            series: seriesLabel(s),
            baseline: s.method === 'das' || s.method === 'boundless' ? 'fitted' : 'baseline',
            value: v,
          });
      });
    return out;
  }

  private accRows() {
    const g = this.g();
    const out: { step: number; series: string; value: number }[] = [];
    this.payload.steps.forEach((step, i) => {
      if (g.taskAccuracy[i] != null) out.push({ step, series: 'task accuracy (all counts)', value: g.taskAccuracy[i]! });
      if (g.heldoutAccuracy[i] != null) out.push({ step, series: 'held-out counts', value: g.heldoutAccuracy[i]! });
    });
    return out;
  }

  private spec(shown: DasSeries[]): Record<string, unknown> {
    const t = themeColors(this.host);
    const x = stepAxis(this.payload.steps, this.logSteps);
    const y = (title: string) => ({ field: 'value', type: 'quantitative', title, scale: { domain: [0, 1] }, axis: { format: '~g' } });
    const panel = (title: string, data: string, color: Record<string, unknown>, dash: Record<string, unknown> | null) => ({
      title: { text: title, fontSize: 12, anchor: 'start' },
      width: 300,
      height: 150,
      layer: [
        {
          data: { name: data },
          mark: { type: 'line', point: { size: 22, cursor: 'pointer' } },
          encoding: { x, y: y(''), color, ...(dash ? { strokeDash: dash } : {}) },
        },
        { data: { name: 'cursor' }, mark: { type: 'rule', color: t.accent, strokeWidth: 2 }, encoding: { x } },
      ],
    });
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      config: vegaConfig(t),
      columns: 2,
      concat: [
        panel(
          'interchange-intervention accuracy',
          'iia',
          {
            field: 'series',
            type: 'nominal',
            scale: { domain: shown.map(seriesLabel), range: shown.map((s) => this.colorOf(s)) },
            legend: { title: null, orient: 'bottom', columns: 2 },
          },
          {
            field: 'baseline',
            type: 'nominal',
            scale: {
              domain: ['fitted', 'baseline'],
              range: [
                [1, 0],
                [4, 3],
              ],
            },
            legend: null,
          },
        ),
        panel(
          'task accuracy',
          'acc',
          {
            field: 'series',
            type: 'nominal',
            scale: { domain: ['task accuracy (all counts)', 'held-out counts'], range: [t.text, t.muted] },
            legend: { title: null, orient: 'bottom' },
          },
          null,
        ),
      ],
    };
  }
}
