/**
 * `paths`: the causal test of the paper's gather -> aggregate story (and of what the aggregate
 * heads feed), per checkpoint, by path patching (../pathpatch.ts) on the match -> mismatch prompt
 * pairs of `patching`:
 *
 * - gather -> aggregate: for each aggregate head, each gather head of an earlier layer -> that
 *   head's queries, keys and values. Where no head of an earlier layer passes the gather
 *   threshold, the sender is the head with the highest gather share of each earlier layer (rule
 *   `top gather share of layer l`). An aggregate head in layer 0 has no head before it (it reads
 *   the embeddings): one row says so, and
 * - embed -> aggregate: the token embedding (`hook_embed`) -> that layer-0 head's queries, keys and
 *   values, against the embedding's paths into the same input of the layer's other heads.
 * - aggregate -> MLP and aggregate -> logits: each aggregate head -> the MLP of its own and of
 *   every later layer, and -> the residual stream into the unembedding (its direct path).
 *
 * Every tested path is compared with the control paths from every other head into the same
 * receiver (heads of the tested role excluded), paired over prompt pairs: `effect` and `control`
 * are mean nats of surprisal recovered (s_corrupted - s_patched), `rank` is the tested path's
 * place among them (1 = largest), p values from the paired t-test and the Wilcoxon signed-rank test.
 */
import type { HeadClass } from '../../metrics/heads';
import { mean } from '../../metrics/stats';
import type { LanguageModel } from '../../models/types';
import type { PatchPair } from '../patching';
import {
  comparePaths,
  pathPatching,
  pathsVersus,
  receiverName,
  type PairOptions,
  type PathResult,
  type PathTestResult,
  type Receiver,
} from '../pathpatch';
import { textTable } from '../table';
import { defineAnalysis, type ReportContext, type ReportRun, type Row } from './context';
import { headsOf } from './heads';
import { matchPairs } from './patching';

export const PATH_TEST_COLUMNS = [
  'step',
  'path',
  'sender',
  'receiver',
  'input',
  'rule',
  'sender_share',
  'effect',
  'recovery',
  'control',
  'controls',
  'rank',
  'p_t',
  'p_wilcoxon',
  'cohen_dz',
  'n',
  'note',
] as const;

type Head = { layer: number; head: number };
const hname = (h: Head) => `L${h.layer}H${h.head}`;

/**
 * One planned test: a sender (a head's name, or 'embed') and a receiver, the rule that chose the
 * sender, and its controls: the paths from other heads into the same receiver (heads in
 * `exclude` left out), or for the embedding the paths into the same input of the `receivers`.
 */
export interface Planned {
  path: 'gather->aggregate' | 'embed->aggregate' | 'aggregate->mlp' | 'aggregate->logits';
  sender: string;
  receiver: Receiver;
  rule: string;
  share: number;
  exclude: Set<string>;
  /** Control receivers (embed -> aggregate): the same input of the layer's other heads. */
  receivers?: Receiver[];
}

/**
 * The tests of one checkpoint from its head classes: which sender -> receiver paths to test, by
 * the rules of the file comment, and the rows for aggregate heads that have no earlier layer.
 */
export function planPathTests(
  heads: readonly HeadClass[],
  has: { qkv(layer: number): boolean; mlp(layer: number): boolean; layers: number; embed?: boolean },
): { planned: Planned[]; notes: Row[] } {
  const planned: Planned[] = [];
  const notes: Row[] = [];
  const aggregate = heads.filter((h) => h.aggregate);
  const aggNames = new Set(aggregate.map(hname));
  if (!aggregate.length) notes.push({ path: 'gather->aggregate', sender: '', receiver: '', note: 'no aggregate head at this checkpoint' });
  for (const a of aggregate) {
    if (a.layer === 0) {
      notes.push({
        path: 'gather->aggregate',
        sender: '',
        receiver: hname(a),
        note: 'the aggregate head is in layer 0: no head precedes it (it reads the embeddings)',
      });
      // what it reads instead: the token embedding -> its q, k, v, against the same input of the layer's other heads
      const others = heads.filter((h) => h.layer === 0 && !aggNames.has(hname(h)));
      if (has.embed && has.qkv(0))
        for (const input of ['q', 'k', 'v'] as const)
          planned.push({
            path: 'embed->aggregate',
            sender: 'embed',
            receiver: { layer: 0, head: a.head, input },
            rule: 'token embedding',
            share: NaN,
            exclude: aggNames,
            receivers: others.map((h) => ({ layer: 0, head: h.head, input })),
          });
    } else if (!has.qkv(a.layer)) {
      notes.push({ path: 'gather->aggregate', sender: '', receiver: hname(a), note: `layer ${a.layer} has no q/k/v hook points` });
    } else {
      const below = heads.filter((h) => h.layer < a.layer);
      const senders = below.filter((h) => h.gather).map((h) => ({ h, rule: 'gather threshold' }));
      if (!senders.length)
        for (let l = 0; l < a.layer; l++) {
          const inL = below.filter((h) => h.layer === l && !aggNames.has(hname(h)));
          if (!inL.length) continue;
          const top = inL.reduce((b, h) => (h.gatherShare > b.gatherShare ? h : b));
          senders.push({ h: top, rule: `top gather share of layer ${l}` });
        }
      const exclude = new Set([...senders.map((s) => hname(s.h)), ...aggNames]);
      for (const s of senders)
        for (const input of ['q', 'k', 'v'] as const)
          planned.push({
            path: 'gather->aggregate',
            sender: hname(s.h),
            receiver: { layer: a.layer, head: a.head, input },
            rule: s.rule,
            share: s.h.gatherShare,
            exclude,
          });
    }
    for (let l = a.layer; l < has.layers; l++)
      if (has.mlp(l))
        planned.push({
          path: 'aggregate->mlp',
          sender: hname(a),
          receiver: { layer: l, input: 'mlp' },
          rule: 'aggregate head',
          share: a.aggregateShare,
          exclude: aggNames,
        });
    planned.push({
      path: 'aggregate->logits',
      sender: hname(a),
      receiver: { input: 'logits' },
      rule: 'aggregate head',
      share: a.aggregateShare,
      exclude: aggNames,
    });
  }
  return { planned, notes };
}

/** The row of one planned test from the computed paths (a note instead when it has no control path). */
export function pathTestRow(all: readonly PathResult[], p: Planned): Row {
  const rname = receiverName(p.receiver);
  const into = all.filter((x) => x.receiver === rname);
  const sname = p.sender;
  const base = {
    path: p.path,
    sender: sname,
    receiver: rname,
    input: p.receiver.input,
    rule: p.rule,
    sender_share: p.share,
  };
  let t: PathTestResult;
  if (p.receivers) {
    const tested = into.find((x) => x.sender === sname);
    const names = new Set(p.receivers.map(receiverName));
    const controls = all.filter((x) => x.sender === sname && names.has(x.receiver));
    if (!tested || !controls.length)
      return {
        ...base,
        note: tested ? 'no control receiver (every head of the layer is an aggregate head)' : 'the receiver does not follow the sender',
      };
    t = pathsVersus([tested], controls);
  } else {
    const controls = into.filter((x) => x.senderHead >= 0 && x.sender !== sname && !p.exclude.has(x.sender));
    if (!controls.length || !into.some((x) => x.sender === sname))
      return { ...base, note: controls.length ? 'the receiver does not follow the sender' : 'no control head precedes the receiver' };
    t = comparePaths(into, new Set([sname]), p.exclude);
  }
  return {
    ...base,
    effect: t.tested[0].effect,
    recovery: t.tested[0].recovery,
    control: mean(t.control),
    controls: t.controls.length,
    rank: t.ranks[0],
    p_t: t.test.pT,
    p_wilcoxon: t.test.pWilcoxon,
    cohen_dz: t.test.cohenDz,
    n: t.tested[0].n,
    note: '',
  };
}

/**
 * The plan of one checkpoint for a model: `planPathTests` over the model's hook points, or one note
 * where it has no attention heads with q/k/v hook points.
 */
export function planForModel(model: LanguageModel, heads: readonly HeadClass[]): { planned: Planned[]; notes: Row[] } {
  const pts = new Set(model.hookPoints());
  const has = {
    layers: model.anatomy.layers.length,
    embed: pts.has('hook_embed'),
    qkv: (l: number) => ['q', 'k', 'v'].every((x) => pts.has(`blocks.${l}.attn.hook_${x}`)),
    mlp: (l: number) => pts.has(`blocks.${l}.ln2.hook_normalized`),
  };
  if (!model.anatomy.layers.some((l) => l.heads) || !model.anatomy.layers.some((_, l) => has.qkv(l)))
    return { planned: [], notes: [{ path: 'gather->aggregate', note: 'the model has no attention heads with q/k/v hook points' }] };
  return planPathTests(heads, has);
}

/** What the planned tests need from path patching: every head (and the embedding where it is a sender) into every planned receiver and control receiver. */
export function plannedPaths(heads: readonly HeadClass[], planned: readonly Planned[]): { senders: string[]; receivers: Receiver[] } {
  const recv = new Map<string, Receiver>();
  for (const p of planned) for (const r of [p.receiver, ...(p.receivers ?? [])]) recv.set(receiverName(r), r);
  const senders = [...heads.map(hname), ...(planned.some((p) => p.sender === 'embed') ? ['embed'] : [])];
  return { senders, receivers: [...recv.values()] };
}

/** Path patching of `plannedPaths`, then one row per planned test. */
export async function runPlanned(
  model: LanguageModel,
  pairs: readonly PatchPair[],
  heads: readonly HeadClass[],
  planned: readonly Planned[],
  opts: PairOptions = {},
): Promise<Row[]> {
  const all = await pathPatching(model, pairs, { ...opts, ...plannedPaths(heads, planned) });
  return planned.map((p) => pathTestRow(all, p));
}

const EMPTY: Row = Object.fromEntries(PATH_TEST_COLUMNS.map((c) => [c, c === 'note' || c === 'rule' || c === 'input' ? '' : NaN]));

/** A row of the path_test table at `step`: a planned test's row or a note, with every column of PATH_TEST_COLUMNS. */
export const pathTestTableRow = (step: number, r: Row): Row => ({ ...EMPTY, step, ...r });

/** The verdict's rule for a tested path: p_t < 0.001 and an effect above its control paths'. */
export const significantPath = (r: Row): boolean => Number(r.p_t) < 0.001 && Number(r.effect) > Number(r.control);

const fp = (p: unknown) => {
  const x = Number(p);
  return !Number.isFinite(x) ? '' : x === 0 ? '< 1e-300' : x < 0.001 ? x.toExponential(0) : x.toFixed(3);
};

/** The REPORT.md rows: gather -> aggregate tests and notes at every checkpoint; of the aggregate -> MLP paths the largest per head; the direct paths. */
export function pathReportRows(runs: readonly ReportRun[]): Row[] {
  const out: Row[] = [];
  for (const run of runs) {
    const rows = run.tables.path_test ?? [];
    const steps = [...new Set(rows.map((r) => Number(r.step)))].sort((a, b) => a - b);
    for (const step of steps) {
      const at = rows.filter((r) => Number(r.step) === step);
      const mlp = new Map<string, Row>();
      for (const r of at.filter((x) => x.path === 'aggregate->mlp' && Number.isFinite(Number(x.effect)))) {
        const b = mlp.get(String(r.sender));
        if (!b || Number(r.effect) > Number(b.effect)) mlp.set(String(r.sender), r);
      }
      const layer0 = at.filter((r) => String(r.note).startsWith('the aggregate head is in layer 0'));
      for (const r of at) {
        if (r.path === 'aggregate->mlp' && mlp.get(String(r.sender)) !== r) continue;
        if (layer0.includes(r) && r !== layer0[0]) continue;
        const note =
          r === layer0[0] && layer0.length > 1
            ? 'the aggregate heads are in layer 0: no head precedes them (they read the embeddings)'
            : r.note;
        const receiver = r === layer0[0] ? layer0.map((x) => x.receiver).join(', ') : r.receiver;
        const c = Number(r.controls);
        out.push({
          setting: run.label,
          seed: run.seed,
          step,
          path: r.path,
          sender: r.sender ? `${r.sender}${r.rule && r.rule !== 'aggregate head' ? ` (${r.rule})` : ''}` : '',
          receiver,
          effect: Number.isFinite(Number(r.effect)) ? r.effect : '',
          control: Number.isFinite(Number(r.control)) ? r.control : '',
          rank: Number.isFinite(c) ? `${r.rank} of ${c + 1}` : '',
          p_t: fp(r.p_t),
          p_wilcoxon: fp(r.p_wilcoxon),
          note,
        });
      }
    }
  }
  return out;
}

/** The verdict lines of the REPORT.md section, counted from every run's path_test rows (significant: p_t < 0.001 and effect above control). */
export function pathVerdict(runs: readonly ReportRun[]): string[] {
  const rows: Row[] = runs.flatMap((r) => (r.tables.path_test ?? []).map((x) => ({ ...x, run: `${r.label}/${r.seed}` })));
  if (!rows.length) return [];
  const sig = significantPath;
  const key = (r: Row) => `${r.run}@${r.step}`;
  const ckpts = new Set(rows.map(key));
  const noAgg = new Set(rows.filter((r) => r.note === 'no aggregate head at this checkpoint').map(key));
  const withAgg = [...ckpts].filter((k) => !noAgg.has(k));
  const testable = new Set(rows.filter((r) => r.path === 'gather->aggregate' && Number.isFinite(Number(r.effect))).map(key));
  const ga = rows.filter((r) => r.path === 'gather->aggregate' && Number.isFinite(Number(r.effect)));
  const threshold = new Set(ga.filter((r) => r.rule === 'gather threshold').map((r) => `${key(r)}/${r.sender}`));
  const senders = new Set(ga.map((r) => `${key(r)}/${r.sender}`));
  const best = new Map<string, Row>();
  for (const r of rows.filter((x) => x.path === 'aggregate->mlp' && Number.isFinite(Number(x.effect)))) {
    const k = `${key(r)}/${r.sender}`;
    if (!best.has(k) || Number(r.effect) > Number(best.get(k)!.effect)) best.set(k, r);
  }
  const mlp = [...best.values()];
  const won = ga.filter(sig);
  const range = (xs: number[], digits = 2) =>
    xs.length ? `${Math.min(...xs).toFixed(digits)} to ${Math.max(...xs).toFixed(digits)}` : 'n/a';
  return [
    `**Verdict, gather -> aggregate:** ${withAgg.length} of ${ckpts.size} analysed checkpoints have aggregate heads; at ${withAgg.length - testable.size} of them every aggregate head is in layer 0, where no head can precede it. ${
      ga.length
        ? `${ga.length} gather -> aggregate paths could be tested (${senders.size} senders, ${threshold.size} of them above the gather threshold): ${won.length} beat their control paths (p < 0.001 and a larger effect)${
            won.length
              ? `, by ${range(
                  won.map((r) => Number(r.effect) - Number(r.control)),
                  3,
                )} nats (effect minus control; the largest effect of any of them ${Math.max(...won.map((r) => Number(r.effect))).toFixed(3)} nats)`
              : ''
          }.`
        : 'No gather -> aggregate path could be tested.'
    }`,
    '',
    ...(() => {
      const em = rows.filter((r) => r.path === 'embed->aggregate' && Number.isFinite(Number(r.effect)));
      if (!em.length) return [];
      const by = (input: string) => {
        const xs = em.filter((r) => r.input === input);
        return `${input} ${range(xs.map((r) => Number(r.effect)))} nats (controls ${range(xs.map((r) => Number(r.control)))}; ${xs.filter(sig).length} of ${xs.length} significant)`;
      };
      return [
        `**Token embedding -> layer-0 aggregate heads** (against the same input of the layer's other heads): ${['v', 'k', 'q'].map(by).join('; ')}.`,
        '',
      ];
    })(),
    `**Aggregate head -> MLP** (the largest per head and checkpoint): ${range(mlp.map((r) => Number(r.effect)))} nats against ${range(mlp.map((r) => Number(r.control)))} for the control paths into the same MLP; ${mlp.filter(sig).length} of ${mlp.length} significant.`,
    '',
  ];
}

/** The CLI summary of path_test rows (of the aggregate -> MLP paths only those into the head's own layer's MLP): a title and a text table; none without rows. */
export function pathTestText(all: readonly Row[]): string[] {
  const rows = all.filter((r) => r.path !== 'aggregate->mlp' || r.receiver === `L${String(r.sender).match(/^L(\d+)/)?.[1]}.mlp`);
  if (!rows.length) return [];
  return [
    'path test (path patching match -> mismatch; nats recovered; controls: every other head into the same receiver)',
    textTable(
      rows.map((r) => ({ ...r, p_t: fp(r.p_t) })),
      [
        ['step', 'step'],
        ['path', 'path'],
        ['sender', 'sender'],
        ['receiver', 'receiver'],
        ['effect', 'effect'],
        ['control', 'control'],
        ['rank', 'rank'],
        ['p_t', 'p (t)'],
        ['note', 'note'],
      ],
    ),
  ];
}

export const paths = defineAnalysis({
  name: 'paths',
  depends: ['heads'],
  table: 'analysis/path_test',
  writes: { 'analysis/path_test': PATH_TEST_COLUMNS },
  image: false,
  async compute(ctx) {
    const heads = await headsOf(ctx);
    const m = await ctx.model();
    const step = ctx.step;
    const { planned, notes } = planForModel(m, heads);
    const rows: Row[] = notes.map((n) => pathTestTableRow(step, n));
    if (planned.length) {
      ctx.say(`path test (${planned.length} paths)`);
      ctx.tick('other');
      const found = await runPlanned(m, matchPairs(ctx), heads, planned, {
        batchSize: ctx.bs,
        padId: ctx.padId,
        signal: ctx.opts.signal,
      });
      ctx.tick('paths');
      for (const r of found) rows.push(pathTestTableRow(step, r));
    }
    await ctx.upsert('analysis/path_test', rows);
    ctx.note('paths');
  },
  async report(read) {
    return pathTestText(await read('analysis/path_test'));
  },
  reproduce: {
    title: 'Circuits: the gather -> aggregate path test (Transformer)',
    intro:
      'Path patching on the match -> mismatch prompt pairs (the ENV noun swapped): for each aggregate head, each gather head of an earlier layer -> its queries, keys and values (where no head passes the gather threshold, the head with the highest gather share of each earlier layer, named so); for an aggregate head in layer 0, which no head precedes, the token embedding -> its queries, keys and values, against the embedding -> the same input of the other heads of that layer; each aggregate head -> the MLP of its own or a later layer (the largest shown) and -> the logits (its direct path). Effect: nats of v<LAN> surprisal recovered through that path alone; control: the mean over the paths from every other head into the same receiver; rank among them; paired tests over prompt pairs (t, Wilcoxon). All rows: tables/path-test-all.csv.',
    reads: ['path_test'],
    notes: ({ runs }: ReportContext) => pathVerdict(runs.filter((r) => r.label.startsWith('transformer'))),
    tables({ runs }: ReportContext) {
      const tr = runs.filter((r) => r.label.startsWith('transformer') && (r.tables.path_test ?? []).length);
      if (!tr.length) return [];
      const cols: Array<[string, string]> = [
        ['setting', 'setting'],
        ['seed', 'seed'],
        ['step', 'checkpoint'],
        ['path', 'path'],
        ['sender', 'sender'],
        ['receiver', 'receiver'],
        ['effect', 'effect (nats)'],
        ['control', 'control paths (nats)'],
        ['rank', 'rank'],
        ['p_t', 'p (paired t)'],
        ['p_wilcoxon', 'p (Wilcoxon)'],
        ['note', 'note'],
      ];
      const all = tr.flatMap((r) => (r.tables.path_test ?? []).map((x) => ({ setting: r.label, seed: r.seed, ...x })));
      return [
        { name: 'path-test', rows: pathReportRows(tr), cols },
        {
          name: 'path-test-all',
          rows: all,
          cols: [['setting', 'setting'], ['seed', 'seed'], ...PATH_TEST_COLUMNS.map((c): [string, string] => [c, c])],
          show: false,
        },
      ];
    },
  },
});
