// The notebook stage's public API: rich display, live progress and interrupts in the groundlab
// Jupyter kernel (kernel/). Importing it registers the bundle hook the kernel uses for a cell's
// last expression.
import { isSilent, mimeBundleOf } from './mime';

export { kernelBridge, inNotebook, interruptSignal, setKernelBridge, type KernelBridge, type NotebookBundle } from './bridge';
export { mimeBundleOf, isSilent, isVegaLiteSpec, isTable, isPlainBundle, tableHtml, tableText, VEGALITE_MIME, PLOTLY_MIME, type BundleOptions, type TableLike } from './mime';
export { display, displayBundle, type DisplayHandle, type DisplayOptions } from './display';
export { progressDisplay, progressHtml, type ProgressDisplayOptions } from './progress';

(globalThis as Record<symbol, unknown>)[Symbol.for('groundlab.mimeBundle')] = (x: unknown) => (isSilent(x) ? null : mimeBundleOf(x));
