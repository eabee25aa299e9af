/**
 * The circuit graph widget's producer (extension/src/circuit.ts renders it): the components of a
 * model as nodes (embeddings, heads L{l}H{h}, MLPs, logits) and path-patching effects as edges, per
 * checkpoint, from the tables `groundlab circuits` (src/analysis/circuits.ts) writes:
 *   analysis/circuit_paths    step, sender, receiver, receiver_layer, receiver_head, input, effect, recovery, attribution, n
 *   analysis/circuit_dla      step, term, kind, layer, head, match, mismatch, difference (node colours)
 *   analysis/circuit_summary  step, pairs, gather, aggregate (the heads outlined as gather / aggregate)
 * The widget computes nothing: every number it shows is in the bundle. circuitsRun's default
 * senders are the heads and MLPs; a path from the token embedding (sender `embed`, which
 * pathPatching takes by name) is drawn when the table has one. The embeddings node's colour is its
 * direct logit attribution.
 */
import { GroundlabError } from '../errors';
import type { AnalysisRun } from '../analysis/analyze';
import { significantPath } from '../analysis/analyses/paths';
import type { CircuitNode, CircuitPath, CircuitPayload } from '../../extension/src/contract.generated';
import { circuitLayout, edgePath, inputBend } from '../../extension/src/circuitlayout';
import { EDGE_COLORS } from '../../extension/src/palette';
import { bad, ensureSteps, esc, initialStepIn, num, payloadHead } from './bundle';
import type { MimeBundle } from './widgets';

export type { CircuitNode, CircuitPath, CircuitPayload };

export const CIRCUIT_MIME = 'application/vnd.groundlab.circuit+json';

export interface CircuitGraphData {
  title?: string;
  model?: string;
  /** Widgets with the same link move together (the timeline's scrubber redraws the graph at that step). */
  link?: string;
  layers: number;
  /** Heads per layer (of the widest layer). */
  heads: number;
  /** Layers with an MLP node (default: every layer an MLP path names; path patching has an MLP sender wherever the model has an MLP). */
  mlps?: number[];
  /** Checkpoint steps, ascending. */
  steps: number[];
  paths: CircuitPath[];
  /** effect[c][p]: path p's exact path-patching effect (nats) at steps[c]; null/NaN where not measured. */
  effect: ArrayLike<number | null>[];
  recovery?: ArrayLike<number | null>[];
  attribution?: ArrayLike<number | null>[];
  /** dla[c][nodeId]: the node's direct logit attribution (match - mismatch) at steps[c]. */
  dla?: Array<Record<string, number | null>>;
  gather?: string[][];
  aggregate?: string[][];
  /** tests[c]: the paths the path test tested at steps[c] (by sender, receiver and input), with its controls and significance. */
  tests?: Array<Array<CircuitPath & { test: string; control: number | null; p: number | null; significant: boolean }>>;
  pairs?: Array<number | null>;
  /** Initial |effect| threshold (default a tenth of the largest |effect|). */
  threshold?: number;
  /** Keep at most this many paths (default 4000): those with the largest |effect| at any checkpoint. */
  maxPaths?: number;
  /** The widget draws at most this many edges at once (default 400). */
  maxEdges?: number;
  initialStep?: number;
}

const HEAD = /^L(\d+)H(\d+)$/;
const MLP = /^L(\d+)\.mlp$/;

/** The node a component name stands for, or null (embed and logits are named as such). */
export function parseNodeId(id: string): Pick<CircuitNode, 'kind' | 'layer' | 'head'> | null {
  let m = HEAD.exec(id);
  if (m) return { kind: 'head', layer: Number(m[1]), head: Number(m[2]) };
  m = MLP.exec(id);
  if (m) return { kind: 'mlp', layer: Number(m[1]), head: null };
  return null;
}

function perStep(name: string, v: ArrayLike<number | null>[] | undefined, C: number, P: number): (number | null)[][] | undefined {
  if (!v) return undefined;
  if (v.length !== C) bad(`circuit graph: ${name} has ${v.length} checkpoints, steps has ${C}`);
  return Array.from(v, (row, c) => {
    if (row.length !== P) bad(`circuit graph: ${name}[${c}] has ${row.length} values, expected one per path (${P})`);
    return Array.from(row, (x) => num(x));
  });
}

/** The circuit graph's payload (the JSON under CIRCUIT_MIME). */
export function circuitGraphPayload(d: CircuitGraphData): CircuitPayload {
  const { layers: L, heads: H } = d;
  if (!Number.isInteger(L) || L < 1 || !Number.isInteger(H) || H < 1)
    bad(`circuit graph: layers (${L}) and heads (${H}) must be positive integers`);
  ensureSteps(d.steps, 'circuit graph');
  const C = d.steps.length;
  const mlps = new Set<number>(d.mlps ?? []);
  if (!d.mlps) {
    for (const p of d.paths) for (const id of [p.sender, p.receiver]) if (MLP.test(id)) mlps.add(Number(MLP.exec(id)![1]));
  }
  const nodes: CircuitNode[] = [{ id: 'embed', kind: 'embed', layer: -1, head: null }];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) nodes.push({ id: `L${l}H${h}`, kind: 'head', layer: l, head: h });
    if (mlps.has(l)) nodes.push({ id: `L${l}.mlp`, kind: 'mlp', layer: l, head: null });
  }
  nodes.push({ id: 'logits', kind: 'logits', layer: L, head: null });
  const known = new Map(nodes.map((n) => [n.id, n]));
  const order = (n: CircuitNode) => (n.kind === 'embed' ? -1 : n.kind === 'logits' ? Infinity : 2 * n.layer + (n.kind === 'mlp' ? 1 : 0));
  d.paths.forEach((p, i) => {
    const s = known.get(p.sender);
    const r = known.get(p.receiver);
    const where = `circuit graph: paths[${i}] (${p.sender} -> ${p.receiver}.${p.input})`;
    if (!s || s.kind === 'logits')
      bad(`${where}: the sender must be the embedding (embed), a head L{l}H{h} or an MLP L{l}.mlp within ${L} layers x ${H} heads`);
    if (!r || r.kind === 'embed')
      bad(`${where}: unknown receiver`, `receivers are heads, MLPs (of layers ${[...mlps].join(', ') || 'none'}) or logits`);
    const want = r.kind === 'logits' ? ['logits'] : r.kind === 'mlp' ? ['mlp'] : ['q', 'k', 'v'];
    if (!want.includes(p.input)) bad(`${where}: input "${p.input}" does not fit a ${r.kind} receiver (use ${want.join(', ')})`);
    if (!(order(r) > order(s))) bad(`${where}: the receiver does not come after the sender`);
  });
  const P = d.paths.length;
  let effect = perStep('effect', d.effect, C, P)!;
  let recovery = perStep('recovery', d.recovery, C, P);
  let attribution = perStep('attribution', d.attribution, C, P);
  // the size budget: keep the paths with the largest |effect| at any checkpoint, in their order
  const maxPaths = d.maxPaths ?? 4000;
  if (!(Number.isInteger(maxPaths) && maxPaths >= 1)) bad(`circuit graph: maxPaths = ${maxPaths} must be a positive integer`);
  let paths = d.paths.map((p) => ({ sender: p.sender, receiver: p.receiver, input: p.input }));
  const peak = paths.map((_, j) => Math.max(0, ...effect.map((row) => Math.abs(row[j] ?? 0))));
  let omitted = 0;
  let kept: number[] | null = null;
  if (P > maxPaths) {
    const keep = new Set(
      peak
        .map((v, j) => ({ v, j }))
        .sort((a, b) => b.v - a.v || a.j - b.j)
        .slice(0, maxPaths)
        .map((x) => x.j),
    );
    const pick = <T>(row: T[]) => row.filter((_, j) => keep.has(j));
    kept = [...keep].sort((a, b) => a - b);
    paths = pick(paths);
    effect = effect.map(pick);
    recovery = recovery?.map(pick);
    attribution = attribution?.map(pick);
    omitted = P - paths.length;
  }
  // path tests by index into the kept paths (a test of a path left out goes with it)
  let tests: CircuitPayload['tests'];
  if (d.tests) {
    if (d.tests.length !== C) bad(`circuit graph: tests has ${d.tests.length} checkpoints, steps has ${C}`);
    const at = new Map(d.paths.map((x, j) => [`${x.sender}|${x.receiver}|${x.input}`, j]));
    const newIndex = new Map((kept ?? d.paths.map((_, j) => j)).map((j, i) => [j, i]));
    tests = d.tests.map((row, c) =>
      row.flatMap((t) => {
        const j = at.get(`${t.sender}|${t.receiver}|${t.input}`);
        if (j === undefined) bad(`circuit graph: tests[${c}] names ${t.sender} -> ${t.receiver}.${t.input}, which is not among the paths`);
        const i = newIndex.get(j);
        return i === undefined
          ? []
          : [{ path: i, test: String(t.test), control: num(t.control), p: num(t.p), significant: !!t.significant }];
      }),
    );
  }
  let dla: (number | null)[][] | undefined;
  if (d.dla) {
    if (d.dla.length !== C) bad(`circuit graph: dla has ${d.dla.length} checkpoints, steps has ${C}`);
    dla = d.dla.map((row, c) => {
      for (const id of Object.keys(row)) if (!known.has(id)) bad(`circuit graph: dla[${c}] names "${id}", which is not a node`);
      return nodes.map((n) => num(row[n.id]));
    });
  }
  for (const [name, lists] of [
    ['gather', d.gather],
    ['aggregate', d.aggregate],
  ] as const) {
    if (!lists) continue;
    if (lists.length !== C) bad(`circuit graph: ${name} has ${lists.length} checkpoints, steps has ${C}`);
    lists.forEach((ids, c) =>
      ids.forEach((id) => {
        if (known.get(id)?.kind !== 'head') bad(`circuit graph: ${name}[${c}] names "${id}", which is not a head`);
      }),
    );
  }
  if (d.pairs && d.pairs.length !== C) bad(`circuit graph: pairs has ${d.pairs.length} values, steps has ${C}`);
  const top = Math.max(0, ...peak);
  const threshold = d.threshold ?? Number((top / 10).toPrecision(2));
  if (!(threshold >= 0)) bad(`circuit graph: threshold = ${threshold} must be a number >= 0`);
  const maxEdges = d.maxEdges ?? 400;
  if (!(Number.isInteger(maxEdges) && maxEdges >= 1)) bad(`circuit graph: maxEdges = ${maxEdges} must be a positive integer`);
  const initialStep = initialStepIn(d.steps, d.initialStep, 'circuit graph');
  return {
    version: 1,
    ...payloadHead(d, 'Circuit graph (path patching)'),
    layers: L,
    heads: H,
    steps: [...d.steps],
    nodes,
    paths,
    effect,
    ...(recovery ? { recovery } : {}),
    ...(attribution ? { attribution } : {}),
    ...(dla ? { dla } : {}),
    ...(d.gather ? { gather: d.gather.map((x) => [...x]) } : {}),
    ...(d.aggregate ? { aggregate: d.aggregate.map((x) => [...x]) } : {}),
    ...(tests ? { tests } : {}),
    ...(d.pairs ? { pairs: d.pairs.map((x) => num(x)) } : {}),
    threshold,
    maxEdges,
    carried: { paths: paths.length, omittedPaths: omitted },
    initialStep,
  };
}

/** Edge colours: positive effects (toward the clean answer) blue, negative orange; the widget's (extension/src/palette.ts). */
export { EDGE_COLORS };

function circuitSvg(p: CircuitPayload): string {
  const c = p.steps.indexOf(p.initialStep);
  const lay = circuitLayout(p.nodes, p.layers, p.heads);
  const top = 40;
  const W = Math.max(lay.width, 560);
  const H = lay.height + top + 30;
  const eff = p.effect[c];
  const maxAbs = Math.max(1e-12, ...eff.map((v) => Math.abs(v ?? 0)));
  const shown = p.paths
    .map((path, j) => ({ path, v: eff[j] }))
    .filter((x) => x.v != null && Math.abs(x.v) >= p.threshold && Math.abs(x.v) > 0)
    .sort((a, b) => Math.abs(b.v!) - Math.abs(a.v!))
    .slice(0, p.maxEdges);
  const out: string[] = [
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(p.title)}${p.model ? ' — ' + esc(p.model) : ''}</text>`,
    `<text x="10" y="33" font-size="11">path-patching effect at step ${p.initialStep}: ${shown.length} paths with |effect| &gt;= ${p.threshold} nats (blue: toward clean, orange: away); static image: install groundlab-widgets for the interactive graph</text>`,
    `<g transform="translate(0,${top})">`,
  ];
  for (const { path, v } of shown.reverse()) {
    const a = lay.at.get(path.sender)!;
    const b = lay.at.get(path.receiver)!;
    const w = 0.5 + 5.5 * (Math.abs(v!) / maxAbs);
    out.push(
      `<path d="${edgePath(a, b, lay, inputBend(path.input, lay.r))}" fill="none" stroke="${v! >= 0 ? EDGE_COLORS.positive : EDGE_COLORS.negative}" stroke-width="${w.toFixed(2)}" stroke-opacity="0.75"><title>${esc(path.sender)} -&gt; ${esc(path.receiver)}.${path.input}: ${v}</title></path>`,
    );
  }
  const gather = new Set(p.gather?.[c] ?? []);
  const aggregate = new Set(p.aggregate?.[c] ?? []);
  for (const n of p.nodes) {
    const at = lay.at.get(n.id)!;
    const ring = aggregate.has(n.id) ? '#d6336c' : gather.has(n.id) ? '#f59f00' : '#868e96';
    out.push(
      `<circle cx="${at.x}" cy="${at.y}" r="${lay.r}" fill="white" stroke="${ring}" stroke-width="${ring === '#868e96' ? 1 : 3}"/>`,
      `<text x="${at.x}" y="${at.y + lay.r + 10}" font-size="9" text-anchor="middle">${esc(n.id)}</text>`,
    );
  }
  out.push('</g>');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${out.join('')}</svg>`;
}

function circuitText(p: CircuitPayload): string {
  const c = p.steps.indexOf(p.initialStep);
  const top = p.paths
    .map((x, j) => ({ x, v: p.effect[c][j] }))
    .filter((e) => e.v != null)
    .sort((a, b) => Math.abs(b.v!) - Math.abs(a.v!))
    .slice(0, 5);
  return (
    `${p.title}${p.model ? ` (${p.model})` : ''}: ${p.layers} layers x ${p.heads} heads, ${p.paths.length} paths, ${p.steps.length} checkpoints (steps ${p.steps[0]}..${p.steps[p.steps.length - 1]})` +
    (p.carried.omittedPaths ? `, ${p.carried.omittedPaths} weaker paths left out` : '') +
    `\nstrongest paths at step ${p.initialStep} (effect, nats): ` +
    top.map((e) => `${e.x.sender} -> ${e.x.receiver}.${e.x.input} ${e.v}`).join(', ')
  );
}

/** The full MIME bundle of the circuit graph: JSON payload + static SVG + text. */
export function circuitGraphBundle(d: CircuitGraphData): MimeBundle {
  const p = circuitGraphPayload(d);
  return { [CIRCUIT_MIME]: p, 'image/svg+xml': circuitSvg(p), 'text/plain': circuitText(p) };
}

type Row = Record<string, unknown>;

async function rowsOf(run: AnalysisRun, name: string): Promise<Row[]> {
  return ((await run.readTable(name))?.objects() ?? []) as Row[];
}

/** The receiver node of a circuit_paths row: L{l}H{h} for q/k/v, L{l}.mlp, or logits. */
function receiverNode(r: Row): string {
  const input = String(r.input);
  if (input === 'logits') return 'logits';
  if (input === 'mlp') return `L${Number(r.receiver_layer)}.mlp`;
  return `L${Number(r.receiver_layer)}H${Number(r.receiver_head)}`;
}

/** The node of a path-test receiver name: 'L1H0.v' -> L1H0, 'L0.mlp', 'logits'. */
const testReceiverNode = (name: string) => name.replace(/\.[qkv]$/, '');

const nameList = (s: unknown) =>
  String(s ?? '')
    .split(/\s+/)
    .filter(Boolean);

/**
 * Circuit graph data of a run from its circuit tables (`groundlab circuits RUN` or `circuitsRun`
 * first): every path at every traced checkpoint, DLA per node, gather / aggregate heads.
 */
export async function circuitGraphData(
  run: AnalysisRun,
  opts: { steps?: number[]; link?: string; threshold?: number; maxPaths?: number; maxEdges?: number } = {},
): Promise<CircuitGraphData> {
  const rows = await rowsOf(run, 'analysis/circuit_paths');
  if (!rows.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no analysis/circuit_paths table`, {
      hint: `run \`groundlab circuits ${run.dir}\` first`,
      codeHint: 'run `await circuitsRun(run)` first (src/analysis/circuits.ts)',
    });
  const have = [...new Set(rows.map((r) => Number(r.step)))].sort((a, b) => a - b);
  const steps = opts.steps ?? have;
  for (const s of steps)
    if (!have.includes(s))
      throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no circuit paths at step ${s}`, {
        hint: `traced steps: ${have.join(', ')} (run \`groundlab circuits ${run.dir} --checkpoints ${s}\`)`,
        codeHint: `traced steps: ${have.join(', ')} (run \`await circuitsRun(run, { checkpoints: [${s}] })\`)`,
      });
  // the path test's rows (circuitsRun, analysis/circuit_path_test): its embedding paths are drawn
  // as edges (measured by the same path patching), and every tested path carries its test
  const testRows = (await rowsOf(run, 'analysis/circuit_path_test')).filter((r) => Number.isFinite(Number(r.effect)) && r.sender != null);
  for (const r of testRows) {
    if (String(r.sender) !== 'embed') continue;
    const m = /^L(\d+)(?:H(\d+)\.[qkv]|\.mlp)$/.exec(String(r.receiver));
    if (!m && r.receiver !== 'logits') continue;
    const recv = { receiver_layer: m ? Number(m[1]) : NaN, receiver_head: m?.[2] != null ? Number(m[2]) : -1 };
    if (!rows.some((x) => Number(x.step) === Number(r.step) && x.sender === 'embed' && x.receiver === r.receiver))
      rows.push({
        step: r.step,
        sender: 'embed',
        sender_layer: -1,
        sender_head: -1,
        ...recv,
        input: r.input,
        effect: r.effect,
        recovery: r.recovery,
        attribution: null,
      });
  }
  const dlaRows = await rowsOf(run, 'analysis/circuit_dla');
  const summary = await rowsOf(run, 'analysis/circuit_summary');
  const key = (r: Row) => `${r.sender}|${receiverNode(r)}|${r.input}`;
  const index = new Map<string, number>();
  const paths: CircuitPath[] = [];
  let L = 0;
  let H = 0;
  for (const r of rows) {
    const k = key(r);
    if (String(r.input) === 'logits' && Number.isFinite(Number(r.receiver_layer))) L = Math.max(L, Number(r.receiver_layer));
    L = Math.max(L, Number(r.sender_layer) + 1);
    H = Math.max(H, Number(r.sender_head) + 1, Number(r.receiver_head) + 1);
    if (!index.has(k)) {
      index.set(k, paths.length);
      paths.push({ sender: String(r.sender), receiver: receiverNode(r), input: String(r.input) as CircuitPath['input'] });
    }
  }
  for (const r of dlaRows) if (r.kind === 'head') H = Math.max(H, Number(r.head) + 1);
  const grid = (field: string) =>
    steps.map((s) => {
      const out: (number | null)[] = new Array(paths.length).fill(null);
      for (const r of rows) if (Number(r.step) === s) out[index.get(key(r))!] = r[field] == null ? null : Number(r[field]);
      return out;
    });
  const mlpNodes = new Set(paths.flatMap((x) => [x.sender, x.receiver]).filter((id) => MLP.test(id)));
  const nodeTerm = (r: Row) => (r.kind === 'embed' || r.kind === 'head' || r.kind === 'mlp' ? String(r.term) : null);
  const dla = dlaRows.length
    ? steps.map((s) => {
        const o: Record<string, number | null> = {};
        for (const r of dlaRows) {
          const id = Number(r.step) === s ? nodeTerm(r) : null;
          // an attention-only model still has an (all-zero) MLP term per layer: only nodes the paths name
          if (id && (r.kind !== 'mlp' || mlpNodes.has(id))) o[id] = Number(r.difference);
        }
        return o;
      })
    : undefined;
  const sum = (s: number) => summary.find((r) => Number(r.step) === s);
  const tested = testRows.filter((r) => index.has(`${r.sender}|${testReceiverNode(String(r.receiver))}|${r.input}`));
  const tests = tested.length
    ? steps.map((s) =>
        tested
          .filter((r) => Number(r.step) === s)
          .map((r) => ({
            sender: String(r.sender),
            receiver: testReceiverNode(String(r.receiver)),
            input: String(r.input) as CircuitPath['input'],
            test: String(r.path),
            control: r.control == null ? null : Number(r.control),
            p: r.p_t == null ? null : Number(r.p_t),
            significant: significantPath(r),
          })),
      )
    : undefined;
  return {
    title: 'Circuit graph (path patching)',
    model: run.dir,
    link: opts.link ?? run.dir,
    layers: Math.max(1, L),
    heads: Math.max(1, H),
    steps,
    paths,
    effect: grid('effect'),
    recovery: grid('recovery'),
    attribution: rows.some((r) => r.attribution != null) ? grid('attribution') : undefined,
    dla,
    tests,
    ...(summary.length
      ? {
          gather: steps.map((s) => nameList(sum(s)?.gather)),
          aggregate: steps.map((s) => nameList(sum(s)?.aggregate)),
          pairs: steps.map((s) => (sum(s) ? Number(sum(s)!.pairs) : null)),
        }
      : {}),
    threshold: opts.threshold,
    maxPaths: opts.maxPaths,
    maxEdges: opts.maxEdges,
  };
}

/** The circuit graph of a run, ready for `display()`: `await display(await circuitGraph(run))`. */
export async function circuitGraph(run: AnalysisRun, opts: Parameters<typeof circuitGraphData>[1] = {}): Promise<MimeBundle> {
  return circuitGraphBundle(await circuitGraphData(run, opts));
}
