/**
 * Headless figures: Vega-Lite spec -> SVG and PNG in Node, without a browser.
 * vega-lite 5 compiles the spec to Vega; a Vega `View` with renderer 'none' renders it to an SVG
 * string (text widths are estimated, no canvas needed); @resvg/resvg-js rasterises the SVG to PNG.
 */
import * as vl from 'vega-lite';
import * as vega from 'vega';
import { Resvg } from '@resvg/resvg-js';
import { GroundlabError } from '../errors';

export interface RenderOptions {
  /** PNG pixels per SVG pixel (default 2, crisp on high-DPI screens). */
  scale?: number;
  /** PNG background (default white; SVG keeps the spec's own background). */
  background?: string;
}

export interface RenderedFigure {
  svg: string;
  png: Uint8Array;
  /** SVG size in CSS pixels. */
  width: number;
  height: number;
}

/** Render a Vega-Lite spec to SVG. */
export async function vegaLiteToSvg(spec: object): Promise<string> {
  let compiled: vega.Spec;
  try {
    compiled = vl.compile(spec as vl.TopLevelSpec).spec;
  } catch (e) {
    throw new GroundlabError('BAD_ARGUMENT', `the Vega-Lite spec does not compile: ${(e as Error).message}`, {
      hint: 'check the spec against https://vega.github.io/vega-lite/docs/ (field names, mark and encoding types)',
      cause: e,
    });
  }
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterise an SVG string to PNG bytes. */
export function svgToPng(svg: string, opts: RenderOptions = {}): Uint8Array {
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: opts.scale ?? 2 },
    background: opts.background ?? 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return new Uint8Array(r.render().asPng());
}

/** Render a Vega-Lite spec to SVG and PNG (headless; used by `display()`, the CLI and `reproduce`). */
export async function renderVegaLite(spec: object, opts: RenderOptions = {}): Promise<RenderedFigure> {
  const svg = await vegaLiteToSvg(spec);
  const m = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  return { svg, png: svgToPng(svg, opts), width: m ? Number(m[1]) : NaN, height: m ? Number(m[2]) : NaN };
}
