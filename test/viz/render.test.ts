import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dotChart, heatmap, lineChart, renderVegaLite, svgToPng } from '../../src/viz';
import { GroundlabError } from '../../src/errors';

function pngSize(png: Uint8Array): [number, number] {
  const b = Buffer.from(png);
  assert.ok(b.subarray(1, 4).equals(Buffer.from('PNG')), 'PNG signature');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

test('renderVegaLite: SVG with the marks and titles, PNG at twice the size', async () => {
  const rows = [0, 100, 200, 300].flatMap((step) => [
    { step, condition: 'match', s: 5 - step / 100, lo: 4.8 - step / 100, hi: 5.2 - step / 100 },
    { step, condition: 'mismatch', s: 5, lo: 4.9, hi: 5.1 },
  ]);
  const spec = lineChart(rows, { x: 'step', y: 's', color: 'condition', lo: 'lo', hi: 'hi', title: 'surprisal over checkpoints' });
  const fig = await renderVegaLite(spec);
  assert.match(fig.svg, /^<svg[^>]*width="\d+"/);
  assert.match(fig.svg, /surprisal over checkpoints/);
  assert.match(fig.svg, /mismatch/); // legend
  assert.equal((fig.svg.match(/aria-roledescription="line mark"/g) ?? []).length, 2, 'one line per condition');
  assert.equal((fig.svg.match(/aria-roledescription="area mark"/g) ?? []).length, 2, 'one band per condition');
  const [w, h] = pngSize(fig.png);
  assert.equal(w, Math.round(fig.width * 2));
  assert.equal(h, Math.round(fig.height * 2));
});

test('heatmap: layers x checkpoints, one rect per cell; diverging domain is symmetric', async () => {
  const rows = [];
  for (let layer = 0; layer < 3; layer++) for (const step of [10, 20, 30, 40]) rows.push({ layer, step, v: (layer - 1) * step });
  const spec = heatmap(rows, { x: 'step', y: 'layer', value: 'v', diverging: true, title: 'saliency' }) as any;
  assert.deepEqual(spec.encoding.color.scale.domain, [-40, 40]);
  const fig = await renderVegaLite(spec);
  const rects = fig.svg.match(/aria-roledescription="rect mark"/g) ?? [];
  assert.equal(rects.length, 12);
});

test('dotChart: a hollow dot (censored) is drawn as an outline in its colour, a filled one filled', async () => {
  const rows = [
    { setting: 'simple', arch: 'lstm', step: 600, censored: false },
    { setting: 'realistic', arch: 'lstm', step: 6000, censored: true },
  ];
  const fig = await renderVegaLite(dotChart(rows, { x: 'setting', y: 'step', color: 'arch', hollow: 'censored' }));
  const paths = [...fig.svg.matchAll(/<path[^>]*aria-roledescription="point"[^>]*>/g)].map((m) => m[0]);
  assert.equal(paths.length, 2);
  const filled = paths.filter((p) => !/fill-opacity="0"/.test(p));
  const hollow = paths.filter((p) => /fill-opacity="0"/.test(p));
  assert.equal(filled.length, 1);
  assert.equal(hollow.length, 1);
  const stroke = /stroke="(#[0-9a-f]+)"/i.exec(hollow[0])?.[1];
  assert.ok(stroke, `the hollow dot has a visible outline: ${hollow[0]}`);
  assert.match(hollow[0], /stroke-width="2"/);
});

test('bad specs and data are GroundlabErrors with a hint', async () => {
  await assert.rejects(renderVegaLite({ mark: 'nope', data: { values: [] } }), (e: unknown) => e instanceof GroundlabError && e.code === 'BAD_ARGUMENT');
  assert.throws(() => lineChart([{ a: 1 }], { x: 'step', y: 'a' }), /no column "step"[\s\S]*hint: columns are: a/);
  assert.throws(() => lineChart([{ a: 1 }], { x: 'a', y: 'a', lo: 'a' }), /both lo and hi/);
});

test('svgToPng honours the scale', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="20"><rect width="10" height="20" fill="red"/></svg>';
  assert.deepEqual(pngSize(svgToPng(svg, { scale: 3 })), [30, 60]);
});
