/**
 * A live progress display for notebooks: one output per task that is updated in place
 * (`update_display_data`) with a bar, step, loss, tokens/s and ETA, instead of a flood of lines.
 * Pass it as `onProgress` to `train`, analyses, probes and sweeps.
 */
import type { ProgressEvent, ProgressFn } from '../train/progress';
import { formatDuration, formatProgress } from '../train/progress';
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

/** The HTML of one progress line (a bar and the numbers). */
export function progressHtml(e: ProgressEvent): string {
  const frac = e.total > 0 ? Math.min(1, Math.max(0, e.step / e.total)) : 0;
  const pct = (100 * frac).toFixed(0);
  const parts: string[] = [`${e.step}/${e.total}`];
  if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
  if (e.tokensPerSec !== undefined) parts.push(`${Math.round(e.tokensPerSec).toLocaleString('en-US')} tok/s`);
  if (e.etaSec !== undefined && !e.done) parts.push(`ETA ${formatDuration(e.etaSec)}`);
  if (e.message) parts.push(escapeHtml(e.message));
  const color = e.done ? '#5fb4a2' : '#e8a33d';
  return (
    `<div class="groundlab-progress" style="font-family: var(--jp-code-font-family, monospace); font-size: 12px; display: flex; align-items: center; gap: 8px">` +
    `<span style="min-width: 7em">${escapeHtml(e.task)}</span>` +
    `<span style="display: inline-block; width: 220px; height: 10px; border: 1px solid #888; border-radius: 3px; overflow: hidden">` +
    `<span style="display: block; width: ${pct}%; height: 100%; background: ${color}"></span></span>` +
    `<span>${pct}%</span><span>${parts.join(' &middot; ')}</span></div>`
  );
}

/**
 * A ProgressFn that shows one live output per task in the notebook (updated in place). Outside
 * the kernel it prints a line every few seconds to stderr.
 */
export function progressDisplay(opts: ProgressDisplayOptions = {}): ProgressFn {
  const interval = 1000 * (opts.intervalSec ?? 0.25);
  const textInterval = 1000 * (opts.textIntervalSec ?? 5);
  const ids = new Map<string, string>();
  const last = new Map<string, number>();
  return (e) => {
    const k = kernelBridge();
    const now = Date.now();
    const prev = last.get(e.task);
    const first = prev === undefined;
    if (!first && !e.done && !e.message && now - prev < (k ? interval : textInterval)) return;
    last.set(e.task, now);
    if (!k) {
      process.stderr.write(formatProgress(e) + '\n');
      return;
    }
    let id = ids.get(e.task);
    const update = id !== undefined;
    if (!id) {
      id = k.newDisplayId();
      ids.set(e.task, id);
    }
    k.display({ data: { 'text/html': progressHtml(e), 'text/plain': formatProgress(e) }, metadata: {} }, { displayId: id, update });
    if (e.done) {
      ids.delete(e.task);
      last.delete(e.task);
    }
  };
}
