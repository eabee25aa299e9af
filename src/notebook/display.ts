/**
 * `display(x)`: show a value in the notebook as a full MIME bundle (one output, several
 * representations; the frontend picks the richest it can render). Vega-Lite specs get an SVG and a
 * PNG rendered in Node next to the spec, so the figure shows in any frontend and in saved notebooks.
 * Outside the kernel the text/plain representation is printed to stdout.
 */
import { randomBytes } from 'node:crypto';
import { kernelBridge, type NotebookBundle } from './bridge';
import { isVegaLiteSpec, mimeBundleOf, PLOTLY_MIME, SILENT, VEGALITE_MIME, type BundleOptions } from './mime';
import { renderVegaLite } from '../viz/render';
import { figureFallback } from '../viz/plotly';

export interface DisplayOptions extends BundleOptions {
  /** Add SVG/PNG fallbacks to Vega-Lite specs and plotly figures (default true). */
  images?: boolean | 'svg' | 'png';
  /** Re-use a display id (e.g. to replace an earlier output with `update: true`). */
  displayId?: string;
  /** Replace the output that has `displayId` instead of adding a new one. */
  update?: boolean;
}

/** A shown output that can be replaced in place. */
export interface DisplayHandle {
  readonly displayId: string;
  /** Replace this output with a new value. */
  update(x: unknown, opts?: DisplayOptions): Promise<void>;
}

/** The full bundle `display(x)` sends (exposed for tests and for saving outputs). */
export async function displayBundle(x: unknown, opts: DisplayOptions = {}): Promise<NotebookBundle> {
  const bundle = mimeBundleOf(x, opts);
  // a plotly figure from src/viz/plotly.ts carries its data as a Vega-Lite spec: its images come from that
  const plotly = !isVegaLiteSpec(x) && !!bundle.data[PLOTLY_MIME];
  const spec = isVegaLiteSpec(x) && bundle.data[VEGALITE_MIME] ? x : plotly ? figureFallback(x) : undefined;
  // plotly: SVG only unless a PNG is asked for (JupyterLab's plotly renderer shows a bundle's PNG in
  // place of the live figure until the pointer enters it; see src/viz/plotly.ts)
  const images = plotly && (opts.images ?? true) === true ? 'svg' : (opts.images ?? true);
  if (images && spec) {
    const fig = await renderVegaLite(spec);
    if (images === true || images === 'svg') bundle.data['image/svg+xml'] = fig.svg;
    if (images === true || images === 'png') {
      bundle.data['image/png'] = Buffer.from(fig.png).toString('base64');
      bundle.metadata = { ...(bundle.metadata ?? {}), 'image/png': { width: fig.width, height: fig.height } };
    }
  }
  return bundle;
}

function send(bundle: NotebookBundle, displayId: string, update: boolean): void {
  const k = kernelBridge();
  if (k) k.display(bundle, { displayId, update });
  else process.stdout.write(String(bundle.data['text/plain'] ?? '') + '\n');
}

/**
 * Show `x` in the notebook: Vega-Lite specs (with SVG + PNG fallbacks), arquero tables (HTML),
 * objects with `toMimeBundle()`, groundlab widget bundles (src/viz/widgets.ts), anything else as text.
 * Returns a handle whose `update()` replaces the output in place.
 */
export async function display(x: unknown, opts: DisplayOptions = {}): Promise<DisplayHandle> {
  const displayId = opts.displayId ?? kernelBridge()?.newDisplayId() ?? randomBytes(8).toString('hex');
  send(await displayBundle(x, opts), displayId, !!opts.update);
  const handle: DisplayHandle = {
    displayId,
    async update(y: unknown, o: DisplayOptions = {}) {
      send(await displayBundle(y, { ...opts, ...o }), displayId, true);
    },
  };
  // A cell ending in `await display(x)` shows x once, not the handle as well.
  Object.defineProperty(handle, SILENT, { value: true });
  return handle;
}
