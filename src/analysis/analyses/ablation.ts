import { mean } from '../../metrics/stats';
import { ablationTest, type HeadRef } from '../ablation';
import { textTable } from '../table';
import { defineAnalysis, type ReportRun, type Row } from './context';
import { headsOf } from './heads';
import { surprisalOf } from './surprisal';

export const ablation = defineAnalysis({
  name: 'ablation',
  depends: ['heads'],
  table: 'analysis/ablation',
  writes: {
    'analysis/ablation': [
      'step',
      'kind',
      'mode',
      'heads',
      'head_list',
      'n',
      'draws',
      'mean_layer',
      'ablated',
      'control',
      'intact',
      'mean_diff',
      't',
      'p_t',
      'p_wilcoxon',
      'cohen_dz',
      'p_vs_intact',
    ],
  },
  image: false,
  async compute(ctx) {
    const { step, opts } = ctx;
    const surprisal = await surprisalOf(ctx);
    const heads = await headsOf(ctx);
    const m = await ctx.model();
    ctx.tick('other');
    const rows: Row[] = [];
    const intact = Float64Array.from(ctx.matchIdx.map((i) => surprisal[i]));
    for (const kind of ['aggregate', 'gather'] as const) {
      const set: HeadRef[] = heads.filter((h) => h[kind]).map((h) => ({ layer: h.layer, head: h.head }));
      const base = {
        step,
        kind,
        mode: opts.ablation?.mode ?? 'zero',
        heads: set.length,
        head_list: set.map((h) => `${h.layer}.${h.head}`).join(' '),
        n: ctx.match.length,
        draws: opts.ablation?.draws ?? 10,
      };
      if (set.length === 0 || set.length >= heads.length) {
        rows.push({
          ...base,
          mean_layer: NaN,
          ablated: NaN,
          control: NaN,
          intact: mean(intact),
          mean_diff: NaN,
          t: NaN,
          p_t: NaN,
          p_wilcoxon: NaN,
          cohen_dz: NaN,
          p_vs_intact: NaN,
        });
        continue;
      }
      ctx.say(`ablation of ${set.length} ${kind} heads`);
      const r = await ablationTest(m, ctx.match, set, {
        draws: opts.ablation?.draws ?? 10,
        seed: opts.ablation?.seed ?? step,
        mode: opts.ablation?.mode ?? 'zero',
        batchSize: ctx.bs,
        padId: ctx.padId,
        signal: opts.signal,
        intact,
      });
      rows.push({
        ...base,
        mean_layer: r.meanLayer,
        ablated: r.ablated,
        control: r.control,
        intact: r.intact,
        mean_diff: r.vsControl.meanDiff,
        t: r.vsControl.t,
        p_t: r.vsControl.pT,
        p_wilcoxon: r.vsControl.pWilcoxon,
        cohen_dz: r.vsControl.cohenDz,
        p_vs_intact: r.vsIntact.pT,
      });
    }
    ctx.tick('ablation');
    await ctx.upsert('analysis/ablation', rows);
    ctx.note('ablation');
  },
  reproduce: {
    title: 'Ablation table (Transformer, paper format)',
    tables({ runs }) {
      const cols: Array<[string, string]> = [
        ['step', 'checkpoint'],
        ['heads', 'heads'],
        ['mean_layer', 'mean layer'],
        ['ablated', 'surprisal, heads zeroed'],
        ['control', 'control heads zeroed'],
        ['intact', 'intact'],
        ['p_text', 'p (paired t, largest over seeds)'],
      ];
      return [
        { name: 'ablation-aggregate', rows: ablationTable(runs, 'transformer', 'aggregate'), cols },
        { name: 'ablation-gather', rows: ablationTable(runs, 'transformer', 'gather'), cols, show: false },
      ];
    },
  },
  async report(read) {
    const abl = await read('analysis/ablation');
    if (!abl.length) return [];
    const tiny = (v: unknown) => (v === 0 ? '< 1e-300' : v);
    return [
      'ablation (surprisal of v<LAN> in match contexts; paired tests over contexts, heads zeroed vs control heads zeroed)',
      textTable(
        abl.map((r) => ({ ...r, p_t: tiny(r.p_t), p_wilcoxon: tiny(r.p_wilcoxon) })),
        [
          ['step', 'checkpoint'],
          ['kind', 'heads'],
          ['heads', 'count'],
          ['mean_layer', 'mean layer'],
          ['ablated', 'zeroed'],
          ['control', 'control zeroed'],
          ['intact', 'intact'],
          ['p_t', 'p (t)'],
          ['p_wilcoxon', 'p (Wilcoxon)'],
          ['cohen_dz', 'd_z'],
        ],
      ),
    ];
  },
});

const fp = (p: number) => (!Number.isFinite(p) ? 'n/a' : p < 0.001 ? '< 0.001' : p.toFixed(3));

/** Per step, the ablation rows of a kind of the runs of a label, averaged over seeds; p is the largest over seeds. */
export function ablationTable(runs: readonly ReportRun[], label: string, kind: 'aggregate' | 'gather'): Row[] {
  const by = new Map<number, Row[]>();
  for (const run of runs.filter((r) => r.label === label)) {
    for (const r of run.tables.ablation ?? []) {
      if (r.kind !== kind) continue;
      const s = Number(r.step);
      by.set(s, [...(by.get(s) ?? []), r]);
    }
  }
  const avg = (rs: Row[], k: string) => {
    const xs = rs.map((r) => Number(r[k])).filter(Number.isFinite);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  };
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([step, rs]) => {
      const ps = rs.map((r) => Number(r.p_t)).filter(Number.isFinite);
      return {
        step,
        heads: avg(rs, 'heads'),
        mean_layer: avg(rs, 'mean_layer'),
        ablated: avg(rs, 'ablated'),
        control: avg(rs, 'control'),
        intact: avg(rs, 'intact'),
        p: ps.length ? Math.max(...ps) : NaN,
        p_text: ps.length ? fp(Math.max(...ps)) : 'no heads',
        seeds: rs.length,
      };
    });
}
