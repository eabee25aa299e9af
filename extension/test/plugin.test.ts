/** The JupyterLab plugin object and the Lumino renderer widget. */
import './dom';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import extension, { GroundlabRenderer, rendererFactory, VEGALITE5_MIME } from '../src/index';
import { BINDING_GRID_MIME, CIRCUIT_MIME, DAS_MIME, INSPECTOR_MIME, TIMELINE_MIME } from '../src/payload';
import { timelinePayload } from './fixture';
import * as fs from 'node:fs';
import * as path from 'node:path';

test('the extension registers a safe JSON renderer for every groundlab MIME type', () => {
  assert.equal(extension.id, 'groundlab-widgets:renderers');
  assert.equal(extension.dataType, 'json');
  assert.deepEqual(rendererFactory.mimeTypes, [INSPECTOR_MIME, TIMELINE_MIME, CIRCUIT_MIME, DAS_MIME, BINDING_GRID_MIME, VEGALITE5_MIME]);
  assert.ok(rendererFactory.defaultRank! < 57, "ahead of JupyterLab's Vega renderer (rank 57)");
  assert.equal(rendererFactory.safe, true);
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  assert.equal(pkg.jupyterlab.mimeExtension, true);
  for (const f of ['inspector.schema.json', 'timeline.schema.json', 'circuit.schema.json', 'das.schema.json', 'bindinggrid.schema.json']) {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'schema', f), 'utf8'));
    assert.ok(schema.properties.version && schema.required.includes('version'), f);
  }
});

test('the renderer widget shows a timeline, and a clear message for a payload it cannot read', async () => {
  const w = rendererFactory.createRenderer({ mimeType: TIMELINE_MIME, sanitizer: {} as never, resolver: null, linkHandler: null, latexTypesetter: null } as never) as GroundlabRenderer;
  // jsdom has no canvas: the renderer falls back to vega's SVG renderer
  await w.renderModel({ data: { [TIMELINE_MIME]: timelinePayload() }, trusted: false, metadata: {}, setData: () => undefined } as never);
  assert.equal(w.node.getAttribute('data-lm-suppress-shortcuts'), 'true');
  assert.equal(w.node.querySelectorAll('.gl-timeline .gl-tl-value').length, 4);
  assert.ok(w.node.querySelector('.gl-timeline .gl-tl-chart svg'));
  await w.renderModel({ data: { [TIMELINE_MIME]: { ...timelinePayload(), version: 9 } }, trusted: false, metadata: {}, setData: () => undefined } as never);
  assert.match(w.node.textContent ?? '', /groundlab-widgets cannot show this output: timeline payload version 9 is not supported/);
  w.dispose();
});

test('Vega-Lite outputs are drawn in the theme colours and drawn again when the theme changes', async () => {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Training loss',
    data: { values: [{ step: 0, loss: 5 }, { step: 10, loss: 4 }, { step: 20, loss: 3.5 }] },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } }
  };
  const w = rendererFactory.createRenderer({ mimeType: VEGALITE5_MIME, sanitizer: {} as never, resolver: null, linkHandler: null, latexTypesetter: null } as never) as GroundlabRenderer;
  document.body.appendChild(w.node);
  // jsdom does not inherit CSS custom properties: stand in for the theme's variables
  const vars: Record<string, string> = {};
  const g = globalThis as unknown as { getComputedStyle: (e: Element) => { getPropertyValue(n: string): string } };
  const real = g.getComputedStyle;
  g.getComputedStyle = () => ({ getPropertyValue: (n: string) => vars[n] ?? '' });
  const setVars = (fg: string, bg: string) => {
    vars['--jp-ui-font-color1'] = fg;
    vars['--jp-layout-color0'] = bg;
  };
  setVars('#111111', '#ffffff');
  await w.renderModel({ data: { [VEGALITE5_MIME]: spec }, trusted: true, metadata: {}, setData: () => undefined } as never);
  const host = w.node.querySelector('.gl-vegalite') as HTMLElement;
  assert.ok(host, 'drawn by groundlab-widgets');
  assert.equal(host.dataset.renders, '1');
  const title = () => Array.from(w.node.querySelectorAll('svg text')).filter((t) => t.textContent === 'Training loss').map((t) => t.getAttribute('fill'));
  assert.deepEqual(title(), ['#111111'], 'the title in the light theme text colour');
  // JupyterLab switches theme: body attributes change, the CSS variables follow
  setVars('#eeeeee', '#111111');
  document.body.dataset.jpThemeLight = 'false';
  await new Promise((r) => setTimeout(r, 50));
  await (w as unknown as { view: { ready: Promise<void> } }).view.ready;
  const renders = () => host.dataset.renders as string;
  for (let i = 0; i < 50 && renders() !== '2'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(host.dataset.renders, '2', 'drawn again on the theme change');
  assert.deepEqual(title(), ['#eeeeee'], 'the title in the dark theme text colour');
  assert.equal(host.dataset.theme, '#111111');
  delete document.body.dataset.jpThemeLight;
  g.getComputedStyle = real;
  w.dispose();
  await w.renderModel({ data: { [VEGALITE5_MIME]: [1, 2] }, trusted: true, metadata: {}, setData: () => undefined } as never).catch(() => undefined);
});
