/**
 * Colours that a widget and groundlab's static SVG fallback of it (src/viz/circuit.ts,
 * src/viz/das.ts) share, so that a saved notebook's image and the live widget agree.
 */
import type { DasMethod } from './contract.generated';

/** Circuit graph edges: toward the clean answer blue, away orange. */
export const EDGE_COLORS = { positive: '#1c7ed6', negative: '#e8590c' };

/** DAS panel lines per method: DAS and boundless DAS in colour, the baselines grey (drawn dashed). */
export const DAS_METHOD_COLORS: Record<DasMethod, string> = {
  das: '#1c7ed6',
  boundless: '#7048e8',
  identity: '#868e96',
  random: '#adb5bd',
  full: '#2f9e44',
  probe: '#f59f00',
};
