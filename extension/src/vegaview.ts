/** Small helpers around vega: compile a vega-lite spec once, then feed named data sets. */
import { View, parse } from 'vega';
import { compile } from 'vega-lite';

export type RendererKind = 'canvas' | 'svg';

/** Sets `smooth: false` on every image mark (vega-lite has no such mark property): crisp cells. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function crispImages(node: any): void {
  for (const m of node.marks ?? []) {
    if (m.type === 'image') {
      m.encode = m.encode ?? {};
      m.encode.update = { ...(m.encode.update ?? {}), smooth: { value: false } };
    }
    crispImages(m);
  }
}

export async function createView(
  container: HTMLElement,
  spec: Record<string, unknown>,
  renderer: RendererKind,
  data: Record<string, unknown[]>,
): Promise<View> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const vg = compile(spec as any).spec;
  crispImages(vg);
  const view = new View(parse(vg), { renderer, container, hover: false });
  for (const [name, values] of Object.entries(data)) view.data(name, values);
  await view.runAsync();
  return view;
}

/** Replaces named data sets and re-renders. */
export async function setData(view: View, data: Record<string, unknown[]>): Promise<void> {
  for (const [name, values] of Object.entries(data)) view.data(name, values);
  await view.runAsync();
}

/** The page coordinates of a point given in the view's data coordinates (x and y scale values). */
export function clientPoint(
  view: View,
  container: HTMLElement,
  xScale: string,
  x: unknown,
  yScale: string,
  y: unknown,
): { x: number; y: number } {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const sx = view.scale(xScale) as any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const sy = view.scale(yScale) as any;
  const [ox0, oy0] = view.origin();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pad = (view as any).padding() as { left?: number; top?: number };
  const ox = ox0 + (pad.left ?? 0);
  const oy = oy0 + (pad.top ?? 0);
  const bx = typeof sx.bandwidth === 'function' ? sx.bandwidth() / 2 : 0;
  const by = typeof sy.bandwidth === 'function' ? sy.bandwidth() / 2 : 0;
  const el = (container.querySelector('canvas, svg') as HTMLElement) ?? container;
  const r = el.getBoundingClientRect();
  return { x: r.left + ox + sx(x) + bx, y: r.top + oy + sy(y) + by };
}

/** The [x, y] offset of the first item of the group mark called `name` (e.g. a concat panel). */
export function groupOffset(view: View, name: string): [number, number] | null {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const walk = (node: any, dx: number, dy: number): [number, number] | null => {
    for (const item of node.items ?? []) {
      const x = dx + (item.x ?? 0);
      const y = dy + (item.y ?? 0);
      if (node.name === name && node.marktype === 'group') return [x, y];
      for (const child of item.items ?? []) {
        const r = walk(child, node.marktype === 'group' ? x : dx, node.marktype === 'group' ? y : dy);
        if (r) return r;
      }
    }
    return null;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return walk((view.scenegraph() as any).root, 0, 0);
}
