/**
 * What a failed cell shows (ename, evalue, traceback), from the compiler's structured diagnostics
 * or the thrown value. Pure: the handler gives it the cell's source and what the engine reported.
 *  - compile errors: every diagnostic as `LINE:COL - message (TScode)` with the cell lines around it;
 *  - an interrupt (the stop button), including a job that stopped on its AbortSignal with a
 *    GroundlabError [ABORTED]: one message for every long job, "Interrupted ... variables are kept";
 *  - a GroundlabError: its code, message and hint (the API's words where the error has them, not
 *    CLI flags), and the notebook line; no stack;
 *  - other errors: the message, the notebook line, and a few library-side stack frames.
 */
import * as util from 'node:util';
import { matchLine } from './source';

export const RED = '\x1b[0;31m';
export const BOLD_RED = '\x1b[1;31m';
export const GREEN = '\x1b[0;32m';
export const CYAN = '\x1b[0;36m';
export const RESET = '\x1b[0m';

/** A compiler diagnostic, 1-based, in the cell unless `file` says otherwise. */
export interface CellDiagnostic {
  line: number;
  column: number;
  message: string;
  /** The TypeScript error number (2322 for TS2322). */
  code: number;
  /** A file other than the cell (a module in the notebook's folder). */
  file?: string;
}

export interface FailedCell {
  code: string;
  diagnostics: CellDiagnostic[];
  /** Values thrown while running (the last is the one shown). */
  thrown: unknown[];
  /** The JavaScript tslab ran for the cell (to find the notebook line of a stack frame). */
  js?: string;
  /** The cell's interrupt signal was aborted (the stop button, a shutdown). */
  aborted: boolean;
  /** Code in the cell asked for the interrupt signal (it stops at its next step). */
  signalUsed: boolean;
  interrupts: number;
}

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export function formatPlain(e: unknown): string {
  if (e instanceof Error) return e.stack || `${e.name}: ${e.message}`;
  return util.inspect(e);
}

/** True for the errors an interrupt produces (tslab's, Node's, an AbortSignal's). */
export function isInterrupt(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const x = e as { name?: string; code?: string; message?: string };
  if (x.name === 'Interrupted' || x.name === 'AbortError') return true;
  if (x.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') return true;
  return e instanceof Error && /^Interrupted asynchronously$/.test(e.message);
}

function isGroundlabError(e: unknown): e is Error & { code: string; hint?: string; codeHint?: string } {
  return e instanceof Error && e.name === 'GroundlabError' && typeof (e as { code?: unknown }).code === 'string';
}

/**
 * A GroundlabError's message as a notebook shows it: its `codeHint` (the advice in the API's words)
 * in place of the CLI's `hint` (flags such as `--out`), when the error has one.
 */
export function notebookMessage(e: Error & { hint?: string; codeHint?: string }): string {
  const tail = e.hint ? `\n  hint: ${e.hint}` : undefined;
  if (!e.codeHint) return e.message;
  if (tail && e.message.endsWith(tail)) return e.message.slice(0, -tail.length) + `\n  hint: ${e.codeHint}`;
  return `${e.message}\n  hint: ${e.codeHint}`;
}

/** The cell lines around `line` (1-based), with a caret under `col` (1-based; 0 for none). */
export function sourceContext(code: string, line: number, col: number): string[] {
  const lines = code.split('\n');
  if (line < 1 || line > lines.length) return [];
  const out = [`${GREEN}cell line ${line}:${RESET}`];
  const last = Math.min(lines.length, line + 1);
  for (let i = Math.max(1, line - 1); i <= last; i++) {
    out.push(`${i === line ? `${GREEN}---->${RESET}` : '     '} ${String(i).padStart(3)} ${lines[i - 1]}`);
    if (i === line && col > 0) out.push(`          ${' '.repeat(col - 1)}${RED}^${RESET}`);
  }
  return out;
}

/** The notebook line a thrown error came from (its first stack frame in the cell's JavaScript). */
export function cellLine(e: unknown, code: string, js: string | undefined): number | undefined {
  const stack = String((e as { stack?: unknown } | undefined)?.stack ?? '');
  const m = /evalmachine\.<anonymous>:(\d+):(\d+)/.exec(stack);
  if (!m) return undefined;
  const jsLine = Number(m[1]);
  const jsText = js?.split('\n')[jsLine - 1];
  const src = code.split('\n');
  if (!jsText) return jsLine <= src.length ? jsLine : undefined;
  return matchLine(jsText, src, jsLine);
}

export function describeDiagnostics(code: string, diagnostics: CellDiagnostic[]): ErrorContent {
  const tb: string[] = [];
  for (const d of diagnostics) {
    const where = `${d.file ? `${d.file} ` : ''}${d.line}:${d.column}`;
    tb.push(`${RED}${where} - ${d.message} (TS${d.code})${RESET}`);
    if (!d.file) tb.push(...sourceContext(code, d.line, d.column));
  }
  const first = diagnostics[0];
  return { ename: 'TypeScriptError', evalue: first ? `${first.message} (TS${first.code})` : 'TypeScript error', traceback: tb };
}

export function describeError(cell: FailedCell): ErrorContent {
  if (cell.thrown.length === 0 && cell.diagnostics.length > 0) return describeDiagnostics(cell.code, cell.diagnostics);
  const e = cell.thrown[cell.thrown.length - 1];
  const aborted = isGroundlabError(e) && e.code === 'ABORTED';
  if (isInterrupt(e) || aborted || (cell.aborted && !isGroundlabError(e))) {
    const stopped = cell.signalUsed && cell.interrupts < 2 ? 'the running job stopped at its next step' : 'the cell was stopped';
    const what = aborted ? ` (${e.message.split('\n')[0]})` : '';
    const evalue = `${stopped}${what}`;
    return { ename: 'Interrupted', evalue, traceback: [`${BOLD_RED}Interrupted${RESET}: ${evalue}; the kernel and its variables are kept`] };
  }
  if (isGroundlabError(e)) {
    const [first, ...rest] = notebookMessage(e).split('\n');
    const tb = [`${BOLD_RED}GroundlabError${RESET} [${e.code}]: ${first}`];
    for (const extra of rest) tb.push(`${CYAN}${extra}${RESET}`);
    const line = cellLine(e, cell.code, cell.js);
    if (line) tb.push(...sourceContext(cell.code, line, 0));
    return { ename: 'GroundlabError', evalue: `[${e.code}] ${first}`, traceback: tb };
  }
  if (e instanceof Error || (e && typeof (e as { stack?: unknown }).stack === 'string')) {
    const err = e as Error;
    const tb = [`${BOLD_RED}${err.name || 'Error'}${RESET}: ${err.message}`];
    const line = cellLine(err, cell.code, cell.js);
    if (line) tb.push(...sourceContext(cell.code, line, 0));
    const frames = String(err.stack || '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .filter((l) => !/\(node:|at node:|\/tslab\/dist\/|\/kernel\/[a-z]+\.[jt]s|evalmachine/.test(l))
      .slice(0, 8);
    if (frames.length) tb.push(`${GREEN}stack (library side):${RESET}`, ...frames);
    return { ename: err.name || 'Error', evalue: String(err.message), traceback: tb };
  }
  return { ename: 'Error', evalue: util.inspect(e), traceback: [`${BOLD_RED}thrown${RESET}: ${util.inspect(e)}`] };
}
