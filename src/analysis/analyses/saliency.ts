import { saliency as saliencyOfModel, type SaliencyResult } from '../saliency';
import { textTable } from '../table';
import { defineAnalysis, type StepContext } from './context';

/** This checkpoint's saliency, computed once and written (the heads analysis reads it too). */
export function saliencyOf(ctx: StepContext): Promise<SaliencyResult> {
  return ctx.once('saliency', async () => {
    ctx.say('saliency');
    const m = await ctx.model();
    ctx.tick('other');
    const sal = await saliencyOfModel(m, ctx.seqs, {
      batchSize: Math.max(1, Math.floor(ctx.bs / 2)),
      padId: ctx.padId,
      signal: ctx.opts.signal,
    });
    ctx.tick('saliency');
    const step = ctx.step;
    await ctx.upsert('analysis/saliency', [
      ...sal.layers.map((l) => ({
        step,
        kind: sal.kind === 'input' ? 'input' : 'layer',
        layer: l.layer,
        head: -1,
        flow: l.flowShare,
        gather: NaN,
        total: l.total,
      })),
      ...sal.heads.map((h) => ({
        step,
        kind: 'head',
        layer: h.layer,
        head: h.head,
        flow: h.aggregateShare,
        gather: h.gatherShare,
        total: NaN,
      })),
    ]);
    ctx.note('saliency');
    return sal;
  });
}

export const saliency = defineAnalysis({
  name: 'saliency',
  depends: [],
  table: 'analysis/saliency',
  writes: { 'analysis/saliency': ['step', 'kind', 'layer', 'head', 'flow', 'gather', 'total'] },
  image: false,
  async compute(ctx) {
    await saliencyOf(ctx);
  },
  async report(read) {
    const sal = (await read('analysis/saliency')).filter((r) => r.kind !== 'head');
    if (!sal.length) return [];
    return [
      "saliency flow v<ENV> -> prediction position (share of the layer's saliency; models without a mixing matrix, e.g. LSTM, GRU: gradient x input share of the ENV position)",
      textTable(sal, [
        ['step', 'step'],
        ['kind', 'kind'],
        ['layer', 'layer'],
        ['flow', 'share'],
      ]),
    ];
  },
});
