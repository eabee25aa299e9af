/**
 * DOM pieces shared by the circuit graph, DAS panel and binding grid views: elements, labelled
 * controls, the title, a checkpoint slider that takes the keyboard and follows the page's link bus
 * (bus.ts), and a tooltip placed beside the pointer.
 */
import { nearestIndex, publish, sliderKey, StepListener, subscribe } from './bus';

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
