/**
 * The checkpoint timeline: a scrubber over checkpoints with linked curves (match and mismatch
 * surprisal, information gain, R^2 against co-occurrence, gather and aggregate head counts).
 * Moving the scrubber publishes the step to the inspectors with the same link key.
 */
import { RenderQueue } from './renderqueue';
import type { View } from 'vega';
import { nearestIndex, publish, sliderKey, StepListener, subscribe } from './bus';
import { checkTimeline, CurveName, fmt, TimelinePayload } from './payload';
import { onThemeChange, themeColors, vegaConfig } from './theme';
import { clientPoint, createView, groupOffset, setData } from './vegaview';
import type { WidgetOptions } from './inspector';
import { firstRender, takeHost, titleBar } from './common';

export const CURVE_LABELS: Record<CurveName, string> = {
  matchSurprisal: 'surprisal, match',
  mismatchSurprisal: 'surprisal, mismatch',
  infoGain: 'information gain G',
  r2Cooccurrence: 'R² vs co-occurrence',
  gatherHeads: 'gather heads',
  aggregateHeads: 'aggregate heads',
};

const CURVE_COLORS: Record<CurveName, string> = {
  matchSurprisal: '#1c7ed6',
  mismatchSurprisal: '#e8590c',
  infoGain: '#2f9e44',
  r2Cooccurrence: '#7048e8',
  gatherHeads: '#f59f00',
  aggregateHeads: '#d6336c',
};

export const PANELS: { id: string; title: string; curves: CurveName[] }[] = [
  { id: 'surprisal', title: 'surprisal of v<LAN> (nats)', curves: ['matchSurprisal', 'mismatchSurprisal'] },
  { id: 'gain', title: 'information gain (nats)', curves: ['infoGain'] },
  { id: 'r2', title: 'R² of G on co-occurrence', curves: ['r2Cooccurrence'] },
  { id: 'heads', title: 'head counts', curves: ['gatherHeads', 'aggregateHeads'] },
];

/** Tick values for a log step axis: 0 (if in range) and 1, 2, 5 x 10^k within [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = lo <= 0 ? [0] : [];
  for (let p = 1; p <= Math.max(1, hi) * 10; p *= 10)
    for (const m of [1, 2, 5]) if (m * p >= Math.max(lo, 1) && m * p <= hi) out.push(m * p);
  return out;
}

/**
 * The vega-lite x encoding of a step axis: symlog (logarithmic above ~1 and linear near 0, so step 0
 * and the early checkpoints both get room) with ticks at 0, 1, 2, 5, 10, ..., or linear.
 */
export function stepAxis(steps: number[], log: boolean): Record<string, unknown> {
  return log
    ? {
        field: 'step',
        type: 'quantitative',
        title: 'step (log scale)',
        scale: { type: 'symlog', constant: 1, domain: [steps[0], steps[steps.length - 1]], nice: false },
        axis: { values: logTicks(steps[0], steps[steps.length - 1]), format: '~s' },
      }
    : { field: 'step', type: 'quantitative', title: 'step' };
}

/** The default step axis: log when the largest step is at least 20 times the smallest positive one. */
export function wantsLogSteps(steps: number[]): boolean {
  const positive = steps.filter((x) => x > 0);
  return positive.length > 1 && positive[positive.length - 1] / positive[0] >= 20;
}

export class TimelineView {
  readonly host: HTMLElement;
  readonly payload: TimelinePayload;
  readonly ready: Promise<void>;
  /** Index of the current checkpoint in payload.steps. */
  c: number;
  private view?: View;
  private readonly chart: HTMLElement;
  private readonly scrubber: HTMLInputElement;
  private readonly stepLabel: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly renderer: 'canvas' | 'svg';
  private readonly unsubscribe: () => void;
  private readonly unwatchTheme: () => void;
  private readonly onStep: StepListener;
  private readonly renders: RenderQueue;
  private disposed = false;
  /** Log-scaled step axis (symlog, so that step 0 has a place): the default when the largest step is 20 times the smallest positive one or more. */
  logSteps: boolean;
  private readonly logBox: HTMLInputElement;

  constructor(host: HTMLElement, payload: unknown, options: WidgetOptions = {}) {
    this.host = host;
    this.renders = new RenderQueue(
      host,
      () => this.render(),
      (e) => {
        this.readout.textContent = `groundlab timeline: ${e instanceof Error ? e.message : String(e)}`;
      },
    );
    this.payload = checkTimeline(payload);
    this.renderer = options.renderer ?? 'canvas';
    const p = this.payload;
    this.c = Math.max(0, p.steps.indexOf(p.initialStep));
    takeHost(host, 'gl-timeline', p.link);
    const title = titleBar(p.title, p.model);
    const bar = document.createElement('div');
    bar.className = 'gl-controls gl-scrub';
    const lab = document.createElement('span');
    lab.className = 'gl-control-label';
    lab.textContent = 'checkpoint';
    this.scrubber = document.createElement('input');
    this.scrubber.type = 'range';
    this.scrubber.className = 'gl-scrubber';
    this.scrubber.min = '0';
    this.scrubber.max = String(p.steps.length - 1);
    this.scrubber.step = '1';
    this.scrubber.setAttribute('aria-label', 'checkpoint');
    this.stepLabel = document.createElement('span');
    this.stepLabel.className = 'gl-step-label';
    this.logSteps = wantsLogSteps(p.steps);
    this.logBox = document.createElement('input');
    this.logBox.type = 'checkbox';
    this.logBox.className = 'gl-log-steps';
    this.logBox.checked = this.logSteps;
    const logLabel = document.createElement('label');
    logLabel.className = 'gl-control';
    const logText = document.createElement('span');
    logText.className = 'gl-control-label';
    logText.textContent = 'log step axis';
    logLabel.append(this.logBox, logText);
    bar.append(lab, this.scrubber, this.stepLabel, logLabel);
    this.readout = document.createElement('div');
    this.readout.className = 'gl-tl-readout';
    this.chart = document.createElement('div');
    this.chart.className = 'gl-tl-chart';
    const missing = (Object.keys(CURVE_LABELS) as CurveName[]).filter((c) => !p.curves[c]);
    const note = document.createElement('div');
    note.className = 'gl-note';
    note.textContent =
      `${p.steps.length} checkpoints (steps ${p.steps[0]}..${p.steps[p.steps.length - 1]}). Drag the scrubber or click a point; inspectors linked as "${p.link}" follow.` +
      (missing.length ? ` Not carried in this bundle: ${missing.map((m) => CURVE_LABELS[m]).join(', ')}.` : '');
    host.append(title, bar, this.readout, this.chart, note);
    this.scrubber.addEventListener('input', () => void this.setStepIndex(Number(this.scrubber.value)));
    this.scrubber.addEventListener('keydown', (e) => {
      const next = sliderKey(e.key, this.c, this.payload.steps.length);
      if (next == null) return;
      e.preventDefault();
      e.stopPropagation();
      void this.setStepIndex(next);
    });
    this.logBox.addEventListener('change', () => void this.setLogSteps(this.logBox.checked));
    this.onStep = (s: number) => {
      const c = nearestIndex(this.payload.steps, s);
      if (c !== this.c) {
        this.c = c;
        void this.update();
      }
    };
    this.unsubscribe = subscribe(p.link, this.onStep);
    this.unwatchTheme = onThemeChange(() => {
      this.view?.finalize();
      this.view = undefined;
      this.chart.textContent = '';
      void this.update();
    });
    this.ready = firstRender(host, () => this.update());
  }

  /** Switches the step axis between log (symlog) and linear; the panels are redrawn. */
  setLogSteps(on: boolean): Promise<void> {
    this.logSteps = on;
    this.logBox.checked = on;
    this.view?.finalize();
    this.view = undefined;
    this.chart.textContent = '';
    return this.update();
  }

  setStepIndex(c: number): Promise<void> {
    this.c = Math.max(0, Math.min(this.payload.steps.length - 1, Math.round(c)));
    publish(this.payload.link, this.payload.steps[this.c], this.onStep);
    return this.update();
  }

  /** Page coordinates of the point of `curve` at checkpoint index c (for UI tests). */
  pointAt(panel: number, c: number): { x: number; y: number } | null {
    if (!this.view) return null;
    const panels = this.panels();
    const pa = panels[panel];
    const first = pa?.curves.find((k) => this.payload.curves[k]);
    const y = first ? this.payload.curves[first]![c] : null;
    if (y == null) return null;
    const p = clientPoint(this.view, this.chart, `concat_${panel}_x`, this.payload.steps[c], `concat_${panel}_y`, y);
    const g = groupOffset(this.view, `concat_${panel}_group`);
    return g ? { x: p.x + g[0], y: p.y + g[1] } : null;
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe();
    this.unwatchTheme();
    this.view?.finalize();
  }

  private panels() {
    return PANELS.filter((pa) => pa.curves.some((c) => this.payload.curves[c]));
  }

  update(): Promise<void> {
    return this.renders.update();
  }

  private async render(): Promise<void> {
    if (this.disposed) return;
    const p = this.payload;
    const step = p.steps[this.c];
    this.scrubber.value = String(this.c);
    this.stepLabel.textContent = `step ${step} (${this.c + 1}/${p.steps.length})`;
    this.host.dataset.step = String(step);
    this.host.dataset.logSteps = String(this.logSteps);
    this.readout.textContent = '';
    for (const name of Object.keys(CURVE_LABELS) as CurveName[]) {
      const vals = p.curves[name];
      if (!vals) continue;
      const item = document.createElement('span');
      item.className = 'gl-tl-value';
      item.dataset.curve = name;
      item.style.setProperty('--gl-curve-color', CURVE_COLORS[name]);
      item.textContent = `${CURVE_LABELS[name]}: ${fmt(vals[this.c])}`;
      this.readout.append(item);
    }
    const cursor = [{ step }];
    if (!this.view) {
      this.view = await createView(this.chart, this.spec(), this.renderer, { curves: this.rows(), cursor });
      this.view.addEventListener('click', (_e, item) => {
        const d = (item as { datum?: { step?: number } } | null)?.datum;
        if (d && typeof d.step === 'number') void this.setStepIndex(nearestIndex(this.payload.steps, d.step));
      });
    } else {
      await setData(this.view, { cursor });
    }
  }

  private rows() {
    const out: { step: number; curve: string; panel: string; value: number }[] = [];
    for (const pa of this.panels()) {
      for (const c of pa.curves) {
        const vals = this.payload.curves[c];
        if (!vals) continue;
        this.payload.steps.forEach((s, i) => {
          if (vals[i] != null) out.push({ step: s, curve: CURVE_LABELS[c], panel: pa.id, value: vals[i]! });
        });
      }
    }
    return out;
  }

  private spec(): Record<string, unknown> {
    const t = themeColors(this.host);
    const present = (Object.keys(CURVE_LABELS) as CurveName[]).filter((c) => this.payload.curves[c]);
    const x = stepAxis(this.payload.steps, this.logSteps);
    const color = {
      field: 'curve',
      type: 'nominal',
      scale: { domain: present.map((c) => CURVE_LABELS[c]), range: present.map((c) => CURVE_COLORS[c]) },
      legend: { title: null, orient: 'bottom', columns: 3 },
    };
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      config: vegaConfig(t),
      columns: 2,
      concat: this.panels().map((pa) => ({
        title: { text: pa.title, fontSize: 12, anchor: 'start' },
        width: 260,
        height: 110,
        layer: [
          {
            data: { name: 'curves' },
            transform: [{ filter: `datum.panel === '${pa.id}'` }],
            mark: { type: 'line', point: { size: 22, cursor: 'pointer' } },
            encoding: {
              x,
              y: {
                field: 'value',
                type: 'quantitative',
                title: null,
                scale: { zero: false },
                axis: { format: '~g', ...(pa.id === 'heads' ? { tickMinStep: 1 } : {}) },
              },
              color,
            },
          },
          { data: { name: 'cursor' }, mark: { type: 'rule', color: t.accent, strokeWidth: 2 }, encoding: { x } },
        ],
      })),
    };
  }
}
