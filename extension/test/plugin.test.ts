/** The JupyterLab plugin object and the Lumino renderer widget. */
import './dom';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import extension, { GroundlabRenderer, rendererFactory } from '../src/index';
import { INSPECTOR_MIME, TIMELINE_MIME } from '../src/payload';
import { timelinePayload } from './fixture';
import * as fs from 'node:fs';
import * as path from 'node:path';

test('the extension registers a safe JSON renderer for both groundlab MIME types', () => {
  assert.equal(extension.id, 'groundlab-widgets:renderers');
  assert.equal(extension.dataType, 'json');
  assert.deepEqual(rendererFactory.mimeTypes, [INSPECTOR_MIME, TIMELINE_MIME]);
  assert.equal(rendererFactory.safe, true);
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  assert.equal(pkg.jupyterlab.mimeExtension, true);
  for (const f of ['inspector.schema.json', 'timeline.schema.json']) {
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
