/**
 * `groundlab import --format hf-gpt2 DIR --out RUN`: a Hugging Face GPT-2 folder (config.json,
 * model.safetensors, tokenizer.json) as a run directory that `openRun`, eval, analyze, probe,
 * circuits and the widgets read like a trained run:
 *
 *   RUN/config.json                    a run config (arch transformer, the model config from the
 *                                      GPT-2 keys, `imported`: where it came from, `corpus`: the
 *                                      evaluation corpus)
 *   RUN/tokenizer.json                 the folder's tokenizer: groundlab's word tokenizer when the
 *                                      folder came from `groundlab export` (groundlab_tokenizer.json),
 *                                      else its Hugging Face tokenizer.json (`type: "hf"`, ./hf-tokenizer.ts)
 *   RUN/checkpoints/step-000000/       model.safetensors (groundlab's names = GPT-2's) and state.json
 *
 * The grounding measures evaluate a model on groundlab's own corpus (its held-out frames, words
 * of interest and co-occurrence counts): `corpus`, by default the one the export recorded, else
 * the synthetic `simple` corpus. An imported run's data are that corpus tokenized with the run's
 * tokenizer, so every word of it must be one token of the model (`w<ENV>`, `w<LAN>`, speakers,
 * specials, ...): `importHfGpt2` reports the words that are not (`missing`), and eval / analyze /
 * probe refuse such a run with an error naming them and what to do. The co-occurrence statistics
 * and the template check then describe that corpus, not what the model was trained on (unless it
 * was trained on it). An imported run has no optimizer state: it is read, not trained further.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { atomicWriteJSON } from './atomic';
import { saveTensors } from './safetensors';
import { fromHfGpt2Config, loadHfGpt2, type HfGpt2Config } from './hf-gpt2';
import { HfTokenizer } from './hf-tokenizer';
import { withDefaults, type TrainDeps } from '../train/deps';
import { RUN_FORMAT, RUN_VERSION, checkpointDirName, openRun, readJSONFile, type CheckpointState, type RunConfig } from '../train/run';
import { trainPreset, type PresetName } from '../train/presets';
import type { CorpusSpec, Tokenizer } from '../data/types';

export interface ImportOptions {
  /** The run directory to create (must not hold a run). */
  out: string;
  /** The evaluation corpus (default: the one `groundlab export` recorded, else synthetic `simple`, seed 0). */
  corpus?: CorpusSpec;
  /** Preset whose evaluation-side settings the run takes (rows of seqLen tokens for the tuned lens, ...); default `quick`. */
  preset?: PresetName;
  /** Step number of the one checkpoint (default 0, or the step the export recorded). */
  step?: number;
  deps?: Partial<TrainDeps>;
}

export interface ImportResult {
  dir: string;
  /** "groundlab" (a groundlab export's word tokenizer) or the Hugging Face model type ("hf BPE", "hf WordLevel", ...). */
  tokenizer: string;
  step: number;
  corpus: CorpusSpec;
  /** Words of the evaluation corpus that are not one token of the model (eval and analyze refuse the run while any are). */
  missing: string[];
}

export const DEFAULT_IMPORT_CORPUS: CorpusSpec = { kind: 'synthetic', setting: 'simple', seed: 0 };

/** Import a Hugging Face GPT-2 folder as a run directory (see the module comment). */
export async function importHfGpt2(dir: string, opts: ImportOptions): Promise<ImportResult> {
  const deps = withDefaults(opts.deps);
  const src = path.resolve(dir);
  if (!fs.existsSync(src) || !fs.statSync(src).isDirectory())
    throw new GroundlabError('NOT_FOUND', `${dir} is not a folder`, {
      hint: 'give a Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer.json), as save_pretrained writes it',
    });
  const out = path.resolve(opts.out);
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0))
    throw new GroundlabError('BAD_ARGUMENT', `--out ${opts.out} already exists and is not an empty folder`, {
      hint: 'give a new folder for the imported run (an import never overwrites a run)',
      codeHint: 'give a new folder as `out` (an import never overwrites a run)',
    });
  const cfgFile = path.join(src, 'config.json');
  const hf = await readJSONFile<HfGpt2Config & { groundlab?: { corpus?: CorpusSpec } }>(cfgFile, 'GPT-2 config');
  const model = fromHfGpt2Config(hf, cfgFile);
  const record = hf.groundlab;

  // The tokenizer: a groundlab export's own, else the folder's tokenizer.json.
  let tokenizer: Tokenizer;
  let kind: string;
  const glTok = path.join(src, 'groundlab_tokenizer.json');
  if (fs.existsSync(glTok)) {
    try {
      tokenizer = deps.tokenizerFromJSON(await readJSONFile(glTok, 'groundlab tokenizer'));
    } catch (e) {
      if (e instanceof GroundlabError && e.file) throw e;
      throw new GroundlabError('BAD_FILE', `groundlab_tokenizer.json cannot be read: ${(e as Error).message}`, { file: glTok, cause: e });
    }
    kind = 'groundlab';
  } else {
    const hfTok = HfTokenizer.fromDir(src);
    tokenizer = hfTok.vocabSize < model.vocabSize ? HfTokenizer.fromDir(src, { vocabSize: model.vocabSize }) : hfTok;
    kind = `hf ${hfTok.model}`;
  }
  if (tokenizer.vocabSize !== model.vocabSize)
    throw new GroundlabError(
      'CONFIG_MISMATCH',
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.vocabSize}`,
      {
        file: cfgFile,
        hint: 'the tokenizer and the weights must come from the same model (tokenizer ids beyond vocab_size have no embedding)',
      },
    );

  const step = opts.step ?? record?.step ?? 0;
  if (!Number.isInteger(step) || step < 0) throw new GroundlabError('BAD_ARGUMENT', `step ${step}: expected a whole number >= 0`);
  const corpus = opts.corpus ?? record?.corpus ?? DEFAULT_IMPORT_CORPUS;
  const preset = opts.preset ?? 'quick';
  const train = trainPreset(preset).train;
  train.seqLen = Math.min(train.seqLen, model.contextLength);

  // The evaluation corpus, tokenized with this tokenizer: which of its words the model cannot read.
  const data = await deps.prepareData(corpus, { seqLen: train.seqLen });
  const missing = unknownWords(
    tokenizer,
    Array.from({ length: data.tokenizer.vocabSize }, (_, i) => data.tokenizer.token(i)),
  );

  const model0 = await loadHfGpt2(src, { deps: opts.deps });
  const tmp = `${out}.importing-${process.pid}`;
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    const ck = path.join(tmp, 'checkpoints', checkpointDirName(step));
    fs.mkdirSync(ck, { recursive: true });
    await saveTensors(path.join(ck, 'model.safetensors'), model0.params, { format: 'pt', groundlab_step: String(step) });
    const now = new Date().toISOString();
    const state: CheckpointState = {
      step,
      data: { epoch: 0, pos: 0, epochRng: [0, 0, 0, 0] },
      tokensSeen: 0,
      elapsedSec: 0,
      savedAt: now,
      model: model as Record<string, unknown>,
    };
    await atomicWriteJSON(path.join(ck, 'state.json'), state);
    const config: RunConfig = {
      format: RUN_FORMAT,
      version: RUN_VERSION,
      arch: 'transformer',
      preset,
      seed: 0,
      model,
      train,
      corpus,
      createdAt: now,
      imported: { format: 'hf-gpt2', from: src, tokenizer: kind, at: now },
    };
    await atomicWriteJSON(path.join(tmp, 'config.json'), config);
    await atomicWriteJSON(path.join(tmp, 'tokenizer.json'), tokenizer.toJSON());
    if (fs.existsSync(out)) fs.rmdirSync(out); // an empty folder (checked above)
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    model0.dispose();
  }
  await openRun(out, { deps: opts.deps }); // reads back as a run
  return { dir: out, tokenizer: kind, step, corpus, missing };
}

/** Of `words`, those that are not one token of `tokenizer` (an unknown word is not `<unk>`). */
export function unknownWords(tokenizer: Tokenizer, words: Iterable<string>): string[] {
  if (tokenizer instanceof HfTokenizer) return tokenizer.missing(words);
  const has = (tokenizer as { has?(t: string): boolean }).has;
  return [...words].filter((w) => (has ? !has.call(tokenizer, w) : tokenizer.token(tokenizer.id(w)) !== w));
}
