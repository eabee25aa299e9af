/**
 * The link between library code and the groundlab Jupyter kernel (kernel/main.ts). The kernel
 * puts an object on globalThis under Symbol.for('groundlab.kernel'); outside the kernel (a script,
 * the CLI, tests) there is none and the notebook helpers fall back to plain text on stdout.
 */

/** A MIME bundle as Jupyter sends it: data by MIME type, plus per-type metadata. */
export interface NotebookBundle {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export interface KernelBridge {
  version: number;
  kernel: string;
  /** Send a bundle; with `displayId` it can be updated later (`update: true` replaces it in place). */
  display(bundle: NotebookBundle, opts?: { displayId?: string; update?: boolean }): void;
  newDisplayId(): string;
  /** The running cell's AbortSignal (aborted when the user interrupts the kernel). */
  signal(): AbortSignal;
  /** Call `cb` when the running cell ends, with how it ended (kernel bridge version 2). */
  onCellEnd?(cb: (how: CellEnd) => void): void;
  /** Clear the running cell's output (`wait`: when the next output arrives). */
  clearOutput?(wait?: boolean): void;
}

/** How a cell ended: ran to the end, failed, or was stopped (the stop button). */
export type CellEnd = 'ok' | 'error' | 'interrupted';

const BRIDGE = Symbol.for('groundlab.kernel');

/** The kernel bridge, or undefined outside the groundlab kernel. */
export function kernelBridge(): KernelBridge | undefined {
  const b = (globalThis as Record<symbol, unknown>)[BRIDGE] as KernelBridge | undefined;
  return b && typeof b.display === 'function' ? b : undefined;
}

/** True when running inside the groundlab Jupyter kernel. */
export function inNotebook(): boolean {
  return kernelBridge() !== undefined;
}

/**
 * The AbortSignal to give long jobs (`train({ signal: interruptSignal() })`, analyses, probes):
 * interrupting the kernel (the stop button, "i i") aborts it, so the job stops at its next step,
 * saves, and the kernel and its variables stay alive. Outside the kernel: a signal that never aborts.
 */
export function interruptSignal(): AbortSignal {
  return kernelBridge()?.signal() ?? new AbortController().signal;
}

/** Tests: install or remove a bridge (e.g. a recording fake). */
export function setKernelBridge(b: KernelBridge | undefined): void {
  const g = globalThis as Record<symbol, unknown>;
  if (b) g[BRIDGE] = b;
  else delete g[BRIDGE];
}

/**
 * Clear the cell's output so far (`wait`: only when the next output arrives, for flicker-free
 * redraws). Outside the kernel it does nothing.
 */
export function clearOutput(wait = false): void {
  kernelBridge()?.clearOutput?.(wait);
}
