/**
 * `groundlab export --format hf-gpt2 <run> [--step N] [--out DIR]`: write a checkpoint in another
 * tool's format (a Hugging Face GPT-2 folder, loadable with transformers' GPT2LMHeadModel).
 */
import { defineCommand, type Command } from '../args';
import { exportHfGpt2 } from '../../io/hf-gpt2';
import { openRun } from '../../train/run';
import { initEngine } from '../../engine/backend';

export const command: Command = defineCommand(
  {
    name: 'export',
    summary: 'Export a checkpoint of a run, e.g. as a Hugging Face GPT-2 folder (config.json + model.safetensors).',
    positionals: [{ name: 'run', help: 'run directory' }],
    options: {
      format: { type: 'string', choices: ['hf-gpt2'], default: 'hf-gpt2', help: 'output format' },
      step: { type: 'int', help: 'checkpoint step (default: the last)' },
      out: { type: 'string', help: 'output folder (default: <run>/export/hf-gpt2-step-NNNNNN)' },
    },
    examples: ['groundlab export --format hf-gpt2 runs/transformer-quick-s0', 'groundlab export runs/t --step 500 --out /tmp/gpt2-step500'],
  },
  async ({ positionals, options }) => {
    await initEngine();
    const run = await openRun(positionals[0]);
    const out = await exportHfGpt2(run, { step: options.step as number | undefined, out: options.out as string | undefined });
    process.stdout.write(
      `wrote ${out}\n  config.json, model.safetensors (GPT-2 tensor names), tokenizer.json (+ tokenizer_config.json, special_tokens_map.json), vocab.json, groundlab_tokenizer.json\n` +
        `  python: GPT2LMHeadModel.from_pretrained(${JSON.stringify(out)}), AutoTokenizer.from_pretrained(${JSON.stringify(out)})\n`,
    );
    return 0;
  },
);
