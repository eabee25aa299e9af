import { scoreSequences } from '../../eval/surprisal';
import { defineAnalysis, type StepContext } from './context';

/** Per-sequence surprisal of this checkpoint: stored when complete and not asked for again, else computed and written. */
export function surprisalOf(ctx: StepContext): Promise<Float64Array> {
  return ctx.once('surprisal', async () => {
    const stored = (await ctx.readRows('analysis/surprisal')).filter((r) => Number(r.step) === ctx.step);
    if (!ctx.missing.has('surprisal') && stored.length === ctx.seqs.length)
      return Float64Array.from(stored.map((r) => Number(r.surprisal)));
    ctx.say('surprisal');
    const m = await ctx.model();
    const s = await scoreSequences(m, ctx.seqs, { batchSize: ctx.bs, padId: ctx.padId, signal: ctx.opts.signal });
    ctx.tick('surprisal');
    await ctx.upsert(
      'analysis/surprisal',
      ctx.seqs.map((q, i) => ({
        step: ctx.step,
        noun: q.noun,
        context: q.context,
        condition: q.condition,
        env_noun: q.envNoun,
        surprisal: s[i],
      })),
    );
    ctx.note('surprisal');
    return s;
  });
}

export const surprisal = defineAnalysis({
  name: 'surprisal',
  depends: [],
  table: 'analysis/surprisal',
  writes: { 'analysis/surprisal': ['step', 'noun', 'context', 'condition', 'env_noun', 'surprisal'] },
  image: true,
  async compute(ctx) {
    await surprisalOf(ctx);
  },
});
