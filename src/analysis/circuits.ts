/**
 * `circuitsRun`: the circuit-tracing measures of a run, per checkpoint, as tables in the run
 * directory (every table has a `step` column; a step already there is skipped unless `force`):
 *   analysis/circuit_paths      per sender -> receiver path: exact path-patching effect, recovery, edge attribution
 *   analysis/circuit_heads      per head: attribution patching vs exact activation patching of its output (all positions)
 *   analysis/circuit_dla        per residual term: direct contribution to the v<LAN> logit, match / mismatch / difference
 *   analysis/circuit_path_test  the gather -> aggregate path test of the `paths` analysis (its plan, rows and
 *                               columns: ./analyses/paths.ts) on these prompt pairs, from the path patching above
 *   analysis/circuit_summary    per step: gather and aggregate heads, r(AtP, exact) over heads, r(EAP, exact) over
 *                               paths, and counts of the path test's rows
 * Prompt pairs: each match context of the run's evaluation set with its first mismatch (`matchPairs`,
 * as for `patching` and `paths`); gather / aggregate heads from `analysis/heads` (computed by
 * `analyzeRun` if missing).
 */
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import { evalSequences } from '../eval/evalset';
import { batchPadId } from '../data/tokens';
import { pearson } from '../metrics/stats';
import { analyzeRun, runEvalSet, type AnalysisRun, type AnalyzeOptions, type ProgressLike } from './analyze';
import { activationPatching } from './patching';
import { attributionPatching } from './attribution';
import { pathPatching } from './pathpatch';
import { directLogitAttribution, dlaByCondition } from './dla';
import { matchPairs } from './analyses/patching';
import { headClasses } from './analyses/heads';
import { pathTestRow, pathTestTableRow, planForModel, plannedPaths, significantPath } from './analyses/paths';

export interface CircuitsOptions {
  checkpoints?: number[];
  /** Use at most this many prompt pairs (evenly spread over the match contexts; default all). */
  pairs?: number;
  force?: boolean;
  heads?: AnalyzeOptions['heads'];
  batchSize?: number;
  onProgress?: (e: ProgressLike) => void;
  signal?: AbortSignal;
}

export interface CircuitsSummary {
  step: number;
  pairs: number;
  gather: string;
  aggregate: string;
  atp_r: number;
  eap_r: number;
  /** Gather -> aggregate (q, k, v) paths tested by the path test (threshold or fallback senders); 0 when none could be. */
  ga_paths: number;
  /** Of them, those above their control paths (p_t < 0.001 and a larger effect). */
  ga_significant: number;
  /** The largest gather -> aggregate path effect (nats; NaN when none was tested). */
  ga_effect: number;
  /** Every path test with a result (gather, embed -> aggregate, aggregate -> MLP, -> logits) and how many of them are significant. */
  tests: number;
  significant: number;
  seconds: number;
}

async function rows(run: AnalysisRun, name: string): Promise<Array<Record<string, unknown>>> {
  const t = await run.readTable(name);
  return t ? (t.objects() as Array<Record<string, unknown>>) : [];
}

async function upsert(run: AnalysisRun, name: string, step: number, add: Array<Record<string, unknown>>): Promise<void> {
  const all = [...(await rows(run, name)).filter((r) => Number(r.step) !== step), ...add].sort((a, b) => Number(a.step) - Number(b.step));
  if (all.length) await run.writeTable(name, aq.from(all));
}

/** Circuit tracing over checkpoints; returns the summary row of every selected step. */
export async function circuitsRun(run: AnalysisRun, opts: CircuitsOptions = {}): Promise<CircuitsSummary[]> {
  const have = run.checkpoints.map((c) => c.step);
  if (!have.length) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`, { hint: 'train it first' });
  const steps = opts.checkpoints ?? have;
  for (const s of steps)
    if (!have.includes(s))
      throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint at step ${s}`, {
        hint: `available steps: ${have.join(', ')}`,
      });
  const progress = opts.onProgress ?? (() => {});
  const set = await runEvalSet(run);
  if (set.image)
    throw new GroundlabError('UNSUPPORTED', 'circuit tracing is not implemented for image-grounded runs (continuous ENV features) yet');
  const seqs = evalSequences(set, run.tokenizer);
  const match = seqs.flatMap((s, i) => (s.condition === 'match' ? [i] : []));
  const n = Math.min(opts.pairs ?? match.length, match.length);
  if (!(n >= 2)) throw new GroundlabError('BAD_ARGUMENT', `circuit tracing needs at least 2 prompt pairs (got ${n})`);
  const every = match.length / n;
  const picked = Array.from({ length: n }, (_, i) => match[Math.floor(i * every)]);
  const pairs = matchPairs({ seqs, matchIdx: picked });
  const items = new Set(picked.map((i) => seqs[i].item));
  const dlaSeqs = seqs.filter((s) => items.has(s.item));
  const padId = batchPadId(run.tokenizer);
  const po = { batchSize: opts.batchSize ?? 32, padId, signal: opts.signal };
  // a summary written before circuit_path_test existed is recomputed
  const tested = new Set((await rows(run, 'analysis/circuit_path_test')).map((r) => Number(r.step)));
  const stored = new Set((await rows(run, 'analysis/circuit_summary')).map((r) => Number(r.step)).filter((s) => tested.has(s)));
  const out: CircuitsSummary[] = [];
  let k = 0;
  for (const step of steps) {
    k++;
    const say = (m: string) => progress({ task: 'circuits', step: k - 1, total: steps.length, message: `step ${step}: ${m}` });
    if (stored.has(step) && !opts.force) {
      const r = (await rows(run, 'analysis/circuit_summary')).find((x) => Number(x.step) === step)!;
      out.push(r as unknown as CircuitsSummary);
      continue;
    }
    const t0 = Date.now();
    let heads = headClasses(await rows(run, 'analysis/heads'), step);
    if (!heads.length) {
      say('gather and aggregate heads');
      await analyzeRun(run, { only: ['heads'], checkpoints: [step], heads: opts.heads, batchSize: opts.batchSize, signal: opts.signal });
      heads = headClasses(await rows(run, 'analysis/heads'), step);
    }
    const model = await run.loadModel(step);
    try {
      say('path patching');
      const paths = await pathPatching(model, pairs, { ...po, attribution: true });
      await upsert(
        run,
        'analysis/circuit_paths',
        step,
        paths.map((p) => ({
          step,
          sender: p.sender,
          receiver: p.receiver,
          sender_layer: p.senderLayer,
          sender_head: p.senderHead,
          receiver_layer: p.receiverLayer,
          receiver_head: p.receiverHead,
          input: p.input,
          effect: p.effect,
          recovery: p.recovery,
          recovery_of_means: p.recoveryOfMeans,
          attribution: p.attribution!,
          n: p.n,
        })),
      );
      say('attribution patching');
      const sites = model.anatomy.layers.map((l, layer) => ({ layer, site: l.heads })).filter((x) => x.site);
      const atp = await attributionPatching(model, pairs, { ...po, hooks: [...new Set(sites.map((x) => x.site!.hook))], perHead: true });
      const headRows: Array<Record<string, unknown>> = [];
      for (const { layer, site } of sites)
        for (let h = 0; h < site!.size; h++) {
          const ex = (await activationPatching(model, pairs, { ...po, hooks: [site!.hook], positions: ['all'], head: h }))[0];
          const est = atp.find((a) => a.hook === site!.hook && a.head === h)!;
          headRows.push({
            step,
            layer,
            head: h,
            hook: site!.hook,
            atp: est.attribution,
            exact: ex.corrupted - ex.patched,
            n: pairs.length,
          });
        }
      await upsert(run, 'analysis/circuit_heads', step, headRows);
      if (model.anatomy.layers.every((l) => l.residPre)) {
        say('direct logit attribution');
        const dla = await directLogitAttribution(model, dlaSeqs, po);
        await upsert(
          run,
          'analysis/circuit_dla',
          step,
          dlaByCondition(dla, dlaSeqs).map((r) => ({ step, ...r })),
        );
      }
      // the paths analysis' test on these pairs: every path it needs between heads is in `paths`;
      // the embedding (a sender of the test only) is patched into the receivers the plan names
      const { planned, notes } = planForModel(model, heads);
      const need = plannedPaths(heads, planned);
      if (planned.length) say(`path test (${planned.length} paths)`);
      const embed = need.senders.includes('embed')
        ? await pathPatching(model, pairs, { ...po, senders: ['embed'], receivers: need.receivers })
        : [];
      const found = planned.map((p) => pathTestRow([...paths, ...embed], p));
      await upsert(
        run,
        'analysis/circuit_path_test',
        step,
        [...notes, ...found].map((r) => pathTestTableRow(step, r)),
      );
      const done = found.filter((r) => Number.isFinite(Number(r.effect)));
      const ga = done.filter((r) => r.path === 'gather->aggregate');
      const name = (x: { layer: number; head: number }) => `L${x.layer}H${x.head}`;
      const summary: CircuitsSummary = {
        step,
        pairs: pairs.length,
        gather: heads
          .filter((h) => h.gather)
          .map(name)
          .join(' '),
        aggregate: heads
          .filter((h) => h.aggregate)
          .map(name)
          .join(' '),
        atp_r:
          headRows.length >= 3
            ? pearson(
                headRows.map((r) => r.atp as number),
                headRows.map((r) => r.exact as number),
              )
            : NaN,
        eap_r:
          paths.length >= 3
            ? pearson(
                paths.map((p) => p.attribution!),
                paths.map((p) => p.effect),
              )
            : NaN,
        ga_paths: ga.length,
        ga_significant: ga.filter(significantPath).length,
        ga_effect: ga.length ? Math.max(...ga.map((r) => Number(r.effect))) : NaN,
        tests: done.length,
        significant: done.filter(significantPath).length,
        seconds: (Date.now() - t0) / 1000,
      };
      await upsert(run, 'analysis/circuit_summary', step, [summary as unknown as Record<string, unknown>]);
      out.push(summary);
    } finally {
      model.dispose();
    }
    progress({ task: 'circuits', step: k, total: steps.length, message: `step ${step}: done` });
  }
  progress({ task: 'circuits', step: steps.length, total: steps.length, done: true, message: 'done' });
  return out;
}
