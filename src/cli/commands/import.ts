/**
 * `groundlab import --format hf-gpt2 DIR --out RUN`: a Hugging Face GPT-2 folder as a run
 * directory (one checkpoint) that eval, analyze, probe, circuits and the widgets read.
 */
import * as path from 'node:path';
import { GroundlabError } from '../../errors';
import { defineCommand, type Command } from '../args';
import { importHfGpt2, DEFAULT_IMPORT_CORPUS } from '../../io/hf-import';
import { PRESET_NAMES, type PresetName } from '../../train/presets';
import { initEngine } from '../../engine/backend';
import { parseKeyValues } from './train';
import type { CorpusSpec } from '../../data/types';

export const command: Command = defineCommand(
  {
    name: 'import',
    summary: 'Import a Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer.json) as a run directory with one checkpoint.',
    positionals: [{ name: 'dir', help: 'the folder save_pretrained wrote (or groundlab export)' }],
    options: {
      format: { type: 'string', choices: ['hf-gpt2'], default: 'hf-gpt2', help: 'input format' },
      out: { type: 'string', help: 'the run directory to create (a new or empty folder; required)' },
      corpus: { type: 'string', help: "evaluation corpus setting: simple | realistic (default: the export's corpus, else simple)" },
      'corpus-kind': {
        type: 'string',
        choices: ['synthetic', 'caption', 'chat', 'file'],
        help: 'evaluation corpus source (default synthetic)',
      },
      'corpus-path': { type: 'string', help: 'folder or file for --corpus-kind chat | file' },
      'corpus-seed': { type: 'int', help: 'seed of the corpus generator (default 0)' },
      knob: { type: 'list', help: 'corpus generator knob overrides, key=value,...' },
      preset: { type: 'string', choices: [...PRESET_NAMES], help: 'evaluation-side settings (tokens per row, ...); default quick' },
      step: { type: 'int', help: 'step number of the checkpoint (default 0, or the exported step)' },
    },
    examples: [
      'groundlab import --format hf-gpt2 ~/models/my-gpt2 --out runs/my-gpt2',
      'groundlab import /tmp/gpt2 --out runs/t-back --corpus realistic',
    ],
  },
  async ({ positionals, options: o }) => {
    if (o.out === undefined)
      throw new GroundlabError('BAD_ARGUMENT', '--out is required: the run directory to create', {
        hint: `e.g. groundlab import ${positionals[0] ?? 'DIR'} --out runs/imported`,
      });
    await initEngine();
    let corpus: CorpusSpec | undefined;
    if (['corpus', 'corpus-kind', 'corpus-path', 'corpus-seed', 'knob'].some((k) => o[k] !== undefined)) {
      corpus = { ...DEFAULT_IMPORT_CORPUS };
      if (o.corpus !== undefined) corpus.setting = o.corpus as string;
      if (o['corpus-kind'] !== undefined) corpus.kind = o['corpus-kind'] as CorpusSpec['kind'];
      if (corpus.kind === 'chat' || corpus.kind === 'file') delete corpus.setting;
      if (o['corpus-path'] !== undefined) corpus.path = path.resolve(o['corpus-path'] as string);
      if (o['corpus-seed'] !== undefined) corpus.seed = o['corpus-seed'] as number;
      if (o.knob !== undefined) corpus.knobs = parseKeyValues(o.knob as string[], 'knob');
    }
    const r = await importHfGpt2(positionals[0], {
      out: o.out as string,
      corpus,
      preset: o.preset as PresetName | undefined,
      step: o.step as number | undefined,
    });
    const c = r.corpus;
    const lines = [
      `run        ${r.dir}`,
      `checkpoint step ${r.step}`,
      `tokenizer  ${r.tokenizer}`,
      `corpus     ${c.kind}${c.setting ? ` ${c.setting}` : ''}${c.path ? ` ${c.path}` : ''} (the evaluation corpus)`,
    ];
    if (r.missing.length)
      lines.push(
        `warning    ${r.missing.length} words of the evaluation corpus are not one token of this model (${r.missing.slice(0, 8).join(', ')}${r.missing.length > 8 ? ', ...' : ''}):`,
        '           eval, analyze and probe will refuse the run until they are (add them as tokens and fine-tune, see docs/analysis.md)',
      );
    else lines.push(`next       groundlab eval ${r.dir}; groundlab analyze ${r.dir}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
);
