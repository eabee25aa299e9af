/**
 * Vega-Lite figures (`application/vnd.vegalite.v5+json`, what groundlab's `display(lineChart(...))`
 * sends) drawn in the colours of the current JupyterLab theme, and drawn again when the theme
 * changes. JupyterLab's own Vega renderer picks its theme once, when an output is first drawn, so
 * after a switch to the dark theme every chart stays a white box; this renderer takes precedence
 * (a lower rank) for that MIME type. The spec's own `config` wins over the theme's; tooltips
 * (`tooltip` encodings) show beside the pointer.
 */
import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import { now } from './renderqueue';
import { onThemeChange, themeColors, vegaConfig } from './theme';
import type { RendererKind } from './vegaview';

export const VEGALITE5_MIME = 'application/vnd.vegalite.v5+json';

function tipText(value: unknown): string {
  if (value == null) return '';
  if (typeof value !== 'object') return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? Number(v.toPrecision(4)) : String(v)}`)
    .join('\n');
}

export class VegaLiteFigure {
  readonly host: HTMLElement;
  readonly ready: Promise<void>;
  private view?: View;
  private readonly chart: HTMLElement;
  private readonly tip: HTMLElement;
  private readonly unwatchTheme: () => void;
  private disposed = false;
  private renders = 0;

  constructor(
    host: HTMLElement,
    private readonly spec: Record<string, unknown>,
    private readonly options: { renderer?: RendererKind } = {},
  ) {
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('the Vega-Lite output is not a spec object');
    this.host = host;
    host.classList.add('gl-vegalite', 'gl-tip-host');
    host.textContent = '';
    this.chart = document.createElement('div');
    this.tip = document.createElement('div');
    this.tip.className = 'gl-tooltip';
    host.append(this.chart, this.tip);
    host.addEventListener('mouseleave', () => (this.tip.style.display = 'none'));
    this.unwatchTheme = onThemeChange(() => void this.draw());
    this.ready = this.draw();
  }

  /** Compiles the spec with the current theme's colours and draws it (again). */
  async draw(): Promise<void> {
    if (this.disposed) return;
    const t0 = now();
    const theme = themeColors(this.host);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const vg = compile(this.spec as any, { config: vegaConfig(theme) as any }).spec;
    // the old view goes first: a new View fills its container as it is made
    this.view?.finalize();
    this.chart.textContent = '';
    const view = new View(parse(vg), { renderer: this.options.renderer ?? 'canvas', container: this.chart, hover: true });
    view.tooltip((_handler: unknown, event: MouseEvent, _item: unknown, value: unknown) => {
      if (value == null || value === '') {
        this.tip.style.display = 'none';
        return;
      }
      const box = this.host.getBoundingClientRect();
      this.tip.textContent = tipText(value);
      this.tip.style.display = 'block';
      this.tip.style.left = `${event.clientX - box.left + 14}px`;
      this.tip.style.top = `${event.clientY - box.top + 14}px`;
    });
    this.view = view;
    await view.runAsync();
    this.renders++;
    this.host.dataset.renders = String(this.renders);
    this.host.dataset.theme = theme.background;
    this.host.dataset.renderMs = (now() - t0).toFixed(1);
  }

  dispose(): void {
    this.disposed = true;
    this.unwatchTheme();
    this.view?.finalize();
  }
}
