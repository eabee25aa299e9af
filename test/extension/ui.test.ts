/**
 * UI test of groundlab-widgets in real JupyterLab and Debian's Chromium (never a downloaded browser):
 * a notebook whose saved outputs carry a timeline and an inspector bundle (12 layers x 12 heads,
 * 128 tokens) is opened; the test selects a head by clicking the overview, hovers the ENV -> pre-LAN
 * cell, switches to saliency, moves the timeline's scrubber, switches to the dark theme, checks the
 * DOM after each step, saves screenshots under test-results/extension/ and writes the timings to
 * test-results/extension/timings.json.
 * Skips (with a message) only when /usr/bin/chromium or the project's .venv is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspectorBundle, timelineBundle, INSPECTOR_MIME, TIMELINE_MIME } from '../../src/viz/widgets';
import { syntheticInspectorData, syntheticTimelineData } from './fixtures';
import { mapHeatmap, mapPairHeatmap, plotlyBundle, probeSubspace3d } from '../../src/viz/plotly';
import { Rng } from '../../src/engine/rng';
import { JUPYTER, launchChromium, missing, OUT, startLab, widgetsInstalled, writeJSON } from './lab';

const STEPS = [250, 500, 1000, 2000, 4000, 6000, 8000, 10000];

async function notebook() {
  const insp = inspectorBundle(syntheticInspectorData({ layers: 12, heads: 12, tokens: 128, steps: STEPS, examples: 2, mapsPerStep: 4, link: 'ui' }));
  const tl = timelineBundle(syntheticTimelineData(STEPS, 3, 'ui'));
  const out = (bundle: Record<string, unknown>) => ({ output_type: 'display_data', data: bundle, metadata: {} });
  const code = (src: string, outputs: unknown[]) => ({ cell_type: 'code', execution_count: null, metadata: {}, source: src, outputs });
  // plotly figures (saved with their SVG/PNG fallbacks): one head's map, and a 3-D class subspace
  const data = syntheticInspectorData({ layers: 2, heads: 2, tokens: 24, steps: [10], examples: 1, mapsPerStep: 2 });
  const att = data.maps.find((m) => m.kind === 'attention' && data.maps.some((x) => x.kind === 'saliency' && x.layer === m.layer && x.head === m.head && x.step === m.step && x.variant === m.variant))!;
  const heat = await plotlyBundle(mapHeatmap(data, att));
  const pair = await plotlyBundle(mapPairHeatmap(data, att));
  const d = 8;
  const rng = new Rng(1);
  const x = new Float32Array(90 * d);
  const labels = new Int32Array(90);
  for (let i = 0; i < 90; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < d; j++) x[i * d + j] = (j === labels[i] ? 3 : 0) + 0.3 * rng.normal();
  }
  const cloud = await plotlyBundle(probeSubspace3d({ x, n: 90, d, labels, classes: ['ball', 'cup', 'dog'] }, { title: 'class subspace (synthetic)' }));
  return {
    nb: {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      cells: [
        { cell_type: 'markdown', metadata: {}, source: '# groundlab widgets (saved outputs, synthetic data)' },
        code('display(timeline)', [out(tl)]),
        code('display(inspector)', [out(insp)]),
        code('display(mapHeatmap(...))', [out(heat)]),
        code('display(mapPairHeatmap(...))', [out(pair)]),
        code('display(probeSubspace3d(...))', [out(cloud)]),
      ],
    },
    insp: insp[INSPECTOR_MIME] as { steps: number[]; maps: { step: number; example: string; variant: string; kind: string; layer: number; head: number }[] },
    bytes: JSON.stringify(insp).length,
  };
}

test('groundlab-widgets in JupyterLab + Chromium: select a head, saliency, scrubber, dark theme', { skip: missing ? `skipped: ${missing}` : false, timeout: 240_000 }, async () => {
  assert.ok(widgetsInstalled(), 'groundlab-widgets is not installed in .venv: run `source scripts/setup.sh && setup_extension`');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-ui-'));
  const { nb, insp, bytes } = await notebook();
  writeJSON(path.join(tmp, 'nb', 'widgets.ipynb'), nb);
  // trusted, as outputs made in one's own session are: plotly's renderer draws only trusted outputs
  // (our widgets are safe renderers and draw in untrusted notebooks too)
  const trust = spawnSync(JUPYTER, ['trust', path.join(tmp, 'nb', 'widgets.ipynb')], { encoding: 'utf8' });
  assert.equal(trust.status, 0, trust.stderr);
  fs.mkdirSync(OUT, { recursive: true });
  const lab = await startLab(path.join(tmp, 'nb'), tmp);
  let browser: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  const timings: Record<string, unknown> = { bundleBytes: bytes, layers: 12, heads: 12, tokens: 128, checkpoints: STEPS.length, mapsCarried: insp.maps.length };
  try {
    const base = lab.base;
    const token = lab.token;
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1700, height: 1500 } });
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(String(e)));
    const t0 = Date.now();
    await page.goto(`${base}/lab/tree/widgets.ipynb?token=${token}`);
    const inspSel = '.gl-inspector[data-render-ms]';
    const tlSel = '.gl-timeline[data-render-ms]';
    await page.waitForSelector(inspSel, { timeout: 90_000 });
    await page.waitForSelector(tlSel, { timeout: 30_000 });
    timings.openToWidgetsMs = Date.now() - t0;
    timings.inspectorFirstRenderMs = Number(await page.getAttribute(inspSel, 'data-render-ms'));
    timings.timelineFirstRenderMs = Number(await page.getAttribute(tlSel, 'data-render-ms'));

    const ds = () => page.evaluate(() => ({ ...(document.querySelector('.gl-inspector') as HTMLElement).dataset }));
    const tl = () => page.evaluate(() => ({ ...(document.querySelector('.gl-timeline') as HTMLElement).dataset }));
    let d = await ds();
    assert.equal(d.step, String(STEPS[STEPS.length - 1]));
    assert.equal(d.map, 'shown');
    assert.equal(await page.locator('.gl-inspector .gl-tokens .gl-tok').count(), 128 + 1 /* the target */);
    assert.equal(await page.locator('.gl-inspector .gl-tokens .gl-tok-env-slot').count(), 1);
    assert.match((await page.textContent('.gl-inspector .gl-tokens .gl-tok-env-slot'))!, /<ENV>$/);
    assert.equal(await page.locator('.gl-inspector .gl-overview canvas').count(), 1);
    assert.equal(await page.locator('.gl-inspector .gl-map canvas').count(), 1);
    assert.equal(await page.locator('.gl-timeline .gl-tl-chart canvas').count(), 1);
    assert.equal(await page.locator('.gl-timeline .gl-tl-value').count(), 6);
    await page.locator('.gl-timeline').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, '1-opened.png'), fullPage: true });

    // 1. select a head by clicking its cell in the overview (a head whose attention map is carried)
    const last = STEPS[STEPS.length - 1];
    const cur = d.head!.split('.').map(Number);
    const other = insp.maps.find((m) => m.step === last && m.example === 'ex1' && m.variant === 'match' && m.kind === 'attention' && !(m.layer === cur[0] && m.head === cur[1]))!;
    assert.ok(other, 'the fixture carries a second head at the last step');
    await page.locator('.gl-inspector .gl-overview').scrollIntoViewIfNeeded();
    const pt = await page.evaluate(([l, h]: number[]) => (document.querySelector('.gl-inspector') as any).__groundlab.headPoint(l, h), [other.layer, other.head]);
    let updates = Number(d.updates);
    let tc = Date.now();
    await page.mouse.click(pt.x, pt.y);
    await page.waitForFunction((n: number) => Number((document.querySelector('.gl-inspector') as HTMLElement).dataset.updates) > n, updates);
    timings.selectHeadWallMs = Date.now() - tc;
    d = await ds();
    timings.selectHeadMs = Number(d.lastUpdateMs);
    assert.equal(d.head, `${other.layer}.${other.head}`);
    assert.equal(d.map, 'shown');
    assert.match((await page.textContent('.gl-inspector .gl-map-status'))!, new RegExp(`attention map of L${other.layer} H${other.head} at step ${last}`));
    // hover the ENV -> pre-LAN cell: the readout shows its value and says what it is
    await page.locator('.gl-inspector .gl-map').scrollIntoViewIfNeeded();
    const cell = await page.evaluate(() => {
      const v = (document.querySelector('.gl-inspector') as any).__groundlab;
      const ex = v.payload.examples[0].variants.match;
      return v.cellPoint(ex.predPos, ex.envPos);
    });
    console.log('cell point', JSON.stringify(cell));
    await page.mouse.move(cell.x, cell.y);
    await page.waitForFunction(() => /ENV -> pre-LAN/.test(document.querySelector('.gl-inspector .gl-map-readout')!.textContent!));
    const readout = (await page.textContent('.gl-inspector .gl-map-readout'))!;
    assert.match(readout, /^query 127 "this" <- key 122 "ball<ENV>": [\d.]+ \[ENV -> pre-LAN\]$/);
    assert.equal(readout.match(/: ([\d.]+) /)![1], d.envCell, 'the hover value equals the marked cell value in the status line');
    await page.screenshot({ path: path.join(OUT, '2-head-selected-hover.png'), fullPage: true });

    // 2. switch to saliency
    updates = Number((await ds()).updates);
    tc = Date.now();
    await page.selectOption('.gl-inspector .gl-kind', 'saliency');
    await page.waitForFunction((n: number) => Number((document.querySelector('.gl-inspector') as HTMLElement).dataset.updates) > n, updates);
    timings.switchSaliencyWallMs = Date.now() - tc;
    d = await ds();
    timings.switchSaliencyMs = Number(d.lastUpdateMs);
    assert.equal(d.kind, 'saliency');
    assert.equal(d.map, 'shown');
    assert.match((await page.textContent('.gl-inspector .gl-map-status'))!, /^saliency map of L\d+ H\d+ at step 10000/);
    // mismatch variant
    await page.selectOption('.gl-inspector .gl-variant', 'mismatch');
    await page.waitForFunction(() => (document.querySelector('.gl-inspector') as HTMLElement).dataset.variant === 'mismatch');
    assert.match((await page.textContent('.gl-inspector .gl-tokens .gl-tok-env-slot'))!, /^cup<ENV>$/);
    await page.locator('.gl-inspector .gl-map').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, '3-saliency-mismatch.png'), fullPage: true });

    // 3. move the timeline's scrubber: click its track at a checkpoint (first the first one, then the third); the inspector follows
    const scrub = page.locator('.gl-timeline .gl-scrubber');
    await scrub.scrollIntoViewIfNeeded();
    const box = await scrub.boundingBox();
    const THUMB = 16; // Chromium's range thumb width in px
    const clickIndex = (i: number) => page.mouse.click(box.x + THUMB / 2 + (i / (STEPS.length - 1)) * (box.width - THUMB), box.y + box.height / 2);
    const stepIs = (s: number) => page.waitForFunction((x: string) => (document.querySelector('.gl-inspector') as HTMLElement).dataset.step === x && (document.querySelector('.gl-timeline') as HTMLElement).dataset.step === x, String(s));
    await clickIndex(0);
    await stepIs(250);
    tc = Date.now();
    await clickIndex(2);
    await stepIs(1000);
    timings.scrubWallMs = Date.now() - tc;
    timings.scrubInspectorMs = Number((await ds()).lastUpdateMs);
    assert.match((await page.textContent('.gl-timeline .gl-step-label'))!, /^step 1000 \(3\/8\)$/);
    assert.match((await page.textContent('.gl-inspector .gl-step-label'))!, /^step 1000 \(3\/8\)$/);
    assert.equal(await page.inputValue('.gl-inspector .gl-step'), '2', "the inspector's own checkpoint slider follows");
    const gain = (await page.textContent('.gl-timeline .gl-tl-value[data-curve=infoGain]'))!;
    assert.match(gain, /^information gain G: [\d.]+$/);
    // the keyboard works on the focused scrubber too (JupyterLab's ArrowRight shortcut is suppressed)
    await page.focus('.gl-timeline .gl-scrubber');
    await page.keyboard.press('ArrowRight');
    await stepIs(2000);
    await page.keyboard.press('ArrowLeft');
    await stepIs(1000);
    // the head selected at step 10000 may carry no map at step 1000: then the widget says so
    d = await ds();
    const [sl, sh] = d.head!.split('.').map(Number);
    const carried = insp.maps.some((m) => m.step === 1000 && m.example === 'ex1' && m.variant === 'mismatch' && m.kind === 'saliency' && m.layer === sl && m.head === sh);
    assert.equal(d.map, carried ? 'shown' : 'missing');
    if (!carried) assert.match((await page.textContent('.gl-inspector .gl-map-status'))!, /^Not carried in this bundle: the saliency map of L\d+ H\d+ at step 1000/);
    await page.screenshot({ path: path.join(OUT, '4-scrubbed-to-step-1000.png'), fullPage: true });

    // scrub through all checkpoints one by one and time each inspector update
    await clickIndex(0);
    await stepIs(250);
    const per: number[] = [];
    const inner: number[] = [];
    for (let i = 1; i < STEPS.length; i++) {
      const t = Date.now();
      await clickIndex(i);
      await stepIs(STEPS[i]);
      await page.waitForFunction(() => !(document.querySelector('.gl-inspector') as any).__groundlab.renders.queued);
      per.push(Date.now() - t);
      inner.push(Number((await ds()).lastUpdateMs));
    }
    const stats = (xs: number[]) => ({ mean: Math.round(xs.reduce((a, b) => a + b, 0) / xs.length), max: Math.round(Math.max(...xs)), n: xs.length });
    timings.scrubPerCheckpointWallMs = stats(per);
    timings.scrubPerCheckpointInspectorMs = stats(inner);

    // clicking a point of the information-gain panel also moves the checkpoint
    await page.locator('.gl-timeline .gl-tl-chart').scrollIntoViewIfNeeded();
    const gp = await page.evaluate(() => (document.querySelector('.gl-timeline') as any).__groundlab.pointAt(1, 5));
    assert.ok(gp, 'the information-gain panel has a point at checkpoint 6');
    await page.mouse.click(gp.x, gp.y);
    await stepIs(6000);

    // switch examples: ex2's tokens; this bundle carries maps for ex1 only, and the widget says so
    await page.selectOption('.gl-inspector .gl-example', 'ex2');
    await page.waitForFunction(() => (document.querySelector('.gl-inspector') as HTMLElement).dataset.example === 'ex2');
    assert.match((await page.textContent('.gl-inspector .gl-tokens .gl-tok-env-slot'))!, /^shoe<ENV>$/, 'ex2 (book), mismatch variant');
    assert.equal((await ds()).map, 'missing');
    assert.match((await page.textContent('.gl-inspector .gl-map-status'))!, /^Not carried in this bundle: .*example ex2/);
    await page.selectOption('.gl-inspector .gl-example', 'ex1');

    // every head of the model as small multiples (144 cells; the fixture carries 4 heads' maps per checkpoint)
    updates = Number((await ds()).updates);
    tc = Date.now();
    await page.selectOption('.gl-inspector .gl-multiples', 'model');
    await page.waitForFunction((n: number) => Number((document.querySelector('.gl-inspector') as HTMLElement).dataset.updates) > n && document.querySelectorAll('.gl-inspector .gl-mult').length === 144, updates);
    timings.allHeadsMultiplesWallMs = Date.now() - tc;
    timings.allHeadsMultiplesMs = Number((await ds()).lastUpdateMs);
    await page.locator('.gl-inspector .gl-multiples-grid').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, '6-all-heads.png'), fullPage: true });
    await page.selectOption('.gl-inspector .gl-multiples', 'layer');

    // plotly figures are drawn by JupyterLab's plotly renderer (PyPI plotly ships it): a heat map, a linked pair and a 3-D scatter
    await page.locator('.js-plotly-plot').first().scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot').length === 3, undefined, { timeout: 30_000 });
    // the heat map's cells and the 3-D scene are drawn (plotly draws heat maps on a canvas image, 3-D with WebGL)
    await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm image').length >= 1, undefined, { timeout: 30_000 });
    timings.plotly3dScene = await page.evaluate(() => document.querySelectorAll('.js-plotly-plot .gl-container canvas').length);
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(OUT, '7-plotly.png'), fullPage: false });
    await page.locator('.js-plotly-plot').nth(1).scrollIntoViewIfNeeded();
    await page.locator('.js-plotly-plot').nth(1).screenshot({ path: path.join(OUT, '8-plotly-pair.png') });
    timings.plotlyFigures = await page.locator('.js-plotly-plot').count();

    // 4. dark theme through the Settings menu: the widgets redraw with the theme's colours
    updates = Number((await ds()).updates);
    await page.click('.lm-MenuBar-item:has-text("Settings")');
    await page.hover('.lm-Menu-item:has-text("Theme")');
    await page.click('.lm-Menu-item:has-text("JupyterLab Dark")');
    await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false', undefined, { timeout: 30_000 });
    await page.waitForFunction((n: number) => Number((document.querySelector('.gl-inspector') as HTMLElement).dataset.updates) > n, updates);
    const colors = await page.evaluate(() => getComputedStyle(document.querySelector('.gl-inspector')!).color);
    assert.notEqual(colors, 'rgb(0, 0, 0)');
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(OUT, '5-dark-theme.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no uncaught page errors');
  } catch (e) {
    if (browser) {
      const pages = browser.contexts().flatMap((c: any) => c.pages()); // eslint-disable-line @typescript-eslint/no-explicit-any
      if (pages[0]) {
        await pages[0].screenshot({ path: path.join(OUT, 'failure.png'), fullPage: true }).catch(() => undefined);
        const state = await pages[0].evaluate(() => Array.from(document.querySelectorAll('.gl-inspector, .gl-timeline')).map((e) => ({ ...(e as HTMLElement).dataset, readout: e.querySelector('.gl-map-readout, .gl-tl-readout')?.textContent }))).catch(() => undefined);
        console.log('widget state at failure:', JSON.stringify(state));
      }
    }
    throw e;
  } finally {
    writeJSON(path.join(OUT, 'timings.json'), timings);
    if (browser) await browser.close().catch(() => undefined);
    await lab.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('groundlab-widgets UI timings:', JSON.stringify(timings));
});
