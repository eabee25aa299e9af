import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../../errors';
import type { LanguageModel } from '../../models/types';
import { groundingGain, summarizeGain, surprisalRecords } from '../../metrics/gain';
import { writeSafetensors, readSafetensors, tensorsToWrite } from '../../io/safetensors';
import { lensSurprisal, collectStates, trainTunedLens, leastSquaresLens, lensTensors, type TunedLens } from '../lens';
import type { AnalysisRun, AnalyzeOptions } from '../analyze';
import { textTable } from '../table';
import { defineAnalysis, type Row, type StepContext } from './context';

export const lensFileName = (step: number) => `lens/tuned-step-${String(step).padStart(6, '0')}.safetensors`;

/** Train (or load, when saved) the tuned lens of a checkpoint. */
async function runTunedLens(
  run: AnalysisRun,
  m: LanguageModel,
  step: number,
  opts: AnalyzeOptions,
  say: (w: string) => void,
): Promise<TunedLens & { kl: number[] }> {
  const file = path.join(run.dir, lensFileName(step));
  const L = m.config.nLayers;
  const D = m.config.dModel;
  if (fs.existsSync(file) && !opts.force) {
    const c = await readSafetensors(file);
    const weights: tf.Variable[] = [];
    const biases: tf.Variable[] = [];
    for (let l = 0; l < L; l++) {
      const w = c.tensors.get(`translator.${l}.weight`);
      const b = c.tensors.get(`translator.${l}.bias`);
      if (!w || !b || w.shape[0] !== D)
        throw new GroundlabError('CORRUPT_CHECKPOINT', `tuned lens does not fit the model (layer ${l})`, {
          file,
          hint: 'delete the file to retrain it',
        });
      weights.push(tf.variable(tf.tensor2d(w.data as Float32Array, [D, D])));
      biases.push(tf.variable(tf.tensor1d(b.data as Float32Array)));
    }
    const kl = c.metadata.kl ? (JSON.parse(c.metadata.kl) as number[]) : [];
    return { weights, biases, kl, dispose: () => [...weights, ...biases].forEach((v) => v.dispose()) };
  }
  say('tuned lens');
  const data = await run.data();
  const train = data.train;
  const nRows = Math.min(opts.tunedLens?.rows ?? 32, train.size);
  const T = Math.min(train.seqLen, m.config.contextLength);
  const rows = Array.from({ length: nRows }, (_, i) => train.row(Math.floor((i * train.size) / nRows)).slice(0, T));
  const states = collectStates(m, rows);
  try {
    const init = await leastSquaresLens(states.states);
    const { lens, kl } = await trainTunedLens(m, states, { ...opts.tunedLens, init, signal: opts.signal });
    await writeSafetensors(file, await tensorsToWrite(lensTensors(lens)), { step: String(step), kl: JSON.stringify(kl) });
    return { ...lens, kl };
  } finally {
    states.states.forEach((t) => t.dispose());
    states.finalLogProbs.dispose();
  }
}

/** One pass of the lenses at this checkpoint: the logit lens, and the tuned lens when it is missing (both write analysis/lens). */
function lensPass(ctx: StepContext): Promise<void> {
  return ctx.once('lens', async () => {
    const { step, run, opts, seqs } = ctx;
    const m = await ctx.model();
    let tuned: (TunedLens & { kl: number[] }) | undefined;
    ctx.tick('other');
    if (ctx.missing.has('tuned_lens')) tuned = await runTunedLens(run, m, step, opts, ctx.say);
    ctx.tick('tuned_lens');
    ctx.say('lens');
    const lensRows = await lensSurprisal(m, seqs, { tuned, batchSize: ctx.bs, padId: ctx.padId, signal: opts.signal });
    tuned?.dispose();
    ctx.tick('lens');
    const rows: Row[] = [];
    for (const lr of lensRows) {
      const g = summarizeGain(groundingGain(surprisalRecords(seqs, lr.surprisal)));
      const kl = lr.lens === 'tuned' ? (tuned?.kl[lr.layer] ?? (lr.layer === lensRows.length / 2 - 1 ? 0 : NaN)) : NaN;
      rows.push({
        step,
        lens: lr.lens,
        layer: lr.layer,
        match: g.matchSurprisal,
        mismatch: g.mismatchSurprisal,
        gain: g.gain.mean,
        gain_lo: g.gain.lo,
        gain_hi: g.gain.hi,
        kl_to_final: kl,
      });
    }
    const others = (await ctx.readRows('analysis/lens')).filter((r) => Number(r.step) === step && !rows.some((x) => x.lens === r.lens));
    await ctx.upsert('analysis/lens', [...others, ...rows]);
    if (ctx.missing.has('lens')) ctx.note('lens');
    if (tuned) ctx.note('tuned_lens');
  });
}

const LENS_COLUMNS = ['step', 'lens', 'layer', 'match', 'mismatch', 'gain', 'gain_lo', 'gain_hi', 'kl_to_final'] as const;

export const lens = defineAnalysis({
  name: 'lens',
  depends: [],
  table: 'analysis/lens',
  doneRows: (rows) => rows.filter((r) => r.lens === 'logit'),
  writes: { 'analysis/lens': LENS_COLUMNS },
  image: false,
  compute: lensPass,
  /** Both lenses (the tuned lens has no section of its own). */
  async report(read) {
    const lens = await read('analysis/lens');
    if (!lens.length) return [];
    return [
      'lens: layer-wise surprisal of v<LAN> (layer 0 = embeddings)',
      textTable(lens, [
        ['step', 'step'],
        ['lens', 'lens'],
        ['layer', 'layer'],
        ['match', 'match s'],
        ['mismatch', 'mismatch s'],
        ['gain', 'G'],
      ]),
    ];
  },
});

export const tunedLens = defineAnalysis({
  name: 'tuned_lens',
  depends: [],
  table: 'analysis/lens',
  doneRows: (rows) => rows.filter((r) => r.lens === 'tuned'),
  writes: { 'analysis/lens': LENS_COLUMNS, 'lens/tuned-step-XXXXXX.safetensors': ['translator.{l}.weight', 'translator.{l}.bias'] },
  image: false,
  compute: lensPass,
});
