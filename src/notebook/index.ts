// The notebook stage's public API: rich display, live progress and interrupts in the groundlab
// Jupyter kernel (kernel/). Importing it registers the bundle hook the kernel uses for a cell's
// last expression.
import { isSilent, isVegaLiteSpec, mimeBundleOf } from './mime';
import { displayBundle } from './display';

export {
  kernelBridge,
  inNotebook,
  interruptSignal,
  setKernelBridge,
  clearOutput,
  type CellEnd,
  type KernelBridge,
  type NotebookBundle,
} from './bridge';
export {
  mimeBundleOf,
  isSilent,
  isVegaLiteSpec,
  isTable,
  isPlainBundle,
  tableHtml,
  tableText,
  VEGALITE_MIME,
  PLOTLY_MIME,
  type BundleOptions,
  type TableLike,
} from './mime';
export { display, displayBundle, type DisplayHandle, type DisplayOptions } from './display';
export { progressDisplay, progressHtml, progressEndText, type ProgressDisplayOptions, type ProgressEnd } from './progress';

// A spec as a cell's last expression gets the same SVG/PNG fallbacks as display(spec).
(globalThis as Record<symbol, unknown>)[Symbol.for('groundlab.mimeBundle')] = (x: unknown) =>
  isSilent(x) ? null : isVegaLiteSpec(x) ? displayBundle(x) : mimeBundleOf(x);
