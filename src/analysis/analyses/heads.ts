import { classifyHeads, headSummary, type HeadClass } from '../../metrics/heads';
import { textTable } from '../table';
import { defineAnalysis, type ReportContext, type ReportRun, type ReportTable, type Row, type StepContext } from './context';
import { saliencyOf } from './saliency';

/** The head classes of one step from the rows of `analysis/heads`. */
export function headClasses(rows: readonly Row[], step: number): HeadClass[] {
  return rows
    .filter((r) => Number(r.step) === step)
    .map((r) => ({
      layer: Number(r.layer),
      head: Number(r.head),
      aggregateShare: Number(r.aggregate_share),
      gatherShare: Number(r.gather_share),
      aggregate: Boolean(r.aggregate),
      gather: Boolean(r.gather),
    }));
}

/** The head classes of this checkpoint: computed in this pass, or read from `analysis/heads`. */
export async function headsOf(ctx: StepContext): Promise<HeadClass[]> {
  return ctx.shared<HeadClass[]>('heads') ?? headClasses(await ctx.readRows('analysis/heads'), ctx.step);
}

/**
 * Aggregate and gather heads per layer and checkpoint, mean over the runs (seeds): "L0 1.67, L3 0.33"
 * (layers without any left out; "none" when no layer has one), from each run's `analysis/heads`.
 */
export function headsByLayer(runs: readonly ReportRun[], overSeeds: ReportContext['overSeeds']): Row[] {
  const perLayer = runs.map((run) => {
    const acc = new Map<string, { step: number; layer: number; aggregate: number; gather: number }>();
    for (const h of run.tables.heads ?? []) {
      const key = `${Number(h.step)}/${Number(h.layer)}`;
      const e = acc.get(key) ?? { step: Number(h.step), layer: Number(h.layer), aggregate: 0, gather: 0 };
      e.aggregate += h.aggregate ? 1 : 0;
      e.gather += h.gather ? 1 : 0;
      acc.set(key, e);
    }
    return { ...run, tables: { heads_by_layer: [...acc.values()] } };
  });
  const mean = (kind: 'aggregate' | 'gather') => overSeeds(perLayer, 'heads_by_layer', kind, undefined, ['layer']);
  const agg = mean('aggregate');
  const gat = mean('gather');
  const steps = [...new Set(agg.map((r) => Number(r.step)))].sort((a, b) => a - b);
  const list = (rows: Row[], step: number) => {
    const at = rows.filter((r) => Number(r.step) === step && Number(r.mean) > 0).sort((a, b) => Number(a.layer) - Number(b.layer));
    const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
    return at.length ? at.map((r) => `L${r.layer} ${fmt(Number(r.mean))}`).join(', ') : 'none';
  };
  return steps.map((step) => ({ step, aggregate: list(agg, step), gather: list(gat, step) }));
}

export const heads = defineAnalysis({
  name: 'heads',
  depends: ['saliency'],
  table: 'analysis/head_counts',
  writes: {
    'analysis/heads': ['step', 'layer', 'head', 'aggregate_share', 'gather_share', 'aggregate', 'gather'],
    'analysis/head_counts': ['step', 'aggregate_heads', 'aggregate_mean_layer', 'gather_heads', 'gather_mean_layer', 'total_heads'],
  },
  image: false,
  async compute(ctx) {
    const sal = await saliencyOf(ctx);
    const hs = await ctx.once<HeadClass[]>('heads', async () => classifyHeads(sal.heads, ctx.opts.heads));
    const step = ctx.step;
    await ctx.upsert(
      'analysis/heads',
      hs.map((h) => ({
        step,
        layer: h.layer,
        head: h.head,
        aggregate_share: h.aggregateShare,
        gather_share: h.gatherShare,
        aggregate: h.aggregate,
        gather: h.gather,
      })),
    );
    const a = headSummary(hs, 'aggregate');
    const g = headSummary(hs, 'gather');
    await ctx.upsert('analysis/head_counts', [
      {
        step,
        aggregate_heads: a.count,
        aggregate_mean_layer: a.meanLayer,
        gather_heads: g.count,
        gather_mean_layer: g.meanLayer,
        total_heads: hs.length,
      },
    ]);
    ctx.note('heads');
  },
  reproduce: {
    title: 'Head counts (Transformer)',
    tables({ runs, overSeeds }): ReportTable[] {
      const tr = runs.filter((r) => r.group === 'main' && r.label === 'transformer');
      const mean = (f: string) => overSeeds(tr, 'head_counts', f);
      const rows = mean('aggregate_heads').map((r) => {
        const s = Number(r.step);
        const get = (f: string) => mean(f).find((x) => Number(x.step) === s)?.mean;
        return {
          step: s,
          aggregate_heads: r.mean,
          aggregate_mean_layer: get('aggregate_mean_layer'),
          gather_heads: get('gather_heads'),
          gather_mean_layer: get('gather_mean_layer'),
        };
      });
      const byLayer = headsByLayer(tr, overSeeds);
      const layerTable: ReportTable[] = byLayer.length
        ? [
            {
              name: 'head-layers',
              rows: byLayer,
              cols: [
                ['step', 'checkpoint'],
                ['aggregate', 'aggregate heads by layer (0-based; mean over seeds)'],
                ['gather', 'gather heads by layer'],
              ],
            },
          ]
        : [];
      return [
        {
          name: 'head-counts',
          rows,
          cols: [
            ['step', 'checkpoint'],
            ['aggregate_heads', 'aggregate heads'],
            ['aggregate_mean_layer', 'mean layer'],
            ['gather_heads', 'gather heads'],
            ['gather_mean_layer', 'mean layer'],
          ],
        },
        ...layerTable,
      ];
    },
  },
  async report(read) {
    const hc = await read('analysis/head_counts');
    if (!hc.length) return [];
    return [
      'heads (saliency share >= threshold)',
      textTable(hc, [
        ['step', 'step'],
        ['aggregate_heads', 'aggregate'],
        ['aggregate_mean_layer', 'mean layer'],
        ['gather_heads', 'gather'],
        ['gather_mean_layer', 'mean layer'],
        ['total_heads', 'of heads'],
      ]),
    ];
  },
});
