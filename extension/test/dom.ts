/** A jsdom window as the global DOM for renderer unit tests (import this first). */
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
const w = dom.window as unknown as Record<string, unknown>;
const g = globalThis as unknown as Record<string, unknown>;
for (const k of ['window', 'document', 'navigator', 'HTMLElement', 'HTMLCanvasElement', 'Element', 'Node', 'Event', 'MouseEvent', 'KeyboardEvent', 'getComputedStyle', 'MutationObserver', 'Option', 'SVGElement', 'DOMParser', 'requestAnimationFrame', 'cancelAnimationFrame']) {
  if (k in w && !(k in g && k !== 'navigator')) {
    try {
      g[k] = w[k];
    } catch {
      /* read-only in this Node */
    }
  }
}
// no global Image: vega would wait for jsdom images that never load (it then skips loading)
// jsdom has no canvas: make getContext answer null quietly (vega then measures text by estimate)
(dom.window.HTMLCanvasElement.prototype as unknown as { getContext: () => null }).getContext = () => null;

export const jsdom = dom;
// jsdom has no DragEvent, which @lumino/dragdrop subclasses at load time
if (!('DragEvent' in g)) g.DragEvent = class DragEvent extends (dom.window.MouseEvent as unknown as typeof MouseEvent) {};
