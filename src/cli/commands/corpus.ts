/**
 * `groundlab corpus generate|import|stats`: make a corpus (synthetic child-directed speech,
 * caption-grounded or image-grounded dialogue), import CHILDES CHAT transcripts, and print and save
 * a corpus's statistics (size, vocabulary, per-noun ENV / LAN / co-occurrence counts, the filter).
 */
import * as path from 'node:path';
import { GroundlabError } from '../../errors';
import { defineCommand, helpText, type Command, type CommandSpec } from '../args';
import { atomicWrite } from '../../io/atomic';
import {
  loadCorpus,
  prepareLoaded,
  writeCorpusFile,
  formatStats,
  episodeTokens,
  chatOptionsFromKnobs,
  readChatTree,
  chatEvalFrames,
  cdiNouns,
  type CorpusSpec,
  type CorpusStats,
  type LoadedCorpus,
} from '../../data';

function keyValues(items: string[] | undefined, flag: string): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new GroundlabError('BAD_ARGUMENT', `--${flag} "${item}": expected key=value`, {
        hint: `e.g. --${flag} pUnnamed=0.3,distractors=2`,
      });
    const k = item.slice(0, eq).trim();
    const v = item.slice(eq + 1).trim();
    out[k] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

/** Per-noun statistics as CSV. */
export function statsCsv(st: CorpusStats): string {
  const lines = ['noun,env,lan,cooc,envFollowed,pass'];
  for (const n of st.nouns) lines.push(`${n.noun},${n.env},${n.lan},${n.cooc},${n.envFollowed},${n.pass}`);
  return lines.join('\n') + '\n';
}

/** Save stats as <base>.stats.json and <base>.stats.csv; returns the paths. */
async function saveStats(base: string, st: CorpusStats, spec: CorpusSpec): Promise<string[]> {
  const json = `${base}.stats.json`;
  const csv = `${base}.stats.csv`;
  await atomicWrite(json, JSON.stringify({ spec, ...st }, null, 1) + '\n');
  await atomicWrite(csv, statsCsv(st));
  return [json, csv];
}

function show(c: LoadedCorpus, n: number): void {
  for (const ep of c.episodes.slice(0, n)) process.stdout.write(`${ep.id}: ${episodeTokens(ep).join(' ')}\n`);
  if (n > 0) process.stdout.write('\n');
}

const common: CommandSpec['options'] = {
  'seq-len': { type: 'int', default: 64, help: 'tokens per training row (for the row count in the report)' },
  window: { type: 'int', default: 64, help: 'co-occurrence window in tokens' },
  'min-count': { type: 'int', default: 100, help: "the filter: a noun needs this many ENV and LAN occurrences (the paper's 100)" },
  'per-noun': { type: 'boolean', help: 'print the per-noun table' },
  show: { type: 'int', default: 0, help: 'print the first N episodes as token text' },
  'shared-vocab': { type: 'boolean', help: 'w<ENV> and w<LAN> share one token id (vocabulary size in the report)' },
};

const generateSpec: CommandSpec = {
  name: 'corpus generate',
  summary: 'Generate a synthetic corpus, print its statistics, and save it (JSONL) with its statistics (JSON, CSV).',
  options: {
    kind: {
      type: 'string',
      choices: ['synthetic', 'caption', 'image'],
      default: 'synthetic',
      help: 'child-directed speech | caption-grounded | image-grounded dialogue',
    },
    setting: { type: 'string', default: 'simple', help: 'named setting: simple | realistic (docs/data.md)' },
    seed: { type: 'int', default: 0, help: 'generator seed (the same seed gives a byte-identical corpus)' },
    knob: { type: 'list', help: 'knob overrides, key=value,... (e.g. pUnnamed=0.3,distractors=2)' },
    out: { type: 'string', help: 'corpus file to write (.jsonl); stats go beside it as <out>.stats.json/.csv' },
    ...common,
  },
  examples: [
    'groundlab corpus generate --setting simple --show 3',
    'groundlab corpus generate --setting realistic --knob pUnnamed=0.4 --out corpora/noisy.jsonl',
    'groundlab corpus generate --kind image --setting simple --out corpora/image.jsonl',
  ],
};

const importSpec: CommandSpec = {
  name: 'corpus import',
  summary: 'Read a folder tree of CHILDES CHAT transcripts (.cha), print statistics, save the corpus (JSONL) and its statistics.',
  positionals: [{ name: 'path', help: 'a folder (searched recursively for .cha files) or one .cha file' }],
  options: {
    out: { type: 'string', help: 'corpus file to write (.jsonl); stats go beside it' },
    option: {
      type: 'list',
      help: 'reader options key=value,...: retracing=drop|keep, replacements=replacement|original, untranscribed=drop|keep, events=env|drop|keep, fillers, fragments=drop|keep, incomplete=complete|spoken, specialForms=strip|drop, unscoped=before|during|after, participantsInEnv=role|code, plurals, lowercase, situationHeader=true|false, tier.act|sit|gpx|com|exp=situation|events|drop',
    },
    'skip-bad': { type: 'boolean', help: 'skip malformed files with a warning instead of stopping at the first' },
    ...common,
  },
  examples: [
    'groundlab corpus import ~/childes/Eng-NA/Brown --out corpora/brown.jsonl',
    'groundlab corpus import transcripts/ --skip-bad --option retracing=keep,tier.com=situation',
  ],
};

const statsSpec: CommandSpec = {
  name: 'corpus stats',
  summary: 'Print (and with --save, save) the statistics of a corpus: a saved file, a CHAT folder, or a generator setting.',
  positionals: [
    { name: 'path', help: 'a corpus file (.jsonl) or a folder of .cha files; omit to describe a generator setting', optional: true },
  ],
  options: {
    kind: { type: 'string', choices: ['synthetic', 'caption', 'image'], default: 'synthetic', help: 'generator, when no path is given' },
    setting: { type: 'string', default: 'simple', help: 'named setting, when no path is given' },
    seed: { type: 'int', default: 0, help: 'generator seed, when no path is given' },
    knob: { type: 'list', help: 'knob overrides key=value,..., when no path is given' },
    save: { type: 'string', help: 'save statistics as <save>.stats.json and <save>.stats.csv' },
    json: { type: 'boolean', help: 'print the statistics as JSON' },
    ...common,
  },
  examples: [
    'groundlab corpus stats --setting realistic --per-noun',
    'groundlab corpus stats corpora/brown.jsonl',
    'groundlab corpus stats --kind caption --setting realistic --save out/caption',
  ],
};

type Opts = Record<string, string | number | boolean | string[] | undefined>;

function report(spec: CorpusSpec, c: LoadedCorpus, o: Opts): CorpusStats {
  const d = prepareLoaded({ ...spec, sharedVocab: !!o['shared-vocab'] }, c, {
    seqLen: o['seq-len'] as number,
    window: o.window as number,
    minCount: o['min-count'] as number,
  });
  show(c, o.show as number);
  if (o.json) process.stdout.write(JSON.stringify({ spec, ...d.stats }, null, 1) + '\n');
  else {
    process.stdout.write(formatStats(d.stats, { perNoun: !!o['per-noun'] }) + '\n');
    process.stdout.write(
      `training rows of ${d.train.seqLen} tokens: ${d.train.size}; evaluation frames: ${d.evalFrames.length}; feature dim: ${d.featureDim}\n`,
    );
  }
  return d.stats;
}

function checkCounts(o: Opts): void {
  for (const k of ['seq-len', 'window', 'min-count'] as const)
    if ((o[k] as number) < 1) throw new GroundlabError('BAD_ARGUMENT', `--${k} must be >= 1`);
  if ((o.show as number) < 0) throw new GroundlabError('BAD_ARGUMENT', '--show must be >= 0');
}

/** Write a corpus file and its statistics next to it (both atomically). */
async function saveCorpus(out: string, spec: CorpusSpec, c: LoadedCorpus, st: Parameters<typeof saveStats>[1]): Promise<void> {
  await writeCorpusFile(out, { spec, ...c });
  const saved = await saveStats(out.replace(/\.jsonl$/, ''), st, spec);
  process.stderr.write(`wrote ${out}, ${saved.join(', ')}\n`);
}

const generate = defineCommand(generateSpec, async ({ options: o }) => {
  checkCounts(o);
  const spec: CorpusSpec = { kind: o.kind as CorpusSpec['kind'], setting: o.setting as string, seed: o.seed as number };
  if (o.knob) spec.knobs = keyValues(o.knob as string[], 'knob');
  const t0 = performance.now();
  const c = await loadCorpus(spec);
  const ms = performance.now() - t0;
  const st = report(spec, c, o);
  process.stderr.write(`generated in ${(ms / 1000).toFixed(2)} s\n`);
  if (o.out) await saveCorpus(o.out as string, spec, c, st);
  return 0;
});

const importCmd = defineCommand(importSpec, async ({ positionals, options: o }) => {
  checkCounts(o);
  const root = path.resolve(positionals[0]);
  const knobs = keyValues(o.option as string[] | undefined, 'option');
  if (o['skip-bad']) knobs.onError = 'skip';
  const opts = chatOptionsFromKnobs(knobs);
  const nouns = cdiNouns().map((n) => n.noun);
  const t0 = performance.now();
  const r = readChatTree(root, { ...opts, nouns, warn: (w) => process.stderr.write(`warning: ${w.message}\n`) });
  const s = (performance.now() - t0) / 1000;
  process.stderr.write(
    `read ${r.files - r.skipped} of ${r.files} transcripts in ${s.toFixed(2)} s${r.skipped ? ` (${r.skipped} skipped)` : ''}\n`,
  );
  const spec: CorpusSpec = { kind: 'chat', path: root, knobs };
  const c: LoadedCorpus = { episodes: r.episodes, nouns, evalFrames: chatEvalFrames(r.episodes), featureDim: 0 };
  const st = report(spec, c, o);
  if (o.out) await saveCorpus(o.out as string, spec, c, st);
  return 0;
});

const stats = defineCommand(statsSpec, async ({ positionals, options: o }) => {
  checkCounts(o);
  let spec: CorpusSpec;
  if (positionals[0]) {
    const p = path.resolve(positionals[0]);
    const isCha = p.toLowerCase().endsWith('.cha');
    const fs = await import('node:fs');
    let dir = false;
    try {
      dir = fs.statSync(p).isDirectory();
    } catch (e) {
      throw new GroundlabError('NOT_FOUND', `no such file or folder: ${positionals[0]}`, { cause: e });
    }
    spec = dir || isCha ? { kind: 'chat', path: p } : { kind: 'file', path: p };
  } else {
    spec = { kind: o.kind as CorpusSpec['kind'], setting: o.setting as string, seed: o.seed as number };
    if (o.knob) spec.knobs = keyValues(o.knob as string[], 'knob');
  }
  const c = await loadCorpus(spec);
  const st = report(spec, c, o);
  if (o.save) {
    const saved = await saveStats(o.save as string, st, spec);
    process.stderr.write(`wrote ${saved.join(', ')}\n`);
  }
  return 0;
});

const SUB: Record<string, { cmd: Command; spec: CommandSpec }> = {
  generate: { cmd: generate, spec: generateSpec },
  import: { cmd: importCmd, spec: importSpec },
  stats: { cmd: stats, spec: statsSpec },
};

function usage(): string {
  return [
    'usage: groundlab corpus <generate|import|stats> [options]',
    '',
    'Generate, import and describe corpora.',
    '',
    'subcommands:',
    ...Object.entries(SUB).map(([k, v]) => `  ${k.padEnd(9)} ${v.spec.summary}`),
    '',
    'groundlab corpus <subcommand> --help shows its options.',
  ].join('\n');
}

export const command: Command = {
  async run(argv: string[]) {
    const [sub, ...rest] = argv;
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(usage() + '\n');
      return sub ? 0 : 2;
    }
    const s = SUB[sub];
    if (!s)
      throw new GroundlabError('BAD_ARGUMENT', `unknown subcommand "corpus ${sub}"`, {
        hint: 'use generate, import or stats; see `groundlab corpus --help`',
      });
    return s.cmd.run(rest);
  },
};

/** The help texts (for docs and tests). */
export function corpusHelp(sub?: string): string {
  return sub && SUB[sub] ? helpText(SUB[sub].spec) : usage();
}
