import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers';
import { readSafetensors } from '../../src/io/safetensors';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-export-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('groundlab export writes a GPT-2 folder; bad runs, steps and formats give clear errors', async () => {
  const run = path.join(root, 't');
  assert.equal((await runCli(['train', '--arch', 'transformer', '--preset', 'tiny', '--steps', '3', '--out', run, '--quiet'])).code, 0);
  const help = await runCli(['export', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--format <hf-gpt2>/);

  const out = path.join(root, 'gpt2');
  const r = await runCli(['export', '--format', 'hf-gpt2', run, '--step', '2', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /GPT2LMHeadModel\.from_pretrained/);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'gpt2');
  assert.equal(cfg.groundlab.step, 2);
  const st = await readSafetensors(path.join(out, 'model.safetensors'));
  const ck = await readSafetensors(path.join(run, 'checkpoints', 'step-000002', 'model.safetensors'));
  assert.deepEqual(st.tensors.get('transformer.h.0.attn.c_attn.weight')!.data, ck.tensors.get('transformer.h.0.attn.c_attn.weight')!.data);

  const fail = async (argv: string[], re: RegExp) => {
    const x = await runCli(argv);
    assert.equal(x.code, 1, argv.join(' '));
    assert.match(x.stderr, re, argv.join(' '));
  };
  await fail(['export'], /missing argument <run>/);
  await fail(['export', '--format', 'onnx', run], /expected one of hf-gpt2/);
  await fail(['export', path.join(root, 'none')], /NOT_FOUND.*does not exist/);
  await fail(['export', run, '--step', '7'], /no checkpoint at step 7[\s\S]*available steps: 0, 1, 2, 3/);
  const weights = path.join(run, 'checkpoints', 'step-000003', 'model.safetensors');
  fs.writeFileSync(weights, fs.readFileSync(weights).subarray(0, 64));
  await fail(['export', run], new RegExp(`CORRUPT_CHECKPOINT.*${weights.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const lstm = path.join(root, 'l');
  assert.equal((await runCli(['train', '--arch', 'lstm', '--preset', 'tiny', '--steps', '1', '--out', lstm, '--quiet'])).code, 0);
  await fail(['export', lstm], /UNSUPPORTED.*only Transformer runs/);
});
