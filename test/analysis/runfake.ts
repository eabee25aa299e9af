/** An in-directory AnalysisRun over hand-built models, for tests of analyzeRun without training. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import * as aq from 'arquero';
import type { AnalysisRun } from '../../src/analysis/analyze';
import type { LanguageModel } from '../../src/models/types';
import type { Episode, TokenDataset } from '../../src/data/types';
import { ListTokenizer } from './handmodel';

export function fakeRun(opts: {
  vocab: string[];
  nouns: string[];
  frames: Array<{ id: string; tokens: string[] }>;
  episodes: Episode[];
  models: Record<number, () => LanguageModel>;
  seqLen?: number;
}): AnalysisRun & { loads: number[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groundlab-analyze-'));
  const tokenizer = new ListTokenizer(opts.vocab);
  const seqLen = opts.seqLen ?? 8;
  const flat = opts.episodes.flatMap((e) => e.turns.flatMap((t) => [t.speaker, ...t.env.situation, ...t.env.before, ...t.env.during, ...t.utterance, ...t.env.after]));
  const ids = tokenizer.encode(flat);
  const size = Math.max(1, Math.floor((ids.length - 1) / seqLen));
  const train: TokenDataset = { size, seqLen, featureDim: 0, row: (i) => Int32Array.from(ids.slice(i * seqLen, i * seqLen + seqLen + 1)) };
  const file = (name: string, ext: string) => path.join(dir, path.extname(name) ? name : name + ext);
  const loads: number[] = [];
  return {
    dir,
    loads,
    checkpoints: Object.keys(opts.models).map(Number).sort((a, b) => a - b).map((step) => ({ step })),
    tokenizer,
    async loadModel(step?: number) {
      loads.push(step!);
      return opts.models[step!]();
    },
    async data() {
      return { tokenizer, train, nouns: opts.nouns, evalFrames: opts.frames, episodes: opts.episodes };
    },
    async writeTable(name, table) {
      fs.mkdirSync(path.dirname(file(name, '.arrow')), { recursive: true });
      fs.writeFileSync(file(name, '.arrow'), aq.toArrowIPC(table));
    },
    async readTable(name) {
      const f = file(name, '.arrow');
      return fs.existsSync(f) ? aq.fromArrow(fs.readFileSync(f)) : undefined;
    },
    async writeJSON(name, obj) {
      fs.mkdirSync(path.dirname(file(name, '.json')), { recursive: true });
      fs.writeFileSync(file(name, '.json'), JSON.stringify(obj));
    },
    async readJSON<T>(name: string) {
      const f = file(name, '.json');
      return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as T) : undefined;
    },
  };
}
