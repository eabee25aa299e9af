/**
 * A live progress display for notebooks: one output per task that is updated in place
 * (`update_display_data`) with a bar, step, loss, tokens/s and ETA, instead of a flood of lines.
 * Pass it as `onProgress` to `train`, analyses, probes and sweeps.
 */
import type { ProgressEvent, ProgressFn } from '../train/progress';
import { formatDuration, formatProgress, progressFraction } from '../train/progress';
import { kernelBridge } from './bridge';

export interface ProgressDisplayOptions {
  /** Seconds between updates (default 0.25); events with a message and the last one always show. */
  intervalSec?: number;
  /** Outside the kernel: where lines go (default: process.stderr), one every `textIntervalSec`. */
  textIntervalSec?: number;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** How a progress output ended when its cell ended first: stopped (the stop button) or failed. */
export type ProgressEnd = 'stopped' | 'failed';

const END_TEXT: Record<ProgressEnd, string> = {
  stopped: 'stopped (interrupted): what it finished is kept; run the cell again to go on',
  failed: 'failed: see the error below',
};

/** The HTML of one progress line (a bar and the numbers); `end` for a task its cell ended. */
export function progressHtml(e: ProgressEvent, end?: ProgressEnd): string {
  const frac = progressFraction(e);
  const pct = (100 * frac).toFixed(0);
  const parts: string[] = [`${e.step}/${e.total}`];
  if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
  if (e.tokensPerSec !== undefined && !end) parts.push(`${Math.round(e.tokensPerSec).toLocaleString('en-US')} tok/s`);
  if (e.etaSec !== undefined && !e.done && !end) parts.push(`ETA ${formatDuration(e.etaSec)}`);
  if (end) parts.push(END_TEXT[end]);
  else if (e.message) parts.push(escapeHtml(e.message));
  const color = end === 'failed' ? '#d9534f' : end === 'stopped' ? '#8a8f98' : e.done ? '#5fb4a2' : '#e8a33d';
  return (
    `<div class="groundlab-progress${end ? ` groundlab-progress-${end}` : ''}" style="font-family: var(--jp-code-font-family, monospace); font-size: 12px; display: flex; align-items: center; gap: 8px">` +
    `<span style="min-width: 7em">${escapeHtml(e.task)}</span>` +
    `<span style="display: inline-block; width: 220px; height: 10px; border: 1px solid #888; border-radius: 3px; overflow: hidden">` +
    `<span style="display: block; width: ${pct}%; height: 100%; background: ${color}"></span></span>` +
    `<span>${pct}%</span><span>${parts.join(' &middot; ')}</span></div>`
  );
}

/** The text of a progress line whose cell ended before the task did. */
export function progressEndText(e: ProgressEvent, end: ProgressEnd): string {
  return formatProgress({ ...e, tokensPerSec: undefined, etaSec: undefined, message: END_TEXT[end] });
}

/**
 * A ProgressFn that shows one live output per task in the notebook (updated in place). Outside
 * the kernel it prints a line every few seconds to stderr. When the cell ends before a task's last
 * event (the stop button, an error), its output says so: "stopped (interrupted): what it finished
 * is kept" in grey, or "failed" in red, at the step reached; every long job behaves the same.
 */
export function progressDisplay(opts: ProgressDisplayOptions = {}): ProgressFn {
  const interval = 1000 * (opts.intervalSec ?? 0.25);
  const textInterval = 1000 * (opts.textIntervalSec ?? 5);
  const ids = new Map<string, string>();
  const last = new Map<string, number>();
  /** The newest event of each open task (shown or not), to draw its end from. */
  const latest = new Map<string, ProgressEvent>();
  const close = (task: string) => {
    ids.delete(task);
    last.delete(task);
    latest.delete(task);
  };
  return (e) => {
    const k = kernelBridge();
    const now = Date.now();
    const prev = last.get(e.task);
    const first = prev === undefined;
    if (k) latest.set(e.task, e);
    if (!first && !e.done && !e.message && now - prev < (k ? interval : textInterval)) return;
    last.set(e.task, now);
    if (!k) {
      process.stderr.write(formatProgress(e) + '\n');
      return;
    }
    let id = ids.get(e.task);
    const update = id !== undefined;
    if (!id) {
      const own = k.newDisplayId();
      id = own;
      ids.set(e.task, own);
      k.onCellEnd?.((how) => {
        const at = latest.get(e.task);
        if (how === 'ok' || ids.get(e.task) !== own || !at) return;
        const end: ProgressEnd = how === 'interrupted' ? 'stopped' : 'failed';
        k.display(
          { data: { 'text/html': progressHtml(at, end), 'text/plain': progressEndText(at, end) }, metadata: {} },
          { displayId: own, update: true },
        );
        close(e.task);
      });
    }
    k.display({ data: { 'text/html': progressHtml(e), 'text/plain': formatProgress(e) }, metadata: {} }, { displayId: id, update });
    if (e.done) close(e.task);
  };
}
