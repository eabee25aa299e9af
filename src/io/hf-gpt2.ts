/**
 * Hugging Face GPT-2 interchange for the Transformer.
 *
 * groundlab's Transformer parameters already carry the names of Hugging Face's `GPT2LMHeadModel`
 * state dict, in the same layouts (Conv1D weights are [in, out]; `attn.c_attn` packs q, k, v along
 * its output axis, heads contiguous inside each), so the tensor mapping is the identity:
 *
 *   transformer.wte.weight [V, D]           transformer.wpe.weight [contextLength, D]
 *   transformer.h.{l}.ln_1.weight|bias [D]  transformer.h.{l}.attn.c_attn.weight [D, 3D] | bias [3D]
 *   transformer.h.{l}.attn.c_proj.weight [D, D] | bias [D]
 *   transformer.h.{l}.ln_2.weight|bias [D]  transformer.h.{l}.mlp.c_fc.weight [D, dMlp] | bias [dMlp]
 *   transformer.h.{l}.mlp.c_proj.weight [dMlp, D] | bias [D]
 *   transformer.ln_f.weight|bias [D]        lm_head.weight [V, D] (untied models only)
 *
 * and the config mapping is: vocabSize -> vocab_size, contextLength -> n_positions (and n_ctx),
 * dModel -> n_embd, nLayers -> n_layer, nHeads -> n_head, dMlp -> n_inner, lnEps ->
 * layer_norm_epsilon, tiedEmbeddings -> tie_word_embeddings, initStd -> initializer_range,
 * activation "gelu_new" (the tanh approximation groundlab uses), all dropouts 0.
 *
 * Import accepts both `GPT2LMHeadModel` files (names with "transformer.") and `GPT2Model` files
 * (bare "h.0...", "wte.weight" names, e.g. the original "gpt2" checkpoint), drops the causal-mask
 * buffers ("h.{l}.attn.bias", "attn.masked_bias"), converts F16/BF16 to float32, and ignores
 * `lm_head.weight` of tied models.
 *
 * Export also writes the tokenizer for Hugging Face (`writeHfTokenizerFiles`: a WordLevel
 * tokenizer.json that AutoTokenizer loads); `groundlab import` (./hf-import.ts) makes a run of a
 * folder, with its tokenizer (./hf-tokenizer.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { atomicWriteJSON } from './atomic';
import { assignTensors, readSafetensors, saveTensors } from './safetensors';
import type { LanguageModel } from '../models/types';
import { hfExportProblem, withDefaults, type AnyModelConfig, type TrainDeps } from '../train/deps';
import { openRun, readJSONFile, type Run } from '../train/run';
import type { CorpusSpec, Tokenizer } from '../data/types';
import { SPECIAL_TOKENS, envToken, lanToken } from '../data/tokens';
import { wordTokenizerHfJSON } from './hf-tokenizer';

/** The config.json of a Hugging Face GPT-2 folder (the keys groundlab reads and writes). */
export interface HfGpt2Config {
  architectures: string[];
  model_type: 'gpt2';
  vocab_size: number;
  n_positions: number;
  n_ctx: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner: number | null;
  activation_function: string;
  layer_norm_epsilon: number;
  tie_word_embeddings: boolean;
  initializer_range: number;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  scale_attn_weights: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
  torch_dtype: string;
  /** GPT-2 variants groundlab does not implement (refused on import when true). */
  scale_attn_by_inverse_layer_idx?: boolean;
  reorder_and_upcast_attn?: boolean;
  /** groundlab's own record: the full model config, where the weights came from, the run's corpus. */
  groundlab?: { model: AnyModelConfig; run?: string; step?: number; corpus?: CorpusSpec };
}

const TANH_GELUS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'];

interface TransformerLike extends AnyModelConfig {
  nHeads: number;
  dMlp: number;
  lnEps: number;
  tiedEmbeddings: boolean;
  initStd?: number;
}

/** HF GPT-2 config for a groundlab Transformer config. */
export function toHfGpt2Config(c: AnyModelConfig, tokenizer?: Tokenizer): HfGpt2Config {
  const problem = hfExportProblem(c, 'hf-gpt2');
  if (problem) {
    throw new GroundlabError(
      'UNSUPPORTED',
      `only Transformer runs with GPT-2's switches can be exported as GPT-2: this ${c.arch} run cannot (${problem})`,
      { hint: 'export a run trained with --arch transformer and the default switches (positional: learned, softmax attention)' },
    );
  }
  if (c.envFeatureDim > 0) {
    throw new GroundlabError('UNSUPPORTED', 'this Transformer has a projection for continuous ENV features, which GPT-2 lacks', {
      hint: 'GPT-2 export works for token-only corpora',
    });
  }
  const t = c as TransformerLike;
  const special = (names: string[]) => {
    if (!tokenizer) return undefined;
    for (const n of names) {
      const id = tokenizer.id(n);
      if (tokenizer.token(id) === n) return id;
    }
    return undefined;
  };
  const cfg: HfGpt2Config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: t.vocabSize,
    n_positions: t.contextLength,
    n_ctx: t.contextLength,
    n_embd: t.dModel,
    n_layer: t.nLayers,
    n_head: t.nHeads,
    n_inner: t.dMlp,
    activation_function: 'gelu_new',
    layer_norm_epsilon: t.lnEps,
    tie_word_embeddings: t.tiedEmbeddings,
    initializer_range: t.initStd ?? 0.02,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    scale_attn_weights: true,
    torch_dtype: 'float32',
    groundlab: { model: c },
  };
  const bos = special(['<bos>', '<s>']);
  const eos = special(['<eos>', '</s>']);
  if (bos !== undefined) cfg.bos_token_id = bos;
  if (eos !== undefined) cfg.eos_token_id = eos;
  return cfg;
}

/** groundlab Transformer config from an HF GPT-2 config (the groundlab record, when present, wins). */
export function fromHfGpt2Config(h: HfGpt2Config, file: string): AnyModelConfig {
  const bad = (m: string) => new GroundlabError('BAD_CONFIG', m, { file });
  if (h.model_type !== 'gpt2') throw bad(`model_type is ${JSON.stringify(h.model_type)}, expected "gpt2"`);
  if (!TANH_GELUS.includes(h.activation_function ?? 'gelu_new')) {
    throw new GroundlabError(
      'UNSUPPORTED',
      `activation_function "${h.activation_function}" is not supported; groundlab's Transformer uses the tanh GELU ("gelu_new")`,
      { file },
    );
  }
  if (h.scale_attn_by_inverse_layer_idx || h.reorder_and_upcast_attn)
    throw new GroundlabError('UNSUPPORTED', 'scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported', { file });
  if (h.scale_attn_weights === false) throw new GroundlabError('UNSUPPORTED', 'scale_attn_weights = false is not supported', { file });
  for (const k of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const) {
    if (!Number.isInteger(h[k]) || (h[k] as number) < 1) throw bad(`${k} must be a positive integer, got ${JSON.stringify(h[k])}`);
  }
  const hf: AnyModelConfig = {
    arch: 'transformer',
    vocabSize: h.vocab_size,
    contextLength: h.n_positions,
    dModel: h.n_embd,
    nLayers: h.n_layer,
    envFeatureDim: 0,
    nHeads: h.n_head,
    dMlp: h.n_inner ?? 4 * h.n_embd,
    lnEps: h.layer_norm_epsilon ?? 1e-5,
    tiedEmbeddings: h.tie_word_embeddings ?? true,
    initStd: h.initializer_range ?? 0.02,
  };
  const g = h.groundlab?.model;
  if (g && !hfExportProblem(g, 'hf-gpt2')) {
    for (const k of ['vocabSize', 'contextLength', 'dModel', 'nLayers', 'nHeads', 'dMlp', 'tiedEmbeddings'] as const) {
      if (g[k] !== hf[k])
        throw bad(`the groundlab record says ${k} = ${JSON.stringify(g[k])} but the GPT-2 keys say ${JSON.stringify(hf[k])}`);
    }
    return { ...g };
  }
  return hf;
}

export interface ExportOptions {
  /** Checkpoint step (default: the last). */
  step?: number;
  /** Output folder (default: <run>/export/hf-gpt2-step-NNNNNN). */
  out?: string;
  deps?: Partial<TrainDeps>;
}

/** Write a Transformer checkpoint of a run as a Hugging Face GPT-2 folder; returns the folder. */
export async function exportHfGpt2(runOrDir: Run | string, opts: ExportOptions = {}): Promise<string> {
  const run = typeof runOrDir === 'string' ? await openRun(runOrDir, { deps: opts.deps }) : runOrDir;
  const hfConfig = toHfGpt2Config(run.config.model, run.tokenizer);
  const ck = opts.step === undefined ? run.checkpoints[run.checkpoints.length - 1] : run.checkpoints.find((c) => c.step === opts.step);
  if (!ck) {
    throw new GroundlabError(
      'NOT_FOUND',
      opts.step === undefined ? `run ${run.dir} has no checkpoint` : `run ${run.dir} has no checkpoint at step ${opts.step}`,
      {
        hint: `available steps: ${run.checkpoints.map((c) => c.step).join(', ') || 'none'}`,
      },
    );
  }
  const out = path.resolve(opts.out ?? path.join(run.dir, 'export', `hf-gpt2-step-${String(ck.step).padStart(6, '0')}`));
  const model = await run.loadModel(ck.step);
  try {
    const extra = [...model.params.keys()].filter((k) => !isGpt2Name(k));
    if (extra.length) throw new GroundlabError('UNSUPPORTED', `parameters with no GPT-2 counterpart: ${extra.join(', ')}`);
    fs.mkdirSync(out, { recursive: true });
    await saveTensors(path.join(out, 'model.safetensors'), model.params, { format: 'pt' });
  } finally {
    model.dispose();
  }
  hfConfig.groundlab = { model: run.config.model, run: run.dir, step: ck.step, corpus: run.config.corpus };
  await atomicWriteJSON(path.join(out, 'config.json'), hfConfig);
  await writeHfTokenizerFiles(out, run.tokenizer, run.config.model.contextLength);
  return out;
}

/**
 * The tokenizer files of an exported folder: `tokenizer.json` (a WordLevel model with groundlab's
 * ids and a whitespace-split pre-tokenizer, which `AutoTokenizer.from_pretrained(out)` loads),
 * `tokenizer_config.json` and `special_tokens_map.json` (groundlab's `<unk>`, `<pad>`, `<bos>`,
 * `<eos>`), `vocab.json` (token -> id) and `groundlab_tokenizer.json` (groundlab's own, which
 * `groundlab import` prefers). A tokenizer that is itself a Hugging Face one (an imported run)
 * is written back as it came.
 */
export async function writeHfTokenizerFiles(out: string, tok: Tokenizer, contextLength: number): Promise<void> {
  const json = tok.toJSON() as { type?: string; tokenizer?: unknown; config?: Record<string, unknown> };
  if (json.type === 'hf') {
    await atomicWriteJSON(path.join(out, 'tokenizer.json'), json.tokenizer);
    await atomicWriteJSON(path.join(out, 'tokenizer_config.json'), json.config ?? {});
    return;
  }
  const w = tok as { sharedVocab?: boolean; nouns?: readonly string[] };
  const aliases: Record<string, number> = {};
  if (w.sharedVocab) for (const n of w.nouns ?? []) for (const f of [envToken(n), lanToken(n)]) aliases[f] = tok.id(f);
  await atomicWriteJSON(path.join(out, 'tokenizer.json'), wordTokenizerHfJSON(tok, SPECIAL_TOKENS, aliases));
  const specials = { bos_token: '<bos>', eos_token: '<eos>', unk_token: '<unk>', pad_token: '<pad>' };
  await atomicWriteJSON(path.join(out, 'special_tokens_map.json'), specials);
  await atomicWriteJSON(path.join(out, 'tokenizer_config.json'), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...specials,
    model_max_length: contextLength,
    clean_up_tokenization_spaces: false,
  });
  const vocab: Record<string, number> = {};
  for (let i = 0; i < tok.vocabSize; i++) vocab[tok.token(i)] = i;
  await atomicWriteJSON(path.join(out, 'vocab.json'), vocab);
  await atomicWriteJSON(path.join(out, 'groundlab_tokenizer.json'), json);
}

const GPT2_NAME =
  /^(transformer\.(wte|wpe)\.weight|transformer\.ln_f\.(weight|bias)|lm_head\.weight|transformer\.h\.\d+\.(ln_1|ln_2|attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias))$/;
function isGpt2Name(n: string): boolean {
  return GPT2_NAME.test(n);
}

/** Normalise a tensor name of an HF GPT-2 safetensors file to groundlab's; undefined = skip it. */
export function hfToGroundlabName(name: string): string | undefined {
  if (/(^|\.)attn\.(bias|masked_bias)$/.test(name)) return undefined; // causal-mask buffers
  if (name.startsWith('transformer.') || name.startsWith('lm_head.')) return name;
  return 'transformer.' + name;
}

/** Load a Hugging Face GPT-2 folder (config.json + model.safetensors) into a groundlab Transformer. */
export async function loadHfGpt2(dir: string, opts: { deps?: Partial<TrainDeps> } = {}): Promise<LanguageModel> {
  const deps = withDefaults(opts.deps);
  const cfgFile = path.join(dir, 'config.json');
  const config = fromHfGpt2Config(await readJSONFile<HfGpt2Config>(cfgFile, 'GPT-2 config'), cfgFile);
  const file = path.join(dir, 'model.safetensors');
  const content = await readSafetensors(file);
  const renamed = new Map<string, typeof content.tensors extends Map<string, infer T> ? T : never>();
  for (const [k, t] of content.tensors) {
    const n = hfToGroundlabName(k);
    if (n !== undefined) renamed.set(n, t);
  }
  if (config.tiedEmbeddings) renamed.delete('lm_head.weight');
  const model = deps.createModel(config, 0);
  try {
    assignTensors({ tensors: renamed, metadata: content.metadata }, model.params, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
