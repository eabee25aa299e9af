/**
 * UI test of the first hour: notebooks/00-quickstart.ipynb (a copy, in a temporary folder) is opened
 * in real JupyterLab in Debian's Chromium and run cell by cell on the groundlab kernel with the tiny
 * preset (GROUNDLAB_PRESET=tiny, runs in the temporary folder): it trains, measures G, analyses the
 * heads and shows the timeline and the inspector. The test then scrubs the timeline to the earliest
 * analysed checkpoint and checks that the inspector shows that checkpoint's own map (maps are
 * carried at every analysed checkpoint), clicks a small multiple, and switches to the dark theme.
 * Screenshots go to test-results/extension/quickstart-*.png, numbers to quickstart.json.
 * Skips only when /usr/bin/chromium or .venv is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchChromium, missing, OUT, ROOT, startLab, widgetsInstalled, writeJSON } from './lab';

const KERNEL = path.join(ROOT, '.venv', 'share', 'jupyter', 'kernels', 'groundlab', 'kernel.json');
const skip = missing ? `skipped: ${missing}` : !fs.existsSync(KERNEL) ? `skipped: the groundlab kernel is not installed in .venv (${KERNEL}; bash scripts/test.sh installs it)` : false;

/* eslint-disable @typescript-eslint/no-explicit-any */

test('00-quickstart in JupyterLab + Chromium (tiny preset): run it, scrub the timeline to an early checkpoint, the inspector shows that checkpoint\'s map', { skip, timeout: 900_000 }, async () => {
  assert.ok(widgetsInstalled(), 'groundlab-widgets is not installed in .venv: run `source scripts/setup.sh && setup_extension`');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-quick-ui-'));
  const nbDir = path.join(tmp, 'nb');
  fs.mkdirSync(nbDir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'notebooks', '00-quickstart.ipynb'), path.join(nbDir, '00-quickstart.ipynb'));
  fs.mkdirSync(OUT, { recursive: true });
  const lab = await startLab(nbDir, tmp, { env: { GROUNDLAB_PRESET: 'tiny', GROUNDLAB_RUNS: path.join(tmp, 'runs'), GROUNDLAB_QUIET: '1' }, exposeApp: true });
  let browser: any;
  const facts: Record<string, unknown> = {};
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1500, height: 1400 } });
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(String(e)));
    await page.goto(`${lab.base}/lab/tree/00-quickstart.ipynb?token=${lab.token}`);
    // the notebook's kernel (groundlab) is started and idle
    await page.waitForFunction(() => (window as any).jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle', undefined, { timeout: 180_000 });
    assert.equal(await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.name), 'groundlab');
    const t0 = Date.now();
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('notebook:run-all-cells'));
    await page.waitForSelector('.gl-timeline[data-render-ms]', { timeout: 600_000 });
    await page.waitForSelector('.gl-inspector[data-render-ms]', { timeout: 600_000 });
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle', undefined, { timeout: 60_000 });
    facts.runAllMs = Date.now() - t0;
    const errorOutputs = await page.evaluate(() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]'), (e: any) => e.textContent.slice(0, 300)));
    assert.deepEqual(errorOutputs.filter((t: string) => /Error|error/.test(t)), [], 'no error output');
    // the two Vega-Lite charts (loss, G) are drawn by groundlab-widgets' theme-following renderer
    assert.ok((await page.locator('.gl-vegalite[data-renders]').count()) >= 2, 'the loss and G charts');

    const insp = () => page.evaluate(() => ({ ...(document.querySelector('.gl-inspector') as any).dataset }));
    const tl = () => page.evaluate(() => ({ ...(document.querySelector('.gl-timeline') as any).dataset }));
    const info = await page.evaluate(() => {
      const v = (document.querySelector('.gl-inspector') as any).__groundlab;
      const t = (document.querySelector('.gl-timeline') as any).__groundlab;
      return { inspSteps: v.payload.steps, mapSteps: [...new Set(v.payload.maps.map((m: any) => m.step))].sort((a: any, b: any) => a - b), maps: v.payload.maps.length, layers: v.payload.layers, heads: v.payload.heads, tlSteps: t.payload.steps, logSteps: t.logSteps, bytes: JSON.stringify(v.payload).length };
    });
    Object.assign(facts, info);
    // item 8: maps at every analysed checkpoint
    assert.ok(info.inspSteps.length >= 2, `analysed checkpoints: ${info.inspSteps}`);
    assert.deepEqual(info.mapSteps, info.inspSteps, 'the bundle carries maps at every analysed checkpoint');
    assert.equal(info.logSteps, true, 'the timeline starts with a log step axis (steps 0, 1, ..., 30)');
    let d = await insp();
    const last = info.inspSteps[info.inspSteps.length - 1];
    assert.equal(d.step, String(last));
    assert.equal(d.map, 'shown');
    const lastMap = await page.evaluate(() => (document.querySelector('.gl-inspector') as any).__groundlab.shownMap.data);
    await page.locator('.gl-timeline').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, 'quickstart-1-timeline.png') });
    await page.locator('.gl-inspector').scrollIntoViewIfNeeded();
    await page.locator('.gl-inspector').screenshot({ path: path.join(OUT, 'quickstart-2-inspector-last.png') });

    // scrub the timeline to the earliest analysed checkpoint by clicking its scrubber track
    const early = info.inspSteps[0];
    const index = info.tlSteps.indexOf(early);
    assert.ok(index >= 0, `step ${early} is on the timeline`);
    const scrub = page.locator('.gl-timeline .gl-scrubber');
    await scrub.scrollIntoViewIfNeeded();
    const box = await scrub.boundingBox();
    const THUMB = 16;
    const t1 = Date.now();
    await page.mouse.click(box.x + THUMB / 2 + (index / (info.tlSteps.length - 1)) * (box.width - THUMB), box.y + box.height / 2);
    await page.waitForFunction((s: string) => (document.querySelector('.gl-timeline') as any).dataset.step === s && (document.querySelector('.gl-inspector') as any).dataset.step === s, String(early), { timeout: 10_000 });
    await page.waitForFunction(() => !(document.querySelector('.gl-inspector') as any).__groundlab.renders.queued);
    facts.scrubWallMs = Date.now() - t1;
    d = await insp();
    assert.equal((await tl()).step, String(early));
    assert.equal(d.map, 'shown', 'the inspector shows a map at the early checkpoint');
    assert.equal(d.mapStep, String(early), "it is that checkpoint's map");
    assert.match((await page.textContent('.gl-inspector .gl-map-status'))!, new RegExp(`^saliency map of L\\d+ H\\d+ at step ${early},`));
    const earlyMap = await page.evaluate(() => (document.querySelector('.gl-inspector') as any).__groundlab.shownMap.data);
    assert.notEqual(earlyMap, lastMap, 'a different map from the last checkpoint');
    assert.ok(Number(d.multiples) >= 1, 'small multiples of the layer are shown');
    await page.locator('.gl-inspector').scrollIntoViewIfNeeded();
    await page.locator('.gl-inspector').screenshot({ path: path.join(OUT, 'quickstart-3-inspector-early.png') });

    // hover a map cell: the tooltip sits beside the pointer
    const cell = await page.evaluate(() => {
      const v = (document.querySelector('.gl-inspector') as any).__groundlab;
      const ex = v.payload.examples[0].variants.match;
      return v.cellPoint(ex.predPos, ex.envPos);
    });
    await page.mouse.move(cell.x, cell.y);
    await page.waitForFunction(() => (document.querySelector('.gl-panel-map .gl-tooltip') as any).style.display === 'block');
    const tip = await page.locator('.gl-panel-map .gl-tooltip').boundingBox();
    // beside the pointer: just right of it, or (near the right edge) just left of it, a little below
    const right = tip.x > cell.x && tip.x - cell.x < 40;
    const left = tip.x + tip.width < cell.x && cell.x - (tip.x + tip.width) < 40;
    assert.ok((right || left) && tip.y > cell.y && tip.y - cell.y < 40, `tooltip at ${JSON.stringify(tip)}, pointer at ${cell.x},${cell.y}`);
    assert.match((await page.textContent('.gl-panel-map .gl-tooltip'))!, /^query \d+ ".+"\n<- key \d+ "\w+<ENV>"\nsaliency [\d.e-]+ \[ENV -> pre-LAN\]$/);
    await page.locator('.gl-inspector .gl-panels').screenshot({ path: path.join(OUT, 'quickstart-4-tooltip.png') });

    // every head of the model as small multiples; click one to select it
    await page.selectOption('.gl-inspector .gl-multiples', 'model');
    await page.waitForFunction((n: number) => document.querySelectorAll('.gl-inspector .gl-mult').length === n, info.layers * info.heads);
    const target = `${info.layers - 1}.${info.heads - 1}`;
    await page.click(`.gl-inspector .gl-mult[data-head="${target}"]`);
    await page.waitForFunction((h: string) => (document.querySelector('.gl-inspector') as any).dataset.head === h, target);
    await page.locator('.gl-inspector .gl-multiples-grid').scrollIntoViewIfNeeded();
    await page.locator('.gl-inspector').screenshot({ path: path.join(OUT, 'quickstart-5-all-heads.png') });

    // dark theme: the widgets and the Vega-Lite charts follow it
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Dark' }));
    await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false', undefined, { timeout: 30_000 });
    // every chart is drawn again in the dark theme's colours (JupyterLab's own renderer would keep white boxes)
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.gl-vegalite')).every((e: any) => Number(e.dataset.renders) >= 2), undefined, { timeout: 30_000 });
    const themes = await page.evaluate(() => Array.from(document.querySelectorAll('.gl-vegalite'), (e: any) => e.dataset.theme));
    const darkBg = await page.evaluate(() => getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim());
    assert.ok(themes.every((t: string) => t === darkBg), `charts drawn with the dark background ${darkBg}: ${themes}`);
    facts.darkChartThemes = themes;
    await page.waitForTimeout(500);
    await page.locator('.gl-vegalite').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, 'quickstart-6-dark-charts.png') });
    await page.locator('.gl-inspector').scrollIntoViewIfNeeded();
    await page.locator('.gl-inspector').screenshot({ path: path.join(OUT, 'quickstart-7-dark-inspector.png') });
    assert.deepEqual(errors, [], 'no uncaught page errors');
  } catch (e) {
    if (browser) {
      const pages = browser.contexts().flatMap((c: any) => c.pages());
      if (pages[0]) await pages[0].screenshot({ path: path.join(OUT, 'quickstart-failure.png'), fullPage: true }).catch(() => undefined);
    }
    console.log(lab.log().slice(-3000));
    throw e;
  } finally {
    writeJSON(path.join(OUT, 'quickstart.json'), facts);
    if (browser) await browser.close().catch(() => undefined);
    await lab.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('00-quickstart UI facts:', JSON.stringify(facts));
});
