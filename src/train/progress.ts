/**
 * Progress reporting shared by training, analyses, probes and sweeps. A task reports events; a
 * `ProgressFn` renders them (a terminal line here, a live display in the notebook kernel).
 */

export interface ProgressEvent {
  /** What is running, e.g. "train" or "analyze surprisal". */
  task: string;
  step: number;
  total: number;
  loss?: number;
  tokensPerSec?: number;
  etaSec?: number;
  /** Share of the work done (0-1) when it is finer than step/total (e.g. runs part-trained). */
  fraction?: number;
  message?: string;
  /** The last event of the task. */
  done?: boolean;
}

export type ProgressFn = (e: ProgressEvent) => void;

/** "1h02m", "3m05s", "42s". */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The share of the work an event says is done: `fraction` when given, else step/total (0-1). */
export function progressFraction(e: ProgressEvent): number {
  const f = e.fraction ?? (e.total > 0 ? e.step / e.total : 0);
  return Math.min(1, Math.max(0, Number.isFinite(f) ? f : 0));
}

/** One line of text for an event (no newline). */
export function formatProgress(e: ProgressEvent): string {
  const width = String(e.total).length;
  const parts = [`${e.task} ${String(e.step).padStart(width)}/${e.total}`];
  if (e.total > 0) parts.push(`${(100 * progressFraction(e)).toFixed(0).padStart(3)}%`);
  if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
  if (e.tokensPerSec !== undefined) parts.push(`${Math.round(e.tokensPerSec).toLocaleString('en-US')} tok/s`);
  if (e.etaSec !== undefined && !e.done) parts.push(`ETA ${formatDuration(e.etaSec)}`);
  if (e.message) parts.push(e.message);
  return parts.join('  ');
}

export interface TerminalProgressOptions {
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Seconds between lines when the stream is not a terminal (default 5). */
  intervalSec?: number;
  /** Seconds between redraws on a terminal (default 0.1). */
  ttyIntervalSec?: number;
}

/**
 * A ProgressFn that updates one line in place on a terminal (carriage return, clear line), and
 * prints a line every few seconds otherwise (logs, CI). Events with a message, and the last event,
 * are always shown.
 */
export function terminalProgress(opts: TerminalProgressOptions = {}): ProgressFn {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const interval = 1000 * (tty ? (opts.ttyIntervalSec ?? 0.1) : (opts.intervalSec ?? 5));
  let last = -Infinity;
  return (e) => {
    const now = Date.now();
    if (!e.done && !e.message && now - last < interval) return;
    last = now;
    let line = formatProgress(e);
    if (tty) {
      const cols = (stream as { columns?: number }).columns;
      if (cols && line.length >= cols) line = line.slice(0, cols - 1);
      stream.write(`\r\x1b[2K${line}${e.done ? '\n' : ''}`);
    } else {
      stream.write(line + '\n');
    }
  };
}
