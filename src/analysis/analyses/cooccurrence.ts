import type { GainRow } from '../../metrics/gain';
import { cooccurrenceR2 } from '../cooccurrence';
import { textTable } from '../table';
import { defineAnalysis } from './context';

export const cooccurrence = defineAnalysis({
  name: 'cooccurrence',
  depends: ['gain'],
  table: 'analysis/cooccurrence',
  writes: { 'analysis/cooccurrence': ['step', 'predictors', 'r2', 'adj_r2', 'n'] },
  image: true,
  async compute(ctx) {
    const rows =
      ctx.shared<GainRow[]>('gainRows') ??
      (await ctx.readRows('analysis/gain'))
        .filter((r) => Number(r.step) === ctx.step)
        .map((r) => ({
          noun: String(r.noun),
          gain: Number(r.gain),
          matchSurprisal: Number(r.match),
          mismatchSurprisal: Number(r.mismatch),
          contexts: Number(r.contexts),
        }));
    const fits = cooccurrenceR2(rows, ctx.counts);
    await ctx.upsert(
      'analysis/cooccurrence',
      fits.map((f) => ({ step: ctx.step, predictors: f.predictors, r2: f.r2, adj_r2: f.adjR2, n: f.n })),
    );
    ctx.note('cooccurrence');
  },
  async report(read) {
    const co = (await read('analysis/cooccurrence')).filter((r) => r.predictors === 'all' || r.predictors === 'log_cooc');
    if (!co.length) return [];
    return [
      'co-occurrence control: R^2 of G against corpus statistics',
      textTable(co, [
        ['step', 'step'],
        ['predictors', 'predictors'],
        ['r2', 'R^2'],
        ['adj_r2', 'adj. R^2'],
        ['n', 'nouns'],
      ]),
    ];
  },
});
