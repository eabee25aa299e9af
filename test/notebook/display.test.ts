import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as aq from 'arquero';
import {
  display,
  displayBundle,
  interruptSignal,
  isSilent,
  mimeBundleOf,
  progressDisplay,
  setKernelBridge,
  tableText,
  type KernelBridge,
  type NotebookBundle,
} from '../../src/notebook';
import { lineChart } from '../../src/viz';

interface Sent {
  bundle: NotebookBundle;
  opts: { displayId?: string; update?: boolean };
}

function fakeKernel(): { bridge: KernelBridge; sent: Sent[]; ctrl: AbortController } {
  const sent: Sent[] = [];
  const ctrl = new AbortController();
  let n = 0;
  const bridge: KernelBridge = {
    version: 1,
    kernel: 'fake',
    display: (bundle, opts = {}) => sent.push({ bundle, opts }),
    newDisplayId: () => `id${n++}`,
    signal: () => ctrl.signal,
  };
  setKernelBridge(bridge);
  return { bridge, sent, ctrl };
}

afterEach(() => setKernelBridge(undefined));

test('arquero tables become HTML + aligned text', () => {
  const t = aq.table({ step: [0, 100, 200], G: [0.012345678, 1.5, 7] });
  const b = mimeBundleOf(t);
  assert.match(String(b.data['text/html']), /<table>.*<th[^>]*>G<\/th>.*1\.5/s);
  assert.equal(tableText(t), ['step          G', '   0  0.0123457', ' 100        1.5', ' 200          7', '[3 rows x 2 columns]'].join('\n'));
  const big = aq.table({ i: Array.from({ length: 50 }, (_, i) => i) });
  assert.match(tableText(big, 5), /\[50 rows x 1 column, first 5 shown\]$/);
  assert.equal(tableText(big, 5).split('\n').length, 7);
});

test('table HTML escapes column names and values (no markup from a table reaches the page)', () => {
  const t = aq.table({ '<img src=x onerror=alert(1)>': [1, 2], 'a&b': ['<script>x</script>', '"q"'] });
  const html = String(mimeBundleOf(t).data['text/html']);
  assert.doesNotMatch(html, /<img|<script/);
  assert.match(html, /<th style="text-align: right">&lt;img src=x onerror=alert\(1\)&gt;<\/th>/);
  assert.match(html, /<th style="text-align: left">a&amp;b<\/th>/);
  assert.match(html, /<td style="text-align: left">&lt;script&gt;x&lt;\/script&gt;<\/td><\/tr><tr><td style="text-align: right">2<\/td><td style="text-align: left">&quot;q&quot;<\/td>/);
});

test('toMimeBundle objects, plain bundles and other values', () => {
  const custom = { toMimeBundle: () => ({ 'text/html': '<b>x</b>' }) };
  const b = mimeBundleOf(custom);
  assert.equal(b.data['text/html'], '<b>x</b>');
  assert.ok(typeof b.data['text/plain'] === 'string');
  const widget = { 'application/vnd.groundlab.inspector+json': { a: 1 }, 'image/svg+xml': '<svg/>', 'text/plain': 'inspector' };
  assert.deepEqual(mimeBundleOf(widget).data, widget);
  assert.deepEqual(mimeBundleOf({ a: 1 }).data, { 'text/plain': '{ a: 1 }' });
  assert.deepEqual(mimeBundleOf('hi').data, { 'text/plain': 'hi' });
});

test('display sends a Vega-Lite spec with SVG and PNG fallbacks through the kernel bridge', async () => {
  const { sent } = fakeKernel();
  const spec = lineChart([{ step: 1, G: 0.5, lo: 0.4, hi: 0.6 }, { step: 2, G: 1.5, lo: 1.2, hi: 1.8 }], { x: 'step', y: 'G', lo: 'lo', hi: 'hi', title: 'G', rule: 0 });
  const h = await display(spec);
  assert.equal(sent.length, 1);
  const d = sent[0].bundle.data;
  assert.deepEqual(d['application/vnd.vegalite.v5+json'], spec);
  assert.match(String(d['image/svg+xml']), /^<svg/);
  assert.ok(Buffer.from(String(d['image/png']), 'base64').subarray(1, 4).equals(Buffer.from('PNG')));
  assert.equal(d['text/plain'], '<Vega-Lite figure: G>');
  assert.deepEqual(sent[0].opts, { displayId: 'id0', update: false });
  assert.ok(isSilent(h), 'a display handle is not shown as a cell result');
  await h.update('replaced');
  assert.deepEqual(sent[1].opts, { displayId: 'id0', update: true });
  assert.equal(sent[1].bundle.data['text/plain'], 'replaced');
  const svgOnly = await displayBundle(spec, { images: 'svg' });
  assert.ok('image/svg+xml' in svgOnly.data && !('image/png' in svgOnly.data));
});

test('outside the kernel display prints text/plain and interruptSignal never aborts', async () => {
  const writes: string[] = [];
  const orig = process.stdout.write;
  process.stdout.write = ((s: string) => (writes.push(String(s)), true)) as typeof process.stdout.write;
  try {
    await display(aq.table({ a: [1] }));
  } finally {
    process.stdout.write = orig;
  }
  assert.equal(writes.join(''), 'a\n1\n[1 row x 1 column]\n');
  assert.equal(interruptSignal().aborted, false);
});

test('interruptSignal is the running cell signal', () => {
  const { ctrl } = fakeKernel();
  const s = interruptSignal();
  assert.equal(s.aborted, false);
  ctrl.abort();
  assert.equal(s.aborted, true);
});

test('progressDisplay: one output per task, updated in place, throttled, last event always shown', () => {
  const { sent } = fakeKernel();
  const p = progressDisplay({ intervalSec: 3600 });
  p({ task: 'train', step: 1, total: 10, loss: 3.2, tokensPerSec: 1234, etaSec: 65 });
  p({ task: 'train', step: 2, total: 10, loss: 3.1 }); // throttled
  p({ task: 'probe', step: 1, total: 4 });
  p({ task: 'train', step: 5, total: 10, message: 'checkpoint saved' }); // messages always show
  p({ task: 'train', step: 10, total: 10, loss: 2.5, done: true });
  assert.deepEqual(
    sent.map((s) => [s.opts.displayId, s.opts.update]),
    [
      ['id0', false],
      ['id1', false],
      ['id0', true],
      ['id0', true],
    ],
  );
  assert.equal(sent[0].bundle.data['text/plain'], 'train  1/10   10%  loss 3.2000  1,234 tok/s  ETA 1m05s');
  assert.match(String(sent[0].bundle.data['text/html']), /width: 10%/);
  assert.match(String(sent[3].bundle.data['text/html']), /width: 100%/);
  assert.doesNotMatch(String(sent[3].bundle.data['text/plain']), /ETA/);
});

test('progressDisplay: a task its cell ended first (stop button, error) says so at the step reached', () => {
  const { bridge, sent } = fakeKernel();
  const ends: ((how: 'ok' | 'error' | 'interrupted') => void)[] = [];
  bridge.onCellEnd = (cb) => ends.push(cb);
  const p = progressDisplay({ intervalSec: 3600 });
  p({ task: 'eval', step: 1, total: 14, tokensPerSec: 10, etaSec: 30 });
  p({ task: 'eval', step: 3, total: 14, etaSec: 20 }); // throttled, but the step reached
  p({ task: 'train', step: 5, total: 5, done: true });
  assert.equal(ends.length, 2, 'one callback per task output');
  for (const cb of ends) cb('interrupted');
  const last = sent[sent.length - 1];
  assert.deepEqual(last.opts, { displayId: 'id0', update: true });
  assert.equal(last.bundle.data['text/plain'], 'eval  3/14   21%  stopped (interrupted): what it finished is kept; run the cell again to go on');
  assert.match(String(last.bundle.data['text/html']), /groundlab-progress-stopped.*width: 21%.*#8a8f98/s);
  assert.doesNotMatch(String(last.bundle.data['text/html']), /ETA|tok\/s/);
  assert.equal(sent.filter((s) => s.opts.displayId === 'id1').length, 1, 'a finished task is left as it is');
  // An error ends it in red; a cell that ends normally leaves open outputs alone.
  const q = progressDisplay();
  q({ task: 'analyze', step: 2, total: 9 });
  const before = sent.length;
  ends[2]('ok');
  assert.equal(sent.length, before);
  const r = progressDisplay();
  r({ task: 'probe', step: 1, total: 9 });
  ends[3]('error');
  assert.match(String(sent[sent.length - 1].bundle.data['text/plain']), /probe 1\/9 +11% +failed: see the error below/);
});

test('clearOutput asks the kernel to clear the cell output (and does nothing outside it)', async () => {
  const { clearOutput } = await import('../../src/notebook');
  clearOutput();
  const { bridge } = fakeKernel();
  const calls: boolean[] = [];
  bridge.clearOutput = (wait) => calls.push(!!wait);
  clearOutput();
  clearOutput(true);
  assert.deepEqual(calls, [false, true]);
});

test('a progress event with a fraction moves the bar and the percent between steps (runs part-trained)', async () => {
  const { progressHtml } = await import('../../src/notebook');
  const { formatProgress } = await import('../../src/train/progress');
  const e = { task: 'reproduce', step: 0, total: 1, fraction: 0.43, message: '0/1 runs done, 1 running (main), 0 failed' };
  assert.match(progressHtml(e), /width: 43%.*<span>43%<\/span>/s);
  assert.equal(formatProgress(e), 'reproduce 0/1   43%  0/1 runs done, 1 running (main), 0 failed');
  assert.match(formatProgress({ task: 't', step: 3, total: 4 }), /^t 3\/4   75%$/, 'without a fraction: step/total');
});
