/**
 * Helpers shared by the widget payload builders (widgets.ts, circuit.ts, das.ts, bindinggrid.ts):
 * the one error for bad input, number rounding for payloads, step checks, the payload's head fields,
 * SVG text escaping.
 * Not part of the public API (src/viz/index.ts does not export this file).
 */
import { GroundlabError } from '../errors';

export function bad(message: string, hint?: string): never {
  throw new GroundlabError('BAD_ARGUMENT', message, { hint });
}

/** A payload number: 5 significant digits, null for NaN, infinities and missing values. */
export function num(x: number | null | undefined): number | null {
  if (x == null || !Number.isFinite(x)) return null;
  return Number(Number(x).toPrecision(5));
}

/** Checkpoint steps: a non-empty, strictly ascending array of numbers. */
export function ensureSteps(steps: number[], what: string): void {
  if (!Array.isArray(steps) || steps.length === 0) bad(`${what}: steps must be a non-empty array`);
  for (let i = 0; i < steps.length; i++) {
    if (!Number.isFinite(steps[i])) bad(`${what}: steps[${i}] is not a number`);
    if (i > 0 && steps[i] <= steps[i - 1]) bad(`${what}: steps must be strictly ascending (steps[${i}] = ${steps[i]})`);
  }
}

/** The checkpoint a widget opens at: `initialStep` when given (it must be one of `steps`), else the last. */
export function initialStepIn(steps: number[], initialStep: number | undefined, what: string): number {
  const s = initialStep ?? steps[steps.length - 1];
  if (!steps.includes(s)) bad(`${what}: initialStep ${s} is not in steps`);
  return s;
}

/** The fields a widget payload has after its version: the title (the widget's own by default), the model, the link key. */
export function payloadHead(
  d: { title?: string; model?: string; link?: string },
  title: string,
): { title: string; model: string; link: string } {
  return { title: d.title ?? title, model: d.model ?? '', link: d.link ?? 'default' };
}

/** Text for SVG / HTML: &, <, > and " escaped. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
