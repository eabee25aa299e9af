import { activationPatching } from '../patching';
import { lensPoints } from '../lens';
import type { PatchPair } from '../patching';
import { defineAnalysis, type StepContext } from './context';

/** The prompt pairs of the patching analyses: each match context (clean) with the first mismatch of its item (corrupted). */
export function matchPairs(ctx: Pick<StepContext, 'seqs' | 'matchIdx'>): PatchPair[] {
  return ctx.matchIdx.map((i) => {
    const q = ctx.seqs[i];
    const mm = ctx.seqs.find((r) => r.item === q.item && r.condition === 'mismatch')!;
    return { clean: q.ids, corrupted: mm.ids, target: q.target, marks: { env: q.envPos } };
  });
}

export const patching = defineAnalysis({
  name: 'patching',
  depends: [],
  table: 'analysis/patching',
  writes: {
    'analysis/patching': ['step', 'hook', 'layer', 'position', 'clean', 'corrupted', 'patched', 'recovery', 'recovery_of_means', 'n'],
  },
  image: false,
  async compute(ctx) {
    ctx.say('activation patching');
    const m = await ctx.model();
    const pairs = matchPairs(ctx);
    const hooks = lensPoints(m);
    ctx.tick('other');
    const res = await activationPatching(m, pairs, {
      hooks,
      positions: ['env', 'last'],
      batchSize: ctx.bs,
      padId: ctx.padId,
      signal: ctx.opts.signal,
    });
    ctx.tick('patching');
    const step = ctx.step;
    await ctx.upsert(
      'analysis/patching',
      res.map((r) => ({
        step,
        hook: r.hook,
        layer: hooks.indexOf(r.hook),
        position: r.position,
        clean: r.clean,
        corrupted: r.corrupted,
        patched: r.patched,
        recovery: r.recovery,
        recovery_of_means: r.recoveryOfMeans,
        n: r.n,
      })),
    );
    ctx.note('patching');
  },
});
