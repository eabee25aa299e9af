/** Named settings of the corpus generators, and overrides of their knobs checked against limits. */
import { GroundlabError } from '../errors';
import { unknownNameHint } from '../names';

/** [smallest, largest, whole numbers only]. */
export type KnobLimit = [number, number, boolean];

/**
 * The knobs of a named setting with overrides applied; each override (a number or a numeric string,
 * as the CLI gives it) is checked against its limit. `what` names the generator in errors.
 */
export function resolveKnobs<K extends object>(
  what: string,
  settings: Record<string, K>,
  limits: Record<keyof K, KnobLimit>,
  setting: string,
  overrides: Record<string, unknown>,
): K {
  const base = settings[setting];
  if (!base)
    throw new GroundlabError('BAD_CONFIG', `unknown ${what} setting "${setting}"`, {
      hint: `use one of ${Object.keys(settings).join(', ')}`,
    });
  const k: K = { ...base };
  for (const [name, raw] of Object.entries(overrides)) {
    const lim = (limits as Record<string, KnobLimit>)[name];
    if (!lim)
      throw new GroundlabError('BAD_CONFIG', `unknown ${what} knob "${name}"`, {
        hint: unknownNameHint(name, Object.keys(limits), 'knobs'),
      });
    const [lo, hi, whole] = lim;
    const v = typeof raw === 'string' ? Number(raw) : raw;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (whole && !Number.isInteger(v)))
      throw new GroundlabError(
        'BAD_CONFIG',
        `knob ${name} = ${JSON.stringify(raw)}: expected ${whole ? 'a whole number' : 'a number'} from ${lo} to ${hi}`,
      );
    (k as Record<string, number>)[name] = v;
  }
  return k;
}
