/**
 * `circuitsRun`: the circuit-tracing measures of a run, per checkpoint, as tables in the run
 * directory (every table has a `step` column; a step already there is skipped unless `force`):
 *   analysis/circuit_paths    per sender -> receiver path: exact path-patching effect, recovery, edge attribution
 *   analysis/circuit_heads    per head: attribution patching vs exact activation patching of its output (all positions)
 *   analysis/circuit_dla      per residual term: direct contribution to the v<LAN> logit, match / mismatch / difference
 *   analysis/circuit_summary  per step: gather and aggregate heads, r(AtP, exact) over heads, r(EAP, exact) over
 *                             paths, and the gather -> aggregate path test against control paths
 * Prompt pairs: each match context of the run's evaluation set with its first mismatch (as for
 * `patching`); gather / aggregate heads from `analysis/heads` (computed by `analyzeRun` if missing).
 */
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import { evalSequences } from '../eval/evalset';
import { mean, pearson } from '../metrics/stats';
import { analyzeRun, runEvalSet, type AnalysisRun, type AnalyzeOptions, type ProgressLike } from './analyze';
import { activationPatching } from './patching';
import { attributionPatching } from './attribution';
import { pathPatching, pathTest } from './pathpatch';
import { directLogitAttribution, dlaByCondition } from './dla';

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
  /** Gather -> aggregate (q, k, v) paths tested; 0 when no gather head precedes an aggregate head. */
  ga_paths: number;
  ga_effect: number;
  ga_control: number;
  ga_p_t: number;
  ga_p_wilcoxon: number;
  ga_dz: number;
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
  const match = seqs.filter((s) => s.condition === 'match');
  const n = Math.min(opts.pairs ?? match.length, match.length);
  if (!(n >= 2)) throw new GroundlabError('BAD_ARGUMENT', `circuit tracing needs at least 2 prompt pairs (got ${n})`);
  const every = match.length / n;
  const picked = Array.from({ length: n }, (_, i) => match[Math.floor(i * every)]);
  const pairs = picked.map((q) => ({
    clean: q.ids,
    corrupted: seqs.find((r) => r.item === q.item && r.condition === 'mismatch')!.ids,
    target: q.target,
    marks: { env: q.envPos },
  }));
  const items = new Set(picked.map((q) => q.item));
  const dlaSeqs = seqs.filter((s) => items.has(s.item));
  const padId = run.tokenizer.token(run.tokenizer.id('<pad>')) === '<pad>' ? run.tokenizer.id('<pad>') : 0;
  const po = { batchSize: opts.batchSize ?? 32, padId, signal: opts.signal };
  const stored = new Set((await rows(run, 'analysis/circuit_summary')).map((r) => Number(r.step)));
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
    let heads = (await rows(run, 'analysis/heads')).filter((r) => Number(r.step) === step);
    if (!heads.length) {
      say('gather and aggregate heads');
      await analyzeRun(run, { only: ['heads'], checkpoints: [step], heads: opts.heads, batchSize: opts.batchSize, signal: opts.signal });
      heads = (await rows(run, 'analysis/heads')).filter((r) => Number(r.step) === step);
    }
    const gather = heads.filter((h) => h.gather).map((h) => ({ layer: Number(h.layer), head: Number(h.head) }));
    const aggregate = heads.filter((h) => h.aggregate).map((h) => ({ layer: Number(h.layer), head: Number(h.head) }));
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
      let ga: Pick<CircuitsSummary, 'ga_paths' | 'ga_effect' | 'ga_control' | 'ga_p_t' | 'ga_p_wilcoxon' | 'ga_dz'> = {
        ga_paths: 0,
        ga_effect: NaN,
        ga_control: NaN,
        ga_p_t: NaN,
        ga_p_wilcoxon: NaN,
        ga_dz: NaN,
      };
      const recv = aggregate.filter((a) => gather.some((g) => g.layer < a.layer));
      const send = gather.filter((g) => recv.some((a) => g.layer < a.layer));
      if (send.length && recv.length && model.hookPoints().includes(`blocks.${recv[0].layer}.attn.hook_v`)) {
        say('gather -> aggregate path test');
        const t = await pathTest(
          model,
          pairs,
          send.map((g) => `L${g.layer}H${g.head}`),
          recv,
          po,
        );
        ga = {
          ga_paths: t.tested.length,
          ga_effect: mean(t.effect),
          ga_control: mean(t.control),
          ga_p_t: t.test.pT,
          ga_p_wilcoxon: t.test.pWilcoxon,
          ga_dz: t.test.cohenDz,
        };
      }
      const name = (x: { layer: number; head: number }) => `L${x.layer}H${x.head}`;
      const summary: CircuitsSummary = {
        step,
        pairs: pairs.length,
        gather: gather.map(name).join(' '),
        aggregate: aggregate.map(name).join(' '),
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
        ...ga,
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
