/**
 * The kernel's input history (jupyter's history_request: tail, range and search), kept in memory
 * for the life of the kernel process: each stored execution is (session, line, input, output), the
 * output being the text/plain of its result. Pure.
 */

export interface HistoryRequest {
  hist_access_type?: 'tail' | 'range' | 'search' | string;
  output?: boolean;
  raw?: boolean;
  /** tail and search: the last n entries (search: all when absent). */
  n?: number;
  /** range: the session (0 or negative: the current one, counted back), start and stop lines (stop exclusive). */
  session?: number;
  start?: number;
  stop?: number | null;
  /** search: a glob (`*` any text, `?` one character, `[abc]` a class), matched against the whole input. */
  pattern?: string;
  unique?: boolean;
}

export type HistoryEntry = [number, number, string] | [number, number, [string, string | null]];

interface Row {
  line: number;
  input: string;
  output: string | null;
}

/** A glob as IPython's history search uses it (sqlite GLOB: whole string, case-sensitive). */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('^')) body = '\\^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export class History {
  /** This kernel's session number (one per process). */
  readonly session: number;
  private readonly rows: Row[] = [];

  constructor(session = 1) {
    this.session = session;
  }

  /** Record an execution (`line` is its execution count). */
  add(line: number, input: string, output: string | null = null): void {
    this.rows.push({ line, input, output });
  }

  /** Attach the result of an execution recorded before. */
  setOutput(line: number, output: string): void {
    const r = this.rows.find((x) => x.line === line);
    if (r) r.output = output;
  }

  get length(): number {
    return this.rows.length;
  }

  query(req: HistoryRequest): HistoryEntry[] {
    let rows: Row[];
    switch (req.hist_access_type ?? 'tail') {
      case 'tail':
        rows = req.n === undefined || req.n === null ? this.rows.slice() : this.rows.slice(Math.max(0, this.rows.length - Math.max(0, req.n)));
        break;
      case 'range': {
        const session = req.session ?? 0;
        if (session > 0 && session !== this.session) return [];
        if (session < 0) return []; // earlier sessions are not kept
        const start = req.start ?? 0;
        const stop = req.stop ?? Infinity;
        rows = this.rows.filter((r) => r.line >= start && r.line < stop);
        break;
      }
      case 'search': {
        const re = globRegExp(req.pattern ?? '*');
        rows = this.rows.filter((r) => re.test(r.input));
        if (req.unique) {
          const seen = new Set<string>();
          const kept: Row[] = [];
          for (let i = rows.length - 1; i >= 0; i--) {
            if (seen.has(rows[i].input)) continue;
            seen.add(rows[i].input);
            kept.unshift(rows[i]);
          }
          rows = kept;
        }
        if (req.n !== undefined && req.n !== null) rows = rows.slice(Math.max(0, rows.length - req.n));
        break;
      }
      default:
        return [];
    }
    return rows.map((r) => (req.output ? [this.session, r.line, [r.input, r.output]] : [this.session, r.line, r.input]));
  }
}
