/**
 * UI test of the circuit graph, DAS panel and binding grid in real JupyterLab and Debian's Chromium
 * (never a downloaded browser), on tiny runs trained here: a 2-layer Transformer traced by
 * circuitsRun, a GRU counting run through dasRun, a scene binding Transformer. A notebook whose
 * saved outputs carry a timeline and the three views, all linked as "views", is opened; the test
 * hovers the strongest edge, moves the edge threshold with the keyboard, focuses the logits node, scrubs the timeline (every
 * view moves to that checkpoint), shows every k of DAS and clicks one of its points (the timeline
 * follows), hovers a binding cell and enlarges a head, switches to the dark theme, and saves
 * screenshots and views.json under test-results/extension/.
 * Skips (with a message) only when /usr/bin/chromium or the project's .venv is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { train, openRun } from '../../src/train';
import { circuitsRun } from '../../src/analysis/circuits';
import { dasRun } from '../../src/causal/run';
import { circuitGraph, CIRCUIT_MIME } from '../../src/viz/circuit';
import { dasPanel } from '../../src/viz/das';
import { bindingGrid } from '../../src/viz/bindinggrid';
import { timelineBundle } from '../../src/viz/widgets';
import { syntheticTimelineData } from './fixtures';
import { launchChromium, missing, OUT, startLab, widgetsInstalled, writeJSON } from './lab';

/* eslint-disable @typescript-eslint/no-explicit-any */

const LINK = 'views';

async function fixtures(dir: string) {
  const t0 = Date.now();
  const tr = path.join(dir, 'transformer');
  await train({ out: tr, arch: 'transformer', preset: 'tiny', steps: 20 });
  const trRun = await openRun(tr);
  await circuitsRun(trRun, { pairs: 8 });
  const circuit = await circuitGraph(trRun, { link: LINK });
  const gru = path.join(dir, 'count-gru');
  await train({ out: gru, arch: 'gru', preset: 'tiny', steps: 20, corpus: { kind: 'counting', knobs: { maxCount: 6, heldOut: '4', sequences: 64 } }, model: { nLayers: 1, dModel: 8 } });
  const gruRun = await openRun(gru);
  await dasRun(gruRun, { program: 'up-down', site: 'blocks.0.state', dims: [1, 2], steps: 4, trainPairs: 16, testPairs: 16, checkpoints: gruRun.checkpoints.map((c) => c.step) });
  const das = await dasPanel(gruRun, { link: LINK });
  const bind = path.join(dir, 'bind');
  await train({ out: bind, arch: 'transformer', preset: 'tiny', steps: 20, seqLen: 32, corpus: { kind: 'binding', knobs: { maxObjects: 3, sequences: 64 } } });
  const grid = await bindingGrid(await openRun(bind), { perCount: 8, link: LINK });
  const steps = trRun.checkpoints.map((c) => c.step);
  // the timeline's curves are synthetic (this test checks linking, not grounding)
  const timeline = timelineBundle({ ...syntheticTimelineData(steps, 3, LINK), title: 'Checkpoint timeline (synthetic curves)' });
  return { circuit, das, grid, timeline, steps, seconds: (Date.now() - t0) / 1000 };
}

test('circuit graph, DAS panel and binding grid in JupyterLab + Chromium: hover, threshold, linked scrubbing, dark theme', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, async () => {
  assert.ok(widgetsInstalled(), 'groundlab-widgets is not installed in .venv: run `source scripts/setup.sh && setup_extension`');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-views-'));
  const fx = await fixtures(path.join(tmp, 'runs'));
  const out = (bundle: Record<string, unknown>) => ({ output_type: 'display_data', data: bundle, metadata: {} });
  const code = (src: string, bundle: Record<string, unknown>) => ({ cell_type: 'code', execution_count: null, metadata: {}, source: src, outputs: [out(bundle)] });
  writeJSON(path.join(tmp, 'nb', 'views.ipynb'), {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    cells: [
      code('display(timeline)', fx.timeline),
      code('display(await circuitGraph(run))', fx.circuit),
      code('display(await dasPanel(run))', fx.das),
      code('display(await bindingGrid(run))', fx.grid),
    ],
  });
  fs.mkdirSync(OUT, { recursive: true });
  const lab = await startLab(path.join(tmp, 'nb'), tmp);
  let browser: any;
  const facts: Record<string, unknown> = { fixturesSeconds: fx.seconds, steps: fx.steps, circuitPaths: (fx.circuit[CIRCUIT_MIME] as any).paths.length };
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1500, height: 1400 } });
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(String(e)));
    const t0 = Date.now();
    await page.goto(`${lab.base}/lab/tree/views.ipynb?token=${lab.token}`);
    for (const sel of ['.gl-timeline', '.gl-circuit', '.gl-das', '.gl-bgrid']) await page.waitForSelector(`${sel}[data-render-ms]`, { timeout: 90_000 });
    facts.openToViewsMs = Date.now() - t0;
    const ds = (sel: string) => page.evaluate((s: string) => ({ ...(document.querySelector(s) as HTMLElement).dataset }), sel);
    const last = fx.steps[fx.steps.length - 1];
    for (const sel of ['.gl-circuit', '.gl-das', '.gl-bgrid']) {
      facts[`${sel.slice(4)}FirstRenderMs`] = Number((await ds(sel)).renderMs);
      assert.equal((await ds(sel)).step, String(last), `${sel} starts at the last checkpoint`);
    }

    // circuit: nodes of 2 layers x 2 heads with MLPs; hover the strongest edge
    const circ = await page.evaluate(() => {
      const v = (document.querySelector('.gl-circuit') as any).__groundlab;
      const shown = v.shownPaths();
      return { nodes: v.payload.nodes.map((n: any) => n.id), top: shown[0]?.index, edges: shown.length };
    });
    assert.deepEqual(circ.nodes, ['embed', 'L0H0', 'L0H1', 'L0.mlp', 'L1H0', 'L1H1', 'L1.mlp', 'logits']);
    assert.ok(circ.edges >= 1, 'at least one path passes the default threshold (a tenth of the largest |effect|)');
    assert.equal(await page.locator('.gl-circuit path.gl-edge').count(), circ.edges);
    await page.locator('.gl-circuit').scrollIntoViewIfNeeded();
    const ep = await page.evaluate((j: number) => (document.querySelector('.gl-circuit') as any).__groundlab.edgePoint(j, 0.25), circ.top);
    await page.mouse.move(ep.x, ep.y);
    await page.waitForFunction(() => / -> .* at step \d+: effect /.test(document.querySelector('.gl-circuit .gl-circuit-readout')!.textContent!));
    const readout = (await page.textContent('.gl-circuit .gl-circuit-readout'))!;
    assert.match(readout, new RegExp(`^L\\d(H\\d|\\.mlp) -> (L\\dH\\d\\.[qkv]|L\\d\\.mlp|logits) at step ${last}: effect -?[\\d.e-]+ nats, recovery (?:-?[\\d.e-]+|n\\/a), attribution -?[\\d.e-]+ nats \\(8 pairs\\)(; path test .*)?$`));
    facts.circuitHover = readout;
    assert.equal(await page.locator('.gl-circuit .gl-tooltip').evaluate((e: HTMLElement) => e.style.display), 'block');
    await page.screenshot({ path: path.join(OUT, 'views-1-circuit.png'), fullPage: false });
    // the threshold slider takes the keyboard: End hides all but the largest, Home shows every path (up to maxEdges)
    await page.focus('.gl-circuit .gl-threshold');
    let u = Number((await ds('.gl-circuit')).updates);
    await page.keyboard.press('End');
    await page.waitForFunction((n: number) => Number((document.querySelector('.gl-circuit') as HTMLElement).dataset.updates) > n, u);
    const fewest = Number((await ds('.gl-circuit')).edges);
    assert.ok(fewest <= 1, `at the largest threshold ${fewest} edges`);
    u = Number((await ds('.gl-circuit')).updates);
    await page.keyboard.press('Home');
    await page.waitForFunction((n: number) => Number((document.querySelector('.gl-circuit') as HTMLElement).dataset.updates) > n, u);
    const most = Number((await ds('.gl-circuit')).edges);
    assert.ok(most > circ.edges, `threshold 0 shows more edges (${most}) than the default (${circ.edges})`);
    // a click on the logits node shows the direct paths only; a second click shows every edge again
    const lp = await page.evaluate(() => (document.querySelector('.gl-circuit') as any).__groundlab.nodePoint('logits'));
    await page.mouse.click(lp.x, lp.y);
    await page.waitForFunction(() => (document.querySelector('.gl-circuit') as HTMLElement).dataset.focus === 'logits');
    const direct = await page.$$eval('.gl-circuit path.gl-edge', (es: Element[]) => es.map((e) => e.getAttribute('data-receiver')));
    assert.ok(direct.length >= 1 && direct.every((r: string | null) => r === 'logits'), JSON.stringify(direct));
    await page.mouse.click(lp.x, lp.y);
    await page.waitForFunction(() => (document.querySelector('.gl-circuit') as HTMLElement).dataset.focus === '');
    facts.circuitEdges = { default: circ.edges, atMaxThreshold: fewest, atZero: most, intoLogits: direct.length };
    facts.circuitThresholdUpdateMs = Number((await ds('.gl-circuit')).lastUpdateMs);

    // the timeline's scrubber moves every view to that checkpoint
    const scrub = page.locator('.gl-timeline .gl-scrubber');
    await scrub.scrollIntoViewIfNeeded();
    await page.focus('.gl-timeline .gl-scrubber');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const target = fx.steps[3];
    const all = (s: number) =>
      page.waitForFunction((x: string) => ['.gl-timeline', '.gl-circuit', '.gl-das', '.gl-bgrid'].every((sel) => (document.querySelector(sel) as HTMLElement).dataset.step === x), String(s));
    await all(target);
    assert.match((await page.textContent('.gl-circuit .gl-step-label'))!, new RegExp(`^step ${target} \\(4/${fx.steps.length}\\)$`));
    facts.scrubCircuitMs = Number((await ds('.gl-circuit')).lastUpdateMs);

    // DAS: DAS k = 1 with its baselines; then every k; a click on a point of the IIA panel moves the timeline
    await page.locator('.gl-das').scrollIntoViewIfNeeded();
    const dasVals = await page.$$eval('.gl-das .gl-das-readout .gl-tl-value', (es: Element[]) => es.map((e) => e.textContent));
    assert.match(dasVals[0], /^IIA DAS k=1: [\d.]+$/);
    assert.ok(dasVals.some((v: string) => /^IIA full-vector swap k=8: /.test(v)));
    assert.match(dasVals[dasVals.length - 2], /^task accuracy: [\d.]+$/);
    facts.dasReadout = dasVals;
    await page.selectOption('.gl-das .gl-das-k', 'all');
    await page.waitForFunction(() => (document.querySelector('.gl-das') as HTMLElement).dataset.k === 'all');
    assert.equal((await ds('.gl-das')).series, '3', 'DAS k = 1, k = 2 and the full swap');
    await page.screenshot({ path: path.join(OUT, 'views-2-das.png'), fullPage: false });
    const dp = await page.evaluate(() => (document.querySelector('.gl-das') as any).__groundlab.pointAt('DAS k=2', 0));
    assert.ok(dp, 'the DAS k=2 line has a point at the first checkpoint');
    await page.mouse.click(dp.x, dp.y);
    await all(fx.steps[0]);

    // binding grid: every head has its grids; hover a cell, enlarge another head
    await page.locator('.gl-bgrid').scrollIntoViewIfNeeded();
    assert.equal(await page.locator('.gl-bgrid .gl-bgrid-heads .gl-bgrid-head').count(), 4);
    assert.equal(await page.locator('.gl-bgrid .gl-bgrid-heads .gl-bgrid-head[data-head="0.0"] .gl-bgrid-cell').count(), 16);
    await page.hover('.gl-bgrid .gl-bgrid-head[data-head="1.0"] .gl-bgrid-slot[data-slot="0"]');
    await page.waitForFunction(() => /^L1H0 at step \d+: slot 0 /.test(document.querySelector('.gl-bgrid .gl-bgrid-readout')!.textContent!));
    facts.bindingHover = await page.textContent('.gl-bgrid .gl-bgrid-readout');
    assert.match(facts.bindingHover as string, new RegExp(`^L1H0 at step ${fx.steps[0]}: slot 0 [\\d.]+ \\(mean weight on the object in slot 0\\)$`));
    await page.click('.gl-bgrid .gl-bgrid-heads .gl-bgrid-head[data-head="1.1"]');
    await page.waitForFunction(() => (document.querySelector('.gl-bgrid') as HTMLElement).dataset.head === '1.1');
    assert.equal(await page.locator('.gl-bgrid .gl-bgrid-detail .gl-bgrid-cell').count(), 16);
    await page.screenshot({ path: path.join(OUT, 'views-3-binding.png'), fullPage: false });

    // dark theme: every view draws again
    const before = await Promise.all(['.gl-circuit', '.gl-das', '.gl-bgrid'].map(async (s) => Number((await ds(s)).updates)));
    await page.click('.lm-MenuBar-item:has-text("Settings")');
    await page.hover('.lm-Menu-item:has-text("Theme")');
    await page.click('.lm-Menu-item:has-text("JupyterLab Dark")');
    await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false', undefined, { timeout: 30_000 });
    await page.waitForFunction(
      (n: number[]) => ['.gl-circuit', '.gl-das', '.gl-bgrid'].every((s, i) => Number((document.querySelector(s) as HTMLElement).dataset.updates) > n[i]),
      before,
    );
    await page.waitForTimeout(300);
    await page.locator('.gl-circuit').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, 'views-4-dark.png'), fullPage: false });
    assert.deepEqual(errors, [], 'no uncaught page errors');
  } catch (e) {
    if (browser) {
      const pages = browser.contexts().flatMap((c: any) => c.pages());
      if (pages[0]) await pages[0].screenshot({ path: path.join(OUT, 'views-failure.png'), fullPage: true }).catch(() => undefined);
    }
    throw e;
  } finally {
    writeJSON(path.join(OUT, 'views.json'), facts);
    if (browser) await browser.close().catch(() => undefined);
    await lab.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('views UI facts:', JSON.stringify(facts));
});
