/** A fixed-width text table of rows (what the CLI prints). */

type Row = Record<string, unknown>;

export const fmt = (v: unknown, digits = 3): string => {
  if (typeof v === 'number')
    return Number.isNaN(v) ? '-' : Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : v.toFixed(digits);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return v == null ? '-' : String(v);
};

/** A fixed-width text table. */
export function textTable(rows: readonly Row[], columns: Array<[key: string, title: string]>): string {
  const cells = rows.map((r) => columns.map(([k]) => fmt(r[k])));
  const widths = columns.map(([, t], j) => Math.max(t.length, ...cells.map((c) => c[j].length)));
  const line = (xs: string[]) => xs.map((x, j) => x.padStart(widths[j])).join('  ');
  return [line(columns.map(([, t]) => t)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
