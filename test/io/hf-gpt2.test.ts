import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { GroundlabError } from '../../src/errors';
import { train } from '../../src/train/trainer';
import { openRun } from '../../src/train/run';
import { exportHfGpt2, loadHfGpt2, hfToGroundlabName } from '../../src/io/hf-gpt2';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-hf-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * GPT-2 forward pass written from Hugging Face's GPT2LMHeadModel semantics in plain JS (float64),
 * independent of src/models: Conv1D y = x W + b with W [in, out]; c_attn output split into q, k, v
 * (D columns each), head h = columns [h Dh, (h+1) Dh) of each; causal softmax(q k^T / sqrt(Dh));
 * tanh GELU; pre-LN blocks; final LN; logits = h wte^T (tied) or h lm_head^T.
 */
function referenceGpt2(dir: string, tokens: number[]): Promise<number[][]> {
  return (async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const st = await readSafetensors(path.join(dir, 'model.safetensors'));
    const W = (n: string) => st.tensors.get(n)!.data as Float32Array;
    const D = cfg.n_embd;
    const H = cfg.n_head;
    const Dh = D / H;
    const T = tokens.length;
    const lin = (x: number[][], w: Float32Array, b: Float32Array, out: number) =>
      x.map((row) => {
        const y = Array.from(b);
        for (let i = 0; i < row.length; i++) for (let j = 0; j < out; j++) y[j] += row[i] * w[i * out + j];
        return y;
      });
    const ln = (x: number[][], w: Float32Array, b: Float32Array) =>
      x.map((row) => {
        const mu = row.reduce((a, c) => a + c, 0) / row.length;
        const v = row.reduce((a, c) => a + (c - mu) ** 2, 0) / row.length;
        return row.map((c, i) => ((c - mu) / Math.sqrt(v + cfg.layer_norm_epsilon)) * w[i] + b[i]);
      });
    const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    const wte = W('transformer.wte.weight');
    const wpe = W('transformer.wpe.weight');
    let h = tokens.map((t, p) => Array.from({ length: D }, (_, i) => wte[t * D + i] + wpe[p * D + i]));
    for (let l = 0; l < cfg.n_layer; l++) {
      const pre = `transformer.h.${l}`;
      const a = ln(h, W(`${pre}.ln_1.weight`), W(`${pre}.ln_1.bias`));
      const qkv = lin(a, W(`${pre}.attn.c_attn.weight`), W(`${pre}.attn.c_attn.bias`), 3 * D);
      const z = Array.from({ length: T }, () => new Array(D).fill(0));
      for (let hd = 0; hd < H; hd++) {
        for (let i = 0; i < T; i++) {
          const s: number[] = [];
          for (let j = 0; j <= i; j++) {
            let dot = 0;
            for (let e = 0; e < Dh; e++) dot += qkv[i][hd * Dh + e] * qkv[j][D + hd * Dh + e];
            s.push(dot / Math.sqrt(Dh));
          }
          const m = Math.max(...s);
          const p = s.map((x) => Math.exp(x - m));
          const sum = p.reduce((x, y) => x + y, 0);
          for (let j = 0; j <= i; j++) for (let e = 0; e < Dh; e++) z[i][hd * Dh + e] += (p[j] / sum) * qkv[j][2 * D + hd * Dh + e];
        }
      }
      const o = lin(z, W(`${pre}.attn.c_proj.weight`), W(`${pre}.attn.c_proj.bias`), D);
      h = h.map((r, i) => r.map((x, k) => x + o[i][k]));
      const m = ln(h, W(`${pre}.ln_2.weight`), W(`${pre}.ln_2.bias`));
      const f = lin(m, W(`${pre}.mlp.c_fc.weight`), W(`${pre}.mlp.c_fc.bias`), cfg.n_inner).map((r) => r.map(gelu));
      const o2 = lin(f, W(`${pre}.mlp.c_proj.weight`), W(`${pre}.mlp.c_proj.bias`), D);
      h = h.map((r, i) => r.map((x, k) => x + o2[i][k]));
    }
    h = ln(h, W('transformer.ln_f.weight'), W('transformer.ln_f.bias'));
    const head = cfg.tie_word_embeddings ? wte : W('lm_head.weight');
    return h.map((r) => Array.from({ length: cfg.vocab_size }, (_, v) => r.reduce((acc, x, i) => acc + x * head[v * D + i], 0)));
  })();
}

async function trainedRun(name: string, model?: Record<string, unknown>) {
  return train({ out: path.join(root, name), arch: 'transformer', preset: 'tiny', seed: 1, steps: 3, model });
}

for (const tied of [true, false]) {
  test(`export -> import round-trips weights and logits exactly (${tied ? 'tied' : 'untied'} embeddings); matches a reference GPT-2`, async () => {
    await initEngine({ log: false });
    const r = await trainedRun(tied ? 'tied' : 'untied', tied ? undefined : { tiedEmbeddings: false });
    const run = await openRun(r.dir);
    const out = await exportHfGpt2(run);
    assert.equal(out, path.join(r.dir, 'export', 'hf-gpt2-step-000003'));
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const m = run.config.model as Record<string, unknown>;
    assert.deepEqual(
      [cfg.model_type, cfg.architectures[0], cfg.vocab_size, cfg.n_positions, cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_inner, cfg.activation_function, cfg.tie_word_embeddings],
      ['gpt2', 'GPT2LMHeadModel', m.vocabSize, m.contextLength, m.dModel, m.nLayers, m.nHeads, m.dMlp, 'gelu_new', tied],
    );
    const st = await readSafetensors(path.join(out, 'model.safetensors'));
    assert.equal(st.tensors.has('lm_head.weight'), !tied);
    assert.ok(st.tensors.has('transformer.h.1.attn.c_attn.weight'));
    const vocab = JSON.parse(fs.readFileSync(path.join(out, 'vocab.json'), 'utf8'));
    assert.equal(Object.keys(vocab).length, run.tokenizer.vocabSize);

    const original = await run.loadModel();
    const imported = await loadHfGpt2(out);
    assert.deepEqual([...imported.params.keys()], [...original.params.keys()]);
    for (const [k, v] of original.params) assert.deepEqual(await imported.params.get(k)!.data(), await v.data(), k);
    const ids = run.tokenizer.encode(['<MOT>', ...Array.from({ length: 11 }, (_, i) => run.tokenizer.token((i * 7 + 3) % run.tokenizer.vocabSize))]);
    const x = tf.tensor2d([ids], [1, ids.length], 'int32');
    const a = original.forward(x);
    const b = imported.forward(x);
    assert.deepEqual(await b.data(), await a.data(), 'logits equal');
    const ref = await referenceGpt2(out, ids);
    const got = (await a.array())[0];
    let maxErr = 0;
    for (let t = 0; t < ids.length; t++) for (let v = 0; v < ref[t].length; v++) maxErr = Math.max(maxErr, Math.abs(got[t][v] - ref[t][v]));
    assert.ok(maxErr < 1e-4, `max |logit - reference| = ${maxErr}`);
    tf.dispose([x, a, b]);
    original.dispose();
    imported.dispose();
  });
}

test('import accepts GPT2Model-style names, mask buffers and extras; refuses shapes that do not fit', async () => {
  await initEngine({ log: false });
  const r = await trainedRun('bare');
  const out = await exportHfGpt2(r.dir, { out: path.join(root, 'bare-export') });
  const st = await readSafetensors(path.join(out, 'model.safetensors'));
  // rewrite as a GPT2Model file: no "transformer." prefix, plus causal-mask buffers
  const bare = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of st.tensors) bare.set(k.replace(/^transformer\./, ''), { shape: t.shape, data: t.data as Float32Array });
  bare.set('h.0.attn.bias', { shape: [1, 1, 2, 2], data: new Float32Array([1, 0, 1, 1]) });
  const bareDir = path.join(root, 'bare-gpt2model');
  fs.mkdirSync(bareDir);
  fs.copyFileSync(path.join(out, 'config.json'), path.join(bareDir, 'config.json'));
  await writeSafetensors(path.join(bareDir, 'model.safetensors'), bare);
  assert.equal(hfToGroundlabName('h.3.attn.bias'), undefined);
  assert.equal(hfToGroundlabName('h.3.attn.c_attn.bias'), 'transformer.h.3.attn.c_attn.bias');
  const m = await loadHfGpt2(bareDir);
  assert.deepEqual(await m.params.get('transformer.wte.weight')!.data(), st.tensors.get('transformer.wte.weight')!.data);
  m.dispose();
  // a tensor with the wrong shape: CORRUPT_CHECKPOINT naming the file and the tensor
  const wrong = new Map(bare);
  const w = bare.get('h.1.mlp.c_fc.weight')!;
  wrong.set('h.1.mlp.c_fc.weight', { shape: [w.shape[1], w.shape[0]], data: w.data });
  await writeSafetensors(path.join(bareDir, 'model.safetensors'), wrong);
  const file = path.join(bareDir, 'model.safetensors');
  const nVars = () => Object.keys(tf.engine().state.registeredVariables).length;
  const before = nVars();
  await assert.rejects(loadHfGpt2(bareDir), (e: unknown) => e instanceof GroundlabError && e.code === 'CORRUPT_CHECKPOINT' && e.message.includes(file) && /transformer\.h\.1\.mlp\.c_fc\.weight/.test(e.message));
  assert.equal(nVars(), before, 'the half-built model is disposed');
  // a truncated file
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(loadHfGpt2(bareDir), (e: unknown) => e instanceof GroundlabError && e.code === 'CORRUPT_CHECKPOINT' && e.message.includes(file));
  // an unsupported activation
  const cfg = JSON.parse(fs.readFileSync(path.join(bareDir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(bareDir, 'config.json'), JSON.stringify({ ...cfg, activation_function: 'relu', groundlab: undefined }));
  await assert.rejects(loadHfGpt2(bareDir), (e: unknown) => e instanceof GroundlabError && e.code === 'UNSUPPORTED' && /relu/.test(e.message));
});

test('export refuses non-Transformer runs and missing steps', async () => {
  await initEngine({ log: false });
  const r = await train({ out: path.join(root, 'lstm'), arch: 'lstm', preset: 'tiny', seed: 0, steps: 1 });
  await assert.rejects(exportHfGpt2(r.dir), (e: unknown) => e instanceof GroundlabError && e.code === 'UNSUPPORTED' && /lstm/.test(e.message));
  const t = await trainedRun('steps');
  await assert.rejects(exportHfGpt2(t.dir, { step: 5 }), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND' && /available steps: 0, 1, 2, 3/.test(e.message));
});

