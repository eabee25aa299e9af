/**
 * Packing episodes into fixed-length training rows. The episodes' tokens are concatenated, each
 * followed by "<eos>", and cut into rows of seqLen + 1 ids that overlap by one token (row i covers
 * stream positions [i * seqLen, i * seqLen + seqLen]), so every stream position is a target exactly
 * once. The last row is padded with "<pad>"; `mask(i)` marks its padded targets 0.
 */
import { GroundlabError } from '../errors';
import type { Episode, TokenDataset, Tokenizer } from './types';
import { EOS, PAD, PATCH, episodeTokens } from './tokens';

export interface PackOptions {
  seqLen: number;
  /** Feature dimension of the episodes' patches (image-grounded data); 0 or absent otherwise. */
  featureDim?: number;
}

export class PackedDataset implements TokenDataset {
  readonly size: number;
  readonly seqLen: number;
  readonly featureDim: number;
  /** The whole token stream, [streamLength]. */
  readonly stream: Int32Array;
  /** Number of real (non-pad) tokens in the stream. */
  readonly tokenCount: number;
  /** For image data: stream position -> index into `patchFeatures` (-1 where no patch). */
  private readonly patchIndex?: Int32Array;
  private readonly patchFeatures?: Float32Array[];

  constructor(
    stream: Int32Array,
    tokenCount: number,
    seqLen: number,
    padId: number,
    featureDim = 0,
    patchIndex?: Int32Array,
    patchFeatures?: Float32Array[],
  ) {
    this.seqLen = seqLen;
    this.tokenCount = tokenCount;
    this.featureDim = featureDim;
    this.size = tokenCount > 1 ? Math.ceil((tokenCount - 1) / seqLen) : 0;
    const full = this.size * seqLen + 1;
    if (stream.length < full) {
      const s = new Int32Array(full).fill(padId);
      s.set(stream);
      stream = s;
      if (patchIndex) {
        const p = new Int32Array(full).fill(-1);
        p.set(patchIndex);
        patchIndex = p;
      }
    }
    this.stream = stream;
    this.patchIndex = patchIndex;
    this.patchFeatures = patchFeatures;
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size)
      throw new GroundlabError('BAD_ARGUMENT', `row ${i} is outside the dataset (0..${this.size - 1})`);
  }

  /** [seqLen + 1] token ids. */
  row(i: number): Int32Array {
    this.check(i);
    return this.stream.slice(i * this.seqLen, i * this.seqLen + this.seqLen + 1);
  }

  /** [seqLen] 1 where the target is a real token. */
  mask(i: number): Uint8Array {
    this.check(i);
    const m = new Uint8Array(this.seqLen);
    const start = i * this.seqLen + 1;
    for (let t = 0; t < this.seqLen; t++) m[t] = start + t < this.tokenCount ? 1 : 0;
    return m;
  }

  /** [seqLen * featureDim] patch features at the input positions of row i (zeros elsewhere). */
  features(i: number): Float32Array {
    this.check(i);
    const d = this.featureDim;
    const out = new Float32Array(this.seqLen * d);
    if (!d || !this.patchIndex || !this.patchFeatures) return out;
    const start = i * this.seqLen;
    for (let t = 0; t < this.seqLen; t++) {
      const p = this.patchIndex[start + t];
      if (p >= 0) out.set(this.patchFeatures[p], t * d);
    }
    return out;
  }
}

/** Pack episodes into a dataset (the tokenizer encodes; unknown words become "<unk>"). */
export function packEpisodes(episodes: readonly Episode[], tokenizer: Tokenizer, opts: PackOptions): PackedDataset {
  const { seqLen } = opts;
  const featureDim = opts.featureDim ?? 0;
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new GroundlabError('BAD_ARGUMENT', `seqLen = ${seqLen}: expected a whole number >= 1`);
  let total = 0;
  const toks: string[][] = episodes.map((e) => {
    const t = episodeTokens(e);
    t.push(EOS);
    total += t.length;
    return t;
  });
  const stream = new Int32Array(total);
  const patchId = tokenizer.id(PATCH);
  let patchIndex: Int32Array | undefined;
  const patchFeatures: Float32Array[] = [];
  if (featureDim > 0) patchIndex = new Int32Array(total).fill(-1);
  let pos = 0;
  for (let e = 0; e < toks.length; e++) {
    const ids = tokenizer.encode(toks[e]);
    stream.set(ids, pos);
    if (patchIndex) {
      // Patch tokens take their features, in order, from the turns' `patches`.
      const feats: Float32Array[] = [];
      for (const t of episodes[e].turns) if (t.patches) feats.push(...t.patches);
      let k = 0;
      for (let j = 0; j < ids.length; j++) {
        if (ids[j] !== patchId) continue;
        const f = feats[k++];
        if (!f || f.length !== featureDim)
          throw new GroundlabError(
            'BAD_CONFIG',
            `episode ${episodes[e].id}: patch ${k} has ${f ? f.length : 'no'} features, expected ${featureDim}`,
          );
        patchIndex[pos + j] = patchFeatures.length;
        patchFeatures.push(f);
      }
    }
    pos += ids.length;
  }
  const padId = tokenizer.id('<pad>');
  return new PackedDataset(stream, total, seqLen, padId, featureDim, patchIndex, featureDim > 0 ? patchFeatures : undefined);
}

/**
 * The loss mask of a scene row of `length` tokens ([length - 1], one entry per target): 1 where
 * the target is an answer token (at a position in `answers`) or the last token (`<eos>`).
 */
export function answerLossMask(length: number, answers: Iterable<number>): Uint8Array {
  const m = new Uint8Array(length - 1);
  for (const a of answers) m[a - 1] = 1;
  m[length - 2] = 1;
  return m;
}

/**
 * Throws BAD_CONFIG when a row of `length` tokens does not fit seqLen + 1 ids: `what` ("a counting
 * sequence of count 9") has that many tokens; the advice lowers `knob` to `most()` or raises seqLen.
 */
export function checkRowLength(length: number, seqLen: number, what: string, knob: string, most: () => number): void {
  if (length <= seqLen + 1) return;
  const m = most();
  throw new GroundlabError('BAD_CONFIG', `${what} has ${length} tokens, more than seqLen + 1 = ${seqLen + 1}`, {
    hint: `lower the knob ${knob} to ${m} or raise --seq-len to ${length - 1}`,
    codeHint: `lower the knob ${knob} to ${m} or raise \`seqLen\` to ${length - 1}`,
  });
}

/**
 * One sequence per row, no packing (the task corpora: counting, binding): each token list is
 * padded with "<pad>" to seqLen + 1 ids and its loss mask (one entry per target position) with 0 to
 * seqLen. The caller checks the lengths first, with advice of its own.
 */
export class SequenceRowsDataset implements TokenDataset {
  readonly size: number;
  readonly featureDim = 0;
  private readonly rows: Int32Array[];
  private readonly masks: Uint8Array[];

  constructor(
    tokens: ReadonlyArray<readonly string[]>,
    masks: readonly Uint8Array[],
    tokenizer: Tokenizer,
    readonly seqLen: number,
  ) {
    const pad = tokenizer.id(PAD);
    this.rows = tokens.map((toks) => {
      const r = new Int32Array(seqLen + 1).fill(pad);
      r.set(tokenizer.encode(toks as string[]));
      return r;
    });
    this.masks = masks.map((lossMask) => {
      const m = new Uint8Array(seqLen);
      m.set(lossMask);
      return m;
    });
    this.size = this.rows.length;
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size)
      throw new GroundlabError('BAD_ARGUMENT', `row ${i} is outside the dataset (0..${this.size - 1})`);
  }

  row(i: number): Int32Array {
    this.check(i);
    return this.rows[i].slice();
  }

  mask(i: number): Uint8Array {
    this.check(i);
    return this.masks[i].slice();
  }
}
