import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  INSPECTOR_MIME, TIMELINE_MIME, inspectorBundle, timelineBundle, inspectorPayload, timelinePayload, encodeMap, decodeMap, tokenKind,
  InspectorData,
} from '../../src/viz/widgets';
import { isGroundlabError } from '../../src/errors';
import { syntheticInspectorData, syntheticTimelineData } from '../extension/fixtures';
import { validate, unsupportedKeywords } from '../../extension/src/schema';
import { INSPECTOR_SCHEMA, TIMELINE_SCHEMA } from '../../extension/src/contract.generated';

const ROOT = path.resolve(__dirname, '..', '..', ...(__dirname.includes(`${path.sep}dist${path.sep}`) ? ['..'] : []));

function small(): InspectorData {
  return syntheticInspectorData({ layers: 3, heads: 2, tokens: 12, steps: [10, 20], examples: 1, mapsPerStep: 2 });
}

test('tokenKind: ENV, LAN, speaker tokens and the rest', () => {
  assert.equal(tokenKind('ball<ENV>'), 'ENV');
  assert.equal(tokenKind('ball<LAN>'), 'LAN');
  assert.equal(tokenKind('<CHI>'), 'speaker');
  assert.equal(tokenKind('<MOT>'), 'speaker');
  assert.equal(tokenKind('<pad>'), 'other');
  assert.equal(tokenKind('<bos>'), 'other');
  assert.equal(tokenKind('the'), 'other');
});

test('encodeMap/decodeMap: 8-bit round trip within (max-min)/510; causal maps store the lower triangle', () => {
  const n = 5;
  const causal: number[] = [];
  const full: number[] = [];
  for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) {
    causal.push(k <= q ? Math.sin(q * 7 + k) ** 2 : 0);
    full.push(Math.cos(q + 3 * k) - 0.2);
  }
  for (const [vals, enc] of [[causal, 'u8-lower'], [full, 'u8']] as const) {
    const e = encodeMap(vals, n);
    assert.equal(e.encoding, enc);
    assert.equal(Buffer.from(e.data, 'base64').length, enc === 'u8-lower' ? 15 : 25);
    const d = decodeMap(e);
    const tol = (e.max - e.min) / 510 + 1e-6;
    vals.forEach((v, i) => assert.ok(Math.abs(d[i] - v) <= tol, `cell ${i}: ${d[i]} vs ${v}`));
  }
  // a constant map
  const c = encodeMap([0.5, 0.5, 0.5, 0.5], 2);
  assert.deepEqual(Array.from(decodeMap(c)), [0.5, 0.5, 0.5, 0.5]);
});

test('inspectorBundle: JSON payload, SVG fallback and text; nested or flat maps', () => {
  const data = small();
  const b = inspectorBundle(data);
  assert.deepEqual(Object.keys(b).sort(), [INSPECTOR_MIME, 'image/svg+xml', 'text/plain'].sort());
  const p = b[INSPECTOR_MIME] as ReturnType<typeof inspectorPayload>;
  assert.equal(p.version, 1);
  assert.equal(p.scores.aggregate!.length, 2);
  assert.equal(p.scores.aggregate![0].length, 6);
  assert.equal(p.scores.aggregate![1][1 * 2 + 0], Number((data.scores.aggregate![1][1][0] as number).toPrecision(5)));
  assert.equal(p.maps.length, data.maps.length);
  assert.equal(p.carried.omittedMaps, 0);
  assert.equal(p.examples[0].variants.match!.kinds[p.examples[0].variants.match!.envPos], 'ENV');
  const svg = b['image/svg+xml'] as string;
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<rect [^>]*><title>L\d+ H\d+: /g) ?? []).length, 6, 'one cell per head');
  assert.match(svg, /ball&lt;ENV&gt;/);
  // the initial head's map: its lower triangle (12 tokens: 78 cells) and the ENV -> pre-LAN marker
  const p0 = p.initial;
  assert.match(svg, new RegExp(`${p0.kind} map of L${p0.layer} H${p0.head} \\(rows: query, columns: key\\)`));
  assert.equal((svg.match(/<rect x="[\d.]+" y="[\d.]+" width="20.00" height="20.00" fill="rgb/g) ?? []).length, 78);
  assert.match(svg, /stroke="#d32f2f"/);
  assert.match(b['text/plain'] as string, /3 layers x 2 heads, 2 checkpoints/);
  // a map given as rows equals the same map given flat
  const m = data.maps[0];
  const n = data.examples[0].match.tokens.length;
  const flat = Array.from(m.values as ArrayLike<number>);
  const rows = Array.from({ length: n }, (_, i) => flat.slice(i * n, (i + 1) * n));
  const p2 = inspectorPayload({ ...data, maps: [{ ...m, values: rows }] });
  assert.equal(p2.maps[0].data, p.maps[0].data);
});

test('inspectorBundle: the map budget keeps maps in order and counts what it leaves out', () => {
  const data = small();
  const one = inspectorPayload({ ...data, maps: data.maps.slice(0, 1) }).carried.mapBytes;
  const p = inspectorPayload({ ...data, maxMapBytes: one * 3 + 1 });
  assert.equal(p.maps.length, 3);
  assert.equal(p.carried.omittedMaps, data.maps.length - 3);
  assert.deepEqual(p.maps.map((m) => [m.step, m.layer, m.head, m.kind, m.variant]), data.maps.slice(0, 3).map((m) => [m.step, m.layer, m.head, m.kind, m.variant]));
});

test('inspectorBundle: bad input is a GroundlabError naming what is wrong', () => {
  const data = small();
  const cases: [Partial<InspectorData>, RegExp][] = [
    [{ steps: [20, 10] }, /strictly ascending/],
    [{ layers: 0 }, /positive integers/],
    [{ scores: {} }, /no per-head scores/],
    [{ scores: { aggregate: data.scores.aggregate!.slice(0, 1) } }, /1 checkpoints, steps has 2/],
    [{ maps: [{ ...data.maps[0], layer: 9 }] }, /layer\/head out of range/],
    [{ maps: [{ ...data.maps[0], values: [1, 2, 3] }] }, /has 3 values, expected T\*T = 144/],
    [{ maps: [data.maps[0], data.maps[0]] }, /given twice/],
    [{ maps: [{ ...data.maps[0], example: 'nope' }] }, /unknown example id/],
    [{ examples: [{ ...data.examples[0], match: { ...data.examples[0].match, envPos: 99 } }] }, /envPos = 99 is outside/],
  ];
  for (const [patch, re] of cases) {
    assert.throws(() => inspectorPayload({ ...data, ...patch } as InspectorData), (e: unknown) => isGroundlabError(e) && (e as Error & { code: string }).code === 'BAD_ARGUMENT' && re.test((e as Error).message), String(re));
  }
});

test('inspectorBundle: hostile text never reaches the SVG fallback raw (issue 16 item 13)', () => {
  const data = small();
  const evil = '<script>alert(1)</script>';
  // initial fields are checked: a variant or kind that is not one of the names is refused
  for (const initial of [{ variant: evil }, { kind: evil }, { layer: 7 }, { head: -1 }] as InspectorData['initial'][])
    assert.throws(() => inspectorBundle({ ...data, initial }), (e: unknown) => isGroundlabError(e) && /initial\.(variant|kind|layer\/head)/.test((e as Error).message));
  // every free text is escaped: title, model, example label, tokens
  const ex = { ...data.examples[0], label: `${evil} & "q"`, match: { ...data.examples[0].match, tokens: data.examples[0].match.tokens.map((t, i) => (i === 1 ? evil : t)) } };
  const svg = inspectorBundle({ ...data, title: evil, model: evil, examples: [ex], maps: [] })['image/svg+xml'] as string;
  assert.doesNotMatch(svg, /<script/);
  assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; &quot;q&quot;/);
  const tsvg = timelineBundle({ ...syntheticTimelineData([1, 2]), title: evil, model: evil })['image/svg+xml'] as string;
  assert.doesNotMatch(tsvg, /<script/);
});

test('timelineBundle: payload, fallback, text; curves must match steps', () => {
  const b = timelineBundle(syntheticTimelineData([1, 2, 3, 4]));
  const p = b[TIMELINE_MIME] as ReturnType<typeof timelinePayload>;
  assert.equal(p.curves.infoGain!.length, 4);
  assert.equal(p.initialStep, 4);
  assert.equal(((b['image/svg+xml'] as string).match(/<polyline/g) ?? []).length, 6);
  assert.match(b['text/plain'] as string, /4 checkpoints .* infoGain=/);
  assert.deepEqual(timelinePayload({ steps: [1, 2], curves: { infoGain: [NaN, 1] } }).curves.infoGain, [null, 1]);
  // the fallback uses the widget's log step axis when steps span a factor of 20: step 10 of 0..1000 at a third
  const wide = timelineBundle({ steps: [0, 10, 1000], curves: { infoGain: [0, 1, 2] } })['image/svg+xml'] as string;
  assert.match(wide, /step 1000 \(log scale\)/);
  const xs = /<polyline[^>]*points="([^"]+)"/.exec(wide)![1].split(' ').map((p) => Number(p.split(',')[0]));
  assert.ok(Math.abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - Math.log1p(10) / Math.log1p(1000)) < 1e-3);
  assert.doesNotMatch(timelineBundle(syntheticTimelineData([1, 2, 3, 4]))['image/svg+xml'] as string, /log scale/);
  assert.throws(() => timelinePayload({ steps: [1, 2], curves: { infoGain: [1] } }), /has 1 values, steps has 2/);
  assert.throws(() => timelinePayload({ steps: [1, 2], curves: { bogus: [1, 2] } as never }), /unknown curve "bogus"/);
});

test('a 12-layer x 12-head bundle on 128 tokens stays within a few MB', () => {
  const steps = [250, 500, 1000, 2000, 4000, 6000, 8000, 10000];
  const b = inspectorBundle(syntheticInspectorData({ layers: 12, heads: 12, tokens: 128, steps, examples: 2, mapsPerStep: 4 }));
  const bytes = JSON.stringify(b).length;
  const p = b[INSPECTOR_MIME] as ReturnType<typeof inspectorPayload>;
  assert.equal(p.maps.length, 8 * 4 * 2 * 2);
  assert.ok(bytes < 3e6, `${bytes} bytes`);
  // the default budget (4 MiB of maps) bounds any selection
  const many = syntheticInspectorData({ layers: 12, heads: 12, tokens: 128, steps, examples: 1, mapsPerStep: 40 });
  const pm = inspectorPayload(many);
  assert.ok(pm.carried.omittedMaps > 0 && pm.carried.mapBytes <= 4 * 1024 * 1024);
  assert.ok(JSON.stringify(pm).length < 5e6);
});

test('payloads validate against extension/schema/*.json (in Node, always); the generated contract is current', () => {
  // the schemas are the one definition: extension/src/contract.generated.ts must be what they give
  const gen = spawnSync(process.execPath, [path.join(ROOT, 'extension', 'scripts', 'gen-contract.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  // the validator implements every keyword the schemas use
  assert.deepEqual(unsupportedKeywords(INSPECTOR_SCHEMA), []);
  assert.deepEqual(unsupportedKeywords(TIMELINE_SCHEMA), []);
  assert.deepEqual(unsupportedKeywords({ type: 'string', pattern: '^a' }), ['#/pattern']);
  // the schema files on disk are the ones compiled in
  for (const [f, s] of [['inspector', INSPECTOR_SCHEMA], ['timeline', TIMELINE_SCHEMA]] as const)
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(ROOT, 'extension', 'schema', `${f}.schema.json`), 'utf8')), s);
  const ip = inspectorPayload(small());
  const tp = timelinePayload(syntheticTimelineData([1, 2, 3]));
  assert.deepEqual(validate(INSPECTOR_SCHEMA, JSON.parse(JSON.stringify(ip))), []);
  assert.deepEqual(validate(TIMELINE_SCHEMA, JSON.parse(JSON.stringify(tp))), []);
  const big = inspectorPayload(syntheticInspectorData({ layers: 4, heads: 3, tokens: 20, steps: [0, 5, 50], examples: 2, mapsPerStep: 3 }));
  assert.deepEqual(validate(INSPECTOR_SCHEMA, JSON.parse(JSON.stringify(big))), []);
  // each kind of violation is found and named by its path
  const cases: [unknown, RegExp][] = [
    [{ ...ip, maps: [{ ...ip.maps[0], encoding: 'u16' }] }, /^\/maps\/0\/encoding: must be one of "u8", "u8-lower", got "u16"$/],
    [{ ...ip, version: 2 }, /^\/version: must be 1, got 2$/],
    [{ ...ip, layers: 0 }, /^\/layers: must be >= 1, got 0$/],
    [{ ...ip, heads: 1.5 }, /^\/heads: expected integer, got number 1.5$/],
    [{ ...ip, steps: [] }, /^\/steps: needs at least 1 items, has 0$/],
    [{ ...ip, extra: 1 }, /^\/: unknown property "extra"/],
    [{ ...ip, scores: {} }, /^\/scores: needs at least 1 properties$/],
    [(() => { const { carried: _c, ...rest } = ip; return rest; })(), /^\/: misses the required property "carried"$/],
    [{ ...ip, examples: [{ ...ip.examples[0], variants: { match: { ...ip.examples[0].variants.match, kinds: ['ENV', 'thing'] } } }] }, /^\/examples\/0\/variants\/match\/kinds\/1: must be one of/],
    [{ ...ip, scores: { aggregate: [[0.1, 'x']] } }, /^\/scores\/aggregate\/0\/1: expected number or null, got string "x"$/],
    [{ ...tp, curves: { infoGain: [1, null, '2'] } }, /^\/curves\/infoGain\/2: expected number or null/],
  ];
  for (const [bad, re] of cases) {
    const errs = validate(bad === cases[cases.length - 1][0] ? TIMELINE_SCHEMA : INSPECTOR_SCHEMA, bad);
    assert.ok(errs.some((e) => re.test(e)), `${re}: got ${JSON.stringify(errs)}`);
  }
});
