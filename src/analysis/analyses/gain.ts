import { groundingGain, summarizeGain, surprisalRecords, type GainRow } from '../../metrics/gain';
import { textTable } from '../table';
import { defineAnalysis } from './context';
import { surprisalOf } from './surprisal';

export const gain = defineAnalysis({
  name: 'gain',
  depends: ['surprisal'],
  table: 'analysis/gain_summary',
  writes: {
    'analysis/gain': ['step', 'noun', 'gain', 'match', 'mismatch', 'contexts'],
    'analysis/gain_summary': ['step', 'gain', 'ci_lo', 'ci_hi', 'sem', 'nouns', 'match', 'mismatch'],
  },
  image: true,
  async compute(ctx) {
    const s = await surprisalOf(ctx);
    const rows: GainRow[] = await ctx.once('gainRows', async () => groundingGain(surprisalRecords(ctx.seqs, s)));
    const sum = summarizeGain(rows);
    const step = ctx.step;
    await ctx.upsert(
      'analysis/gain',
      rows.map((g) => ({ step, noun: g.noun, gain: g.gain, match: g.matchSurprisal, mismatch: g.mismatchSurprisal, contexts: g.contexts })),
    );
    await ctx.upsert('analysis/gain_summary', [
      {
        step,
        gain: sum.gain.mean,
        ci_lo: sum.gain.lo,
        ci_hi: sum.gain.hi,
        sem: sum.gain.sem,
        nouns: sum.nouns,
        match: sum.matchSurprisal,
        mismatch: sum.mismatchSurprisal,
      },
    ]);
    ctx.note('gain');
  },
  async report(read) {
    const gain = await read('analysis/gain_summary');
    if (!gain.length) return [];
    return [
      'grounding information gain G (nats; mean over nouns, 95% CI over nouns)',
      textTable(gain, [
        ['step', 'step'],
        ['gain', 'G'],
        ['ci_lo', 'CI low'],
        ['ci_hi', 'CI high'],
        ['match', 'match s'],
        ['mismatch', 'mismatch s'],
        ['nouns', 'nouns'],
      ]),
    ];
  },
});
