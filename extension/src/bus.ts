/**
 * Links widgets on one page: a timeline and the inspectors with the same link key follow one
 * checkpoint. Moving any scrubber publishes the step; every other subscriber of the key updates.
 */
export type StepListener = (step: number) => void;

const channels = new Map<string, Set<StepListener>>();

export function subscribe(link: string, fn: StepListener): () => void {
  let set = channels.get(link);
  if (!set) {
    set = new Set();
    channels.set(link, set);
  }
  set.add(fn);
  return () => {
    set!.delete(fn);
    if (set!.size === 0) channels.delete(link);
  };
}

/** Sends `step` to every listener of `link` except `from`. */
export function publish(link: string, step: number, from?: StepListener): void {
  for (const fn of Array.from(channels.get(link) ?? [])) if (fn !== from) fn(step);
}

export function listenerCount(link: string): number {
  return channels.get(link)?.size ?? 0;
}

/** The index of the step in `steps` nearest to `step` (ties go to the earlier one). */
export function nearestIndex(steps: number[], step: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) if (Math.abs(steps[i] - step) < Math.abs(steps[best] - step)) best = i;
  return best;
}

/**
 * Keyboard steps for a checkpoint slider (arrows, Home/End, PageUp/PageDown), handled by the widget
 * itself: inside a notebook, JupyterLab's command-mode shortcuts would otherwise take arrow keys.
 * Returns the new index, or null for a key that is not a slider key.
 */
export function sliderKey(key: string, index: number, count: number): number | null {
  const page = Math.max(1, Math.round(count / 10));
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case 'ArrowRight':
    case 'ArrowUp':
      return clamp(index + 1);
    case 'ArrowLeft':
    case 'ArrowDown':
      return clamp(index - 1);
    case 'PageUp':
      return clamp(index + page);
    case 'PageDown':
      return clamp(index - page);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
