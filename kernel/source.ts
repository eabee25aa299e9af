/**
 * What the kernel reads from a cell's TypeScript source with the compiler's parser (pure; no
 * program, no type checker): shorthand properties to expand, import declarations to keep, the call
 * around the cursor, whether the code is complete, and the cell line of a transpiled line.
 */
import * as ts from '@tslab/typescript-for-tslab';

function parse(code: string): ts.SourceFile {
  return ts.createSourceFile('cell.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/**
 * `{ out }` -> `{ out: out }`. tslab rewrites references to earlier cells' variables as
 * `exports.x`, but misses shorthand properties (the checker resolves them to the property), so
 * `train({ out })` with `out` from an earlier cell fails with "out is not defined". The expansion
 * is equivalent JavaScript and keeps line numbers.
 */
export function expandShorthand(code: string): string {
  if (!/[{,]\s*[A-Za-z_$][\w$]*\s*[,}=]/.test(code)) return code;
  const sf = parse(code);
  const at: number[] = [];
  const names: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isShorthandPropertyAssignment(node)) {
      at.push(node.name.getEnd());
      names.push(node.name.getText(sf));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  let out = code;
  for (let i = at.length - 1; i >= 0; i--) out = out.slice(0, at[i]) + `: ${names[i]}` + out.slice(at[i]);
  return out;
}

/** The import declarations of a cell, as source text (one per line). */
export function importDeclarations(code: string): string {
  const sf = parse(code);
  return sf.statements
    .filter((st) => ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st))
    .map((st) => st.getText(sf))
    .join('\n');
}

/** A call around the cursor: where its callee's name ends, and which argument the cursor is in. */
export interface EnclosingCall {
  /** Offset just past the callee's last identifier (`lineChart` in `viz.lineChart(`). */
  calleeEnd: number;
  /** The callee as written. */
  callee: string;
  /** 0-based index of the argument the cursor is in. */
  argument: number;
}

/**
 * The innermost call or `new` expression whose argument list contains `cursor` (between its
 * parentheses, or after an opening parenthesis not closed yet), or undefined.
 */
export function enclosingCall(code: string, cursor: number): EnclosingCall | undefined {
  const sf = parse(code);
  let best: EnclosingCall | undefined;
  const visit = (node: ts.Node): void => {
    if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments) {
      const open = node.getChildren(sf).find((c) => c.kind === ts.SyntaxKind.OpenParenToken);
      const close = node.getChildren(sf).find((c) => c.kind === ts.SyntaxKind.CloseParenToken && c.getEnd() > c.getStart(sf));
      const inside = open && cursor >= open.getEnd() && (close ? cursor <= close.getStart(sf) : cursor <= node.getEnd() || cursor === code.length);
      if (inside) {
        const callee = node.expression;
        const nameNode = ts.isPropertyAccessExpression(callee) ? callee.name : callee;
        let argument = 0;
        for (const a of node.arguments) if (cursor > a.getEnd()) argument++;
        best = { calleeEnd: nameNode.getEnd(), callee: callee.getText(sf), argument: Math.min(argument, Math.max(0, node.arguments.length)) };
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return best;
}

/** True when `cursor` touches an identifier (inside it or just past its end). */
export function identifierAt(code: string, cursor: number): boolean {
  const before = code.slice(0, cursor).match(/[A-Za-z_$][\w$]*$/);
  const after = code.slice(cursor).match(/^[\w$]+/);
  return !!before || (!!after && /^[A-Za-z_$]/.test(after[0]));
}

/**
 * The parser's verdict on code the user typed (jupyter's is_complete): `invalid` when it has a
 * syntax error that more lines cannot fix. `complete` from tslab's check is confirmed here.
 */
export function syntaxErrors(code: string): string[] {
  const sf = parse(code) as ts.SourceFile & { parseDiagnostics?: ts.Diagnostic[] };
  return (sf.parseDiagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

/**
 * Best TypeScript line for a transpiled JavaScript line: most shared identifiers, ties broken by
 * the nearest line number (import aliases such as `groundlab_1.train` count as `train`).
 */
export function matchLine(js: string, src: string[], near: number): number | undefined {
  const skip = new Set(['exports', 'const', 'let', 'var', 'await', 'default', 'require']);
  const ids = (s: string) => new Set((s.match(/[A-Za-z_$][\w$]*/g) || []).map((w) => w.replace(/_\d+$/, '')).filter((w) => !skip.has(w)));
  const want = ids(js);
  let best = -1;
  let bestScore = 0;
  for (let i = 0; i < src.length; i++) {
    const have = ids(src[i]);
    let score = 0;
    for (const w of want) if (have.has(w)) score++;
    if (score > bestScore || (score === bestScore && score > 0 && Math.abs(i + 1 - near) < Math.abs(best + 1 - near))) {
      best = i;
      bestScore = score;
    }
  }
  return best >= 0 ? best + 1 : undefined;
}
