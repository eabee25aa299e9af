/**
 * The analyses of `analyzeRun`, in the order they run (and are listed by `--only`): one module
 * per analysis, one line here.
 */
import { surprisal } from './surprisal';
import { gain } from './gain';
import { cooccurrence } from './cooccurrence';
import { saliency } from './saliency';
import { heads } from './heads';
import { lens, tunedLens } from './lens';
import { ablation } from './ablation';
import { patching } from './patching';
import { paths } from './paths';

export const REGISTRY = [surprisal, gain, cooccurrence, saliency, heads, lens, tunedLens, ablation, patching, paths] as const;

export type { AnalysisModule, StepContext, Row, ReportRun, ReportContext, ReportTable, ReproduceSection } from './context';
export { lensFileName } from './lens';
