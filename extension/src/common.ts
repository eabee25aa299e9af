/**
 * DOM pieces shared by the views: elements, labelled controls, the title, the host's set-up and
 * the first render, a checkpoint slider that takes the keyboard and follows the page's link bus
 * (bus.ts), a tooltip placed beside the pointer, and the frame of the circuit graph, DAS panel and
 * binding grid views (SliderView).
 */
import { nearestIndex, publish, sliderKey, StepListener, subscribe } from './bus';
import { now, RenderQueue } from './renderqueue';
import { onThemeChange } from './theme';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

export function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const l = el('label', 'gl-control');
  l.append(el('span', 'gl-control-label', text), control);
  return l;
}

export function titleBar(title: string, model: string): HTMLElement {
  const t = el('div', 'gl-title');
  t.append(el('span', 'gl-title-main', title), el('span', 'gl-title-model', model));
  return t;
}

/**
 * Makes `host` a view's root: its class, the link key, JupyterLab's command-mode shortcuts off
 * (the view's controls take the keyboard), emptied.
 */
export function takeHost(host: HTMLElement, cls: string, link: string): void {
  host.classList.add(cls);
  host.dataset.link = link;
  host.setAttribute('data-lm-suppress-shortcuts', 'true');
  host.textContent = '';
}

/** The first render: resolves when `update()` has drawn, and records how long it took on host (`data-render-ms`). */
export function firstRender(host: HTMLElement, update: () => Promise<void>): Promise<void> {
  const t0 = now();
  return update().then(() => {
    host.dataset.renderMs = (now() - t0).toFixed(1);
  });
}

/** Shows a failed render in the view's note: `groundlab <what>: message`, styled as an error. */
export function showError(note: HTMLElement, what: string, e: unknown): void {
  note.textContent = `groundlab ${what}: ${e instanceof Error ? e.message : String(e)}`;
  note.classList.add('gl-error');
}

export function selectOf(cls: string, options: Array<[string, string]>): HTMLSelectElement {
  const s = el('select', cls);
  for (const [label, value] of options) s.append(new Option(label, value));
  return s;
}

/**
 * A checkpoint slider linked to the other widgets with the same `link`: moving it publishes the
 * step; a step published by another widget moves it to the nearest checkpoint it has and calls
 * `onChange` (which redraws). Arrows, Home/End and PageUp/PageDown work on the focused slider.
 */
export class StepSlider {
  readonly input: HTMLInputElement;
  readonly label: HTMLElement;
  readonly box: HTMLElement;
  c: number;
  private readonly listener: StepListener;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly steps: number[],
    private readonly link: string,
    initialStep: number,
    private readonly onChange: () => void,
  ) {
    this.c = Math.max(0, steps.indexOf(initialStep));
    this.input = el('input', 'gl-step');
    this.input.type = 'range';
    this.input.min = '0';
    this.input.max = String(steps.length - 1);
    this.input.step = '1';
    this.input.setAttribute('aria-label', 'checkpoint');
    this.label = el('span', 'gl-step-label');
    this.box = el('span', 'gl-step-box');
    this.box.append(this.input, this.label);
    this.input.addEventListener('input', () => this.set(Number(this.input.value)));
    this.input.addEventListener('keydown', (e) => {
      const next = sliderKey(e.key, this.c, this.steps.length);
      if (next == null) return;
      e.preventDefault();
      e.stopPropagation();
      this.set(next);
    });
    this.listener = (s: number) => {
      const c = nearestIndex(this.steps, s);
      if (c !== this.c) {
        this.c = c;
        this.onChange();
      }
    };
    this.unsubscribe = subscribe(link, this.listener);
  }

  get step(): number {
    return this.steps[this.c];
  }

  /** Moves to checkpoint index c, tells the linked widgets and redraws. */
  set(c: number): void {
    this.c = Math.max(0, Math.min(this.steps.length - 1, Math.round(c)));
    publish(this.link, this.steps[this.c], this.listener);
    this.onChange();
  }

  /** Shows the current checkpoint (call from the view's render). */
  sync(): void {
    this.input.value = String(this.c);
    this.label.textContent = `step ${this.step} (${this.c + 1}/${this.steps.length})`;
  }

  dispose(): void {
    this.unsubscribe();
  }
}

/** A box holding `content` with a tooltip over it (filled by showTip), hidden when the pointer leaves the box. */
export function tipHost(content: HTMLElement): { wrap: HTMLElement; tip: HTMLElement } {
  const wrap = el('div', 'gl-tip-host');
  const tip = el('div', 'gl-tooltip');
  wrap.append(content, tip);
  wrap.addEventListener('mouseleave', () => (tip.style.display = 'none'));
  return { wrap, tip };
}

/** Shows `text` in `tip` beside the pointer (page coordinates), inside `widget`. */
export function showTip(tip: HTMLElement, widget: HTMLElement, clientX: number, clientY: number, text: string): void {
  const hostBox = (tip.parentElement as HTMLElement).getBoundingClientRect();
  const box = widget.getBoundingClientRect();
  tip.textContent = text;
  tip.style.display = 'block';
  const w = tip.offsetWidth || 200;
  const fitsRight = clientX + 14 + w <= box.right || box.width === 0;
  tip.style.left = `${clientX - hostBox.left + (fitsRight ? 14 : -w - 14)}px`;
  tip.style.top = `${clientY - hostBox.top + 14}px`;
}

/** Whether the page background is dark (for colour schemes whose low end must recede into it). */
export function isDark(rgb: [number, number, number]): boolean {
  return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] < 128;
}

/** The payload fields a view with a checkpoint slider reads: its title, model, link key and checkpoints. */
export interface SliderPayload {
  title: string;
  model: string;
  link: string;
  steps: number[];
  initialStep: number;
}

/**
 * The frame of the circuit graph, DAS panel and binding grid views: the host set up (takeHost),
 * a render queue whose failures go to the view's note, the checkpoint slider on the link bus,
 * the theme watch and the first render (`start`, called once the view has built its controls),
 * and dispose. The view draws its state in `render`.
 */
export abstract class SliderView<P extends SliderPayload> {
  readonly host: HTMLElement;
  readonly payload: P;
  readonly slider: StepSlider;
  protected disposed = false;
  /** The view's elements; `note` shows a failed render. */
  protected abstract readonly ui: { note: HTMLElement };
  private readonly renders: RenderQueue;
  private unwatchTheme: () => void = () => undefined;

  /** `cls`: the host's class; `what`: the view's name in error notes ("circuit graph"). */
  protected constructor(host: HTMLElement, payload: P, cls: string, what: string) {
    this.host = host;
    this.payload = payload;
    this.renders = new RenderQueue(
      host,
      () => this.render(),
      (e) => showError(this.ui.note, what, e),
    );
    takeHost(host, cls, payload.link);
    this.slider = new StepSlider(payload.steps, payload.link, payload.initialStep, () => void this.update());
  }

  /** Draws the current state (the render queue calls it; never two at once). */
  protected abstract render(): Promise<void>;

  /** Watches the theme (`onTheme` on a switch) and draws for the first time: the view's `ready`. */
  protected start(onTheme: () => void): Promise<void> {
    this.unwatchTheme = onThemeChange(onTheme);
    return firstRender(this.host, () => this.update());
  }

  setStepIndex(c: number): Promise<void> {
    this.slider.set(c);
    return this.update();
  }

  /** Schedules a render of the current state; calls made while one is queued share it. */
  update(): Promise<void> {
    return this.renders.update();
  }

  dispose(): void {
    this.disposed = true;
    this.slider.dispose();
    this.unwatchTheme();
  }
}
