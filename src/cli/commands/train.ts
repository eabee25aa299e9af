/**
 * `groundlab train`: train a Transformer, Mamba-2 or LSTM from random initialisation into a run
 * directory. Running the same command again resumes the run from its last checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../../errors';
import { defineCommand, type Command } from '../args';
import {
  sigintAbort,
  terminalProgress,
  train,
  formatDuration,
  TRAIN_PRESETS,
  PRESET_NAMES,
  type TrainOptions,
  type PresetName,
} from '../../train';
import { readJSONFile, validateRunConfig } from '../../train/run';
import { MAX_STEPS } from '../../train/presets';
import { knownArchs } from '../../train/deps';
import type { Arch } from '../../models/types';
import type { CorpusSpec } from '../../data/types';

/** "a=1,b=true,c=x" -> { a: 1, b: true, c: "x" } (numbers and booleans parsed). */
export function parseKeyValues(items: string[] | undefined, flag: string): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new GroundlabError('BAD_ARGUMENT', `--${flag} "${item}": expected key=value`, { hint: `e.g. --${flag} nLayers=4,dModel=64` });
    const k = item.slice(0, eq).trim();
    const v = item.slice(eq + 1).trim();
    out[k] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

/** "runs/a" -> { run: "runs/a" }; "runs/a@1500" -> { run: "runs/a", step: 1500 }. */
export function parseInitFrom(v: string): { run: string; step?: number } {
  const m = /^(.+)@(\d+)$/.exec(v);
  if (!v.trim() || v.endsWith('@'))
    throw new GroundlabError('BAD_ARGUMENT', `--init-from "${v}": expected a run folder, optionally with @<step>`, {
      hint: 'e.g. --init-from runs/ent-g4 or --init-from runs/ent-g4@3000',
    });
  return m ? { run: m[1], step: Number(m[2]) } : { run: v };
}

const presetHelp = PRESET_NAMES.map((p) => `${p}: ${TRAIN_PRESETS[p].train.steps} steps`).join(', ') + ' (sizes: docs/train.md)';

export const command: Command = defineCommand(
  {
    name: 'train',
    summary: 'Train a model from random initialisation into a run directory (the same command resumes it).',
    options: {
      arch: {
        type: 'string',
        choices: [...knownArchs()],
        help: "architecture (default: transformer, or the resumed run's); variants are --model switches (docs/models.md)",
      },
      preset: {
        type: 'string',
        choices: [...PRESET_NAMES],
        help: `model and training preset (default: tiny, or the resumed run's); ${presetHelp}`,
      },
      seed: { type: 'int', help: "seed of the initialisation and the data order (default: 0, or the resumed run's)" },
      steps: { type: 'int', help: "optimisation steps (default: the preset's)" },
      out: { type: 'string', help: 'run directory (default: runs/<arch>-<preset>-s<seed>)' },
      corpus: { type: 'string', help: "synthetic corpus setting: simple | realistic (default: the preset's)" },
      'corpus-kind': {
        type: 'string',
        choices: ['synthetic', 'caption', 'image', 'chat', 'file', 'counting', 'binding'],
        help: 'corpus source (default synthetic; counting: the counting tasks, --knob task=multi|single|same; binding: scene binding, --knob maxObjects=6)',
      },
      'corpus-path': { type: 'string', help: 'folder or file for --corpus-kind chat | file' },
      'corpus-seed': { type: 'int', help: 'seed of the corpus generator (default 0: every training seed sees the same corpus)' },
      knob: { type: 'list', help: 'corpus generator knob overrides, key=value,...' },
      'shared-vocab': { type: 'boolean', help: "w<ENV> and w<LAN> share one token id (the paper's open check 3)" },
      model: {
        type: 'list',
        help: 'model config overrides, key=value,... (e.g. nLayers=4,dModel=64; per-layer switches with / between layers: mixing=none/softmax)',
      },
      'batch-size': { type: 'int', help: 'rows per batch' },
      'seq-len': { type: 'int', help: 'tokens per row' },
      lr: { type: 'number', help: 'peak learning rate' },
      warmup: { type: 'int', help: 'warm-up steps' },
      decay: { type: 'string', choices: ['cosine', 'linear', 'constant'], help: 'learning-rate decay after warm-up' },
      'weight-decay': { type: 'number', help: 'AdamW decoupled weight decay (matrices only)' },
      clip: { type: 'number', help: 'clip gradients to this global norm (0 = off)' },
      'init-from': {
        type: 'string',
        help: "start a new run from another run's weights, <run>[@<step>] (default its last checkpoint): a curriculum or fine-tuning; same architecture, sizes and vocabulary",
      },
      'no-resume': { type: 'boolean', help: 'fail instead of resuming when --out already holds a run' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: [
      'groundlab train --arch transformer --preset tiny --out runs/t-tiny',
      'groundlab train --arch lstm --preset quick --seed 2 --model residual=true',
      'groundlab train --arch mamba2 --preset quick --corpus realistic --steps 3000',
      'groundlab train --preset quick --corpus realistic --init-from runs/transformer-quick-s0 --out runs/t-curriculum',
    ],
  },
  async ({ options: o }) => {
    // Resuming `--out DIR` needs no other flag: arch, preset and seed default to the run's own.
    let stored: { arch?: Arch; preset?: PresetName; seed?: number } = {};
    const cfgFile = o.out !== undefined ? path.join(o.out as string, 'config.json') : undefined;
    if (cfgFile && fs.existsSync(cfgFile)) stored = validateRunConfig(await readJSONFile(cfgFile, 'run config'), cfgFile);
    const arch = (o.arch as Arch | undefined) ?? stored.arch ?? 'transformer';
    const preset = (o.preset as PresetName | undefined) ?? stored.preset ?? 'tiny';
    const seed = (o.seed as number | undefined) ?? stored.seed ?? 0;
    if ((o.steps as number | undefined) !== undefined && ((o.steps as number) < 1 || (o.steps as number) > MAX_STEPS)) {
      throw new GroundlabError('BAD_ARGUMENT', `--steps must be from 1 to ${MAX_STEPS.toLocaleString('en-US')}, got ${o.steps}`, {
        hint: 'a run needs at least one step; its loss trace (one row per step) is kept in memory',
      });
    }
    for (const k of ['batch-size', 'seq-len'] as const)
      if (o[k] !== undefined && (o[k] as number) < 1) throw new GroundlabError('BAD_ARGUMENT', `--${k} must be >= 1`);
    const out = (o.out as string | undefined) ?? path.join('runs', `${arch}-${preset}-s${seed}`);
    const corpus: Partial<CorpusSpec> = {};
    if (o.corpus !== undefined) corpus.setting = o.corpus as string;
    if (o['corpus-kind'] !== undefined) corpus.kind = o['corpus-kind'] as CorpusSpec['kind'];
    if (o['corpus-path'] !== undefined) corpus.path = path.resolve(o['corpus-path'] as string);
    if (o['corpus-seed'] !== undefined) corpus.seed = o['corpus-seed'] as number;
    if (o.knob !== undefined) corpus.knobs = parseKeyValues(o.knob as string[], 'knob');
    if (o['shared-vocab']) corpus.sharedVocab = true;
    const trainOver: NonNullable<TrainOptions['train']> = {};
    if (o.warmup !== undefined) trainOver.warmupSteps = o.warmup as number;
    if (o.decay !== undefined) trainOver.decay = o.decay as 'cosine' | 'linear' | 'constant';
    if (o['weight-decay'] !== undefined) trainOver.weightDecay = o['weight-decay'] as number;
    if (o.clip !== undefined) trainOver.gradClip = o.clip as number;
    const abort = sigintAbort();
    const t0 = Date.now();
    try {
      const r = await train({
        out,
        arch,
        preset,
        seed,
        steps: o.steps as number | undefined,
        model: o.model ? parseKeyValues(o.model as string[], 'model') : undefined,
        corpus: Object.keys(corpus).length ? corpus : undefined,
        batchSize: o['batch-size'] as number | undefined,
        seqLen: o['seq-len'] as number | undefined,
        lr: o.lr as number | undefined,
        train: Object.keys(trainOver).length ? trainOver : undefined,
        initFrom: o['init-from'] !== undefined ? parseInitFrom(o['init-from'] as string) : undefined,
        resume: !o['no-resume'],
        signal: abort.signal,
        onProgress: o.quiet ? undefined : terminalProgress(),
      });
      const first = r.losses[0];
      const last = r.losses[r.losses.length - 1];
      const lines = [
        `run        ${r.dir}`,
        `status     ${r.status} at step ${r.step}/${r.steps}${r.resumedFrom !== undefined ? ` (resumed from step ${r.resumedFrom})` : ''}`,
        `loss       ${first !== undefined ? `${first.toFixed(4)} (step 1) -> ${last.toFixed(4)} (step ${r.losses.length})` : 'n/a'}`,
        `this run   ${r.sessionSteps} steps in ${formatDuration(r.wallSec)} (${r.wallSec.toFixed(1)} s), ${Math.round(r.tokensPerSec).toLocaleString('en-US')} tokens/s; total wall ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        `checkpoints ${r.checkpoints.length}: steps ${r.checkpoints.map((c) => c.step).join(', ')}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
      if (r.status === 'aborted') {
        process.stdout.write(`stopped; resume with the same command (--out ${out})\n`);
        return 130;
      }
      return 0;
    } finally {
      abort.dispose();
    }
  },
);
