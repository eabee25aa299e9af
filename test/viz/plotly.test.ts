import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheme } from 'vega';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';
import { displayBundle } from '../../src/notebook/display';
import { PLOTLY_MIME } from '../../src/notebook/mime';
import { classSubspace, figureFallback, mapHeatmap, mapPairHeatmap, plotlyBundle, plotlyHeatmap, plotlyScatter3d, probeSubspace3d } from '../../src/viz/plotly';
import { vegaLiteToSvg } from '../../src/viz/render';
import { syntheticInspectorData } from '../extension/fixtures';

const isBadArgument = (re: RegExp) => (e: unknown) => isGroundlabError(e) && (e as Error & { code: string }).code === 'BAD_ARGUMENT' && re.test((e as Error).message);

test('plotlyHeatmap: a plotly heat map with positional token axes (repeated tokens keep their columns), empty cells for NaN', async () => {
  const toks = ['<CHI>', 'the', 'ball<ENV>', 'the'];
  const z = [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.2, 0.3, 0.5, 0], [0.1, 0.2, 0.6, NaN]];
  const fig = plotlyHeatmap(z, { x: toks, y: toks, zTitle: 'attention', zmin: 0, zmax: 1, title: 'L0 H1' });
  const tr = fig.data[0] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(tr.type, 'heatmap');
  assert.deepEqual(tr.x, [0, 1, 2, 3]);
  assert.equal(tr.z[3][3], null);
  assert.equal(tr.z[3][2], 0.6);
  assert.equal(tr.text[3][2], 'the (3) <- ball<ENV> (2)');
  assert.match(tr.hovertemplate, /attention: %\{z:\.4g\}/);
  const xa = fig.layout.xaxis as { tickvals: number[]; ticktext: string[] };
  assert.deepEqual(xa.ticktext, toks, 'both "the" columns are labelled');
  assert.equal((fig.layout.yaxis as { autorange: string }).autorange, 'reversed', 'row 0 on top');
  // the MIME payload is plain plotly: the fallback spec is not enumerable
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(fig))).sort(), ['data', 'layout']);
  const spec = figureFallback(fig)!;
  const svg = await vegaLiteToSvg(spec);
  assert.match(svg, /ball&lt;ENV&gt;/, 'the fallback has the token labels');
  assert.equal((svg.match(/<path[^>]*fill="[^"]*"/g) ?? []).length >= 15, true, 'one rect per non-empty cell');
  assert.throws(() => plotlyHeatmap([[1, 2], [3]]), isBadArgument(/row 1 has 1 values, row 0 has 2/));
  assert.throws(() => plotlyHeatmap([[1, 2]], { x: ['a'] }), isBadArgument(/1 x labels for 2 columns/));
  assert.throws(() => plotlyHeatmap([]), isBadArgument(/non-empty/));
});

test('plotlyBundle and display(): plotly MIME type with SVG and PNG fallbacks drawn in Node', async () => {
  const fig = plotlyHeatmap([[0, 1], [1, 0]], { title: 'tiny' });
  const b = await plotlyBundle(fig, { png: true });
  assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, 'image/png', 'image/svg+xml', 'text/plain'].sort());
  // by default no PNG: JupyterLab's plotly renderer would show it instead of the live figure
  assert.deepEqual(Object.keys(await plotlyBundle(fig)).sort(), [PLOTLY_MIME, 'image/svg+xml', 'text/plain'].sort());
  assert.deepEqual(b[PLOTLY_MIME], { data: fig.data, layout: fig.layout });
  assert.equal(Buffer.from(b['image/png'] as string, 'base64').subarray(1, 4).toString('latin1'), 'PNG');
  assert.match(b['text/plain'] as string, /plotly figure: tiny/);
  const d = await displayBundle(fig);
  assert.ok(d.data[PLOTLY_MIME], 'display() sends the plotly MIME type');
  assert.match(String(d.data['image/svg+xml']), /^<svg/);
  assert.equal(d.data['image/png'], undefined);
  assert.ok((await displayBundle(fig, { images: 'png' })).data['image/png'], 'a PNG on request');
  // a bare plotly figure (no fallback) is still shown, without images
  const bare = await displayBundle({ data: [{ type: 'scatter', x: [1], y: [2] }], layout: {} });
  assert.ok(bare.data[PLOTLY_MIME] && !bare.data['image/svg+xml']);
});

test('mapHeatmap: one head map of inspector data, tokens on both axes; attention on [0, 1]; a missing map is named', () => {
  const data = syntheticInspectorData({ layers: 2, heads: 2, tokens: 10, steps: [5, 10], examples: 1, mapsPerStep: 2 });
  const m = data.maps.find((x) => x.kind === 'attention')!;
  const fig = mapHeatmap(data, m);
  const tr = fig.data[0] as { z: number[][]; zmin: number; zmax: number; colorscale: string };
  const flat = Array.from(m.values as ArrayLike<number>);
  assert.equal(tr.z[7][3], flat[7 * 10 + 3]);
  assert.equal(tr.z[3][7], null, 'the causal upper triangle is left empty');
  assert.deepEqual([tr.zmin, tr.zmax], [0, 1]);
  assert.deepEqual((tr.colorscale as unknown as [number, string][])[0], [0, scheme('blues')(0)], 'low values light: the Vega blues scheme');
  assert.deepEqual((fig.layout.yaxis as { ticktext: string[] }).ticktext, data.examples[0].match.tokens);
  assert.throws(() => mapHeatmap(data, { ...m, layer: 1, head: 1, step: 999 }), isBadArgument(/has no attention map of L1 H1 at step 999/));
});

test('mapPairHeatmap: a head\'s attention and saliency side by side, axes linked (zoom and spikes), fallback of both', async () => {
  const data = syntheticInspectorData({ layers: 2, heads: 2, tokens: 10, steps: [5, 10], examples: 1, mapsPerStep: 2 });
  const m = data.maps.find((x) => x.kind === 'attention' && data.maps.some((y) => y.kind === 'saliency' && y.layer === x.layer && y.head === x.head && y.step === x.step && y.variant === x.variant))!;
  const fig = mapPairHeatmap(data, m);
  assert.deepEqual(fig.data.map((t) => [t.xaxis, t.yaxis]), [['x', 'y'], ['x2', 'y2']]);
  assert.equal((fig.layout.xaxis2 as { matches: string }).matches, 'x', 'zooming one map zooms the other');
  assert.equal((fig.layout.yaxis2 as { matches: string }).matches, 'y');
  assert.equal((fig.layout.xaxis as { showspikes: boolean }).showspikes, true);
  const sal = data.maps.find((y) => y.kind === 'saliency' && y.layer === m.layer && y.head === m.head && y.step === m.step && y.variant === m.variant)!;
  assert.equal((fig.data[1] as { z: number[][] }).z[9][4], Array.from(sal.values as ArrayLike<number>)[9 * 10 + 4]);
  const svg = await vegaLiteToSvg(figureFallback(fig)!);
  assert.match(svg, /attention map of L/);
  assert.match(svg, /saliency map of L/);
  assert.throws(() => mapPairHeatmap(data, { ...m, step: 999 }), isBadArgument(/has no attention map/));
});

/** n points in R^d: class c's mean is 3 * e_{dims[c]} (a known class subspace), small noise elsewhere. */
function labelled(n: number, d: number, means: number[][], noise: number, bigAxis?: number) {
  const rng = new Rng(7);
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % means.length;
    labels[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = means[c][j] + noise * rng.normal() + (j === bigAxis ? 2 * rng.normal() : 0);
  }
  return { x, n, d, labels, classes: means.map((_, c) => `class${c}`) };
}

const unit = (d: number, i: number, s = 3) => Array.from({ length: d }, (_, j) => (j === i ? s : 0));

test('classSubspace: known answer: the classes differ along e1, e2, e3 of R^10, and the basis spans exactly those', () => {
  const d = 10;
  const a = labelled(400, d, [unit(d, 0), unit(d, 1), unit(d, 2), unit(d, 0, -3)], 0.1);
  const { basis, coords, between } = classSubspace(a);
  assert.equal(between, 3);
  // orthonormal rows
  for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) {
    let dot = 0;
    for (let j = 0; j < d; j++) dot += basis[r * d + j] * basis[s * d + j];
    assert.ok(Math.abs(dot - (r === s ? 1 : 0)) < 1e-9, `basis ${r}.${s} = ${dot}`);
  }
  // each of e1, e2, e3 lies in the span (projection norm ~1); e4..e10 do not (~0)
  for (let i = 0; i < d; i++) {
    let norm = 0;
    for (let r = 0; r < 3; r++) norm += basis[r * d + i] ** 2;
    if (i < 3) assert.ok(norm > 0.995, `e${i + 1} in the span: ${norm}`);
    else assert.ok(norm < 0.005, `e${i + 1} outside the span: ${norm}`);
  }
  // projections keep the distances between class means (3 and -3 along e1: 6 apart)
  const meanOf = (c: number) => [0, 1, 2].map((r) => { let s = 0, k = 0; for (let i = 0; i < a.n; i++) if (a.labels[i] === c) { s += coords[i * 3 + r]; k++; } return s / k; });
  const m0 = meanOf(0), m3 = meanOf(3);
  assert.ok(Math.abs(Math.hypot(m0[0] - m3[0], m0[1] - m3[1], m0[2] - m3[2]) - 6) < 0.05);
  // deterministic
  assert.deepEqual(Array.from(classSubspace(a).basis), Array.from(basis));
});

test('classSubspace: two classes give one class direction, completed by the directions of most remaining variance', () => {
  const d = 8;
  const a = labelled(300, d, [unit(d, 1), unit(d, 1, -3)], 0.05, 5);
  const { basis, between } = classSubspace(a);
  assert.equal(between, 1);
  assert.ok(Math.abs(basis[0 * d + 1]) > 0.999, 'the class direction is e2');
  assert.ok(Math.abs(basis[1 * d + 5]) > 0.99, 'the next is e6, the axis of large within-class variance');
  assert.throws(() => classSubspace({ ...a, labels: a.labels.map(() => 5) }), isBadArgument(/labels\[0\] = 5 is not a class index/));
  assert.throws(() => classSubspace({ ...a, x: a.x.subarray(1) }), isBadArgument(/expected n \* d/));
});

test('probeSubspace3d and plotlyScatter3d: one trace per class, axis names, fallback of three 2-D projections', async () => {
  const d = 6;
  const a = { ...labelled(60, d, [unit(d, 0), unit(d, 1), unit(d, 2)], 0.2), text: Array.from({ length: 60 }, (_, i) => `context ${i}`) };
  const fig = probeSubspace3d(a, { title: 'resid_post L1 at pre-LAN' });
  assert.equal(fig.data.length, 3);
  const t0 = fig.data[0] as { type: string; name: string; x: number[]; text: string[] };
  assert.equal(t0.type, 'scatter3d');
  assert.equal(t0.name, 'class0');
  assert.equal(t0.x.length, 20);
  assert.equal(t0.text[1], 'context 3');
  assert.equal(((fig.layout.scene as Record<string, { title: { text: string } }>).xaxis).title.text, 'class direction 1');
  assert.equal(fig.basis.length, 3 * d);
  const svg = await vegaLiteToSvg(figureFallback(fig)!);
  assert.match(svg, /three 2-D projections/);
  assert.match(svg, /resid_post L1 at pre-LAN/);
  assert.throws(() => plotlyScatter3d([{ x: 1, y: NaN, z: 0, label: 'a' }]), isBadArgument(/point 0 \(a\) has a coordinate that is not a finite number/));
});

test('probeSubspace3d on a real tiny run: the residual stream at the pre-LAN position, one colour per noun', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { initEngine } = await import('../../src/engine');
  const { train } = await import('../../src/train/trainer');
  const { openRun } = await import('../../src/train/run');
  const { buildProbeTask, TASK_DEFAULTS } = await import('../../src/probe/tasks');
  const { asTaskSource } = await import('../../src/probe/sweep');
  const { collectActivations } = await import('../../src/probe/collect');
  await initEngine({ log: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-plotly-'));
  await train({ out: path.join(dir, 't'), arch: 'transformer', preset: 'tiny', steps: 4, seed: 1 });
  const run = await openRun(path.join(dir, 't'));
  const task = buildProbeTask('env-noun', asTaskSource(await run.data()), { ...TASK_DEFAULTS, contextLength: run.config.model.contextLength, maxExamples: 120 });
  const model = await run.loadModel(run.checkpoints[run.checkpoints.length - 1].step);
  const hook = 'blocks.1.hook_resid_post';
  try {
    const acts = await collectActivations(model, task.contexts, { hooks: [hook] });
    const fig = probeSubspace3d({ x: acts.x[hook], n: acts.n, d: acts.dims[hook], labels: task.labels, classes: task.classes }, { title: `${hook} at the pre-LAN position` });
    const used = new Set(Array.from(task.labels, (l) => task.classes[l]));
    assert.equal(fig.data.length, used.size, 'one trace per noun present');
    const pts = fig.data.reduce((a, t) => a + (t.x as number[]).length, 0);
    assert.equal(pts, acts.n);
    assert.ok(fig.data.every((t) => (t.x as number[]).every(Number.isFinite)));
  } finally {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
