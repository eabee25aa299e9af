/** Timing and render scheduling shared by the inspector and the timeline. */

export function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/**
 * Serialises a widget's renders: `update()` schedules one render of the current state, and calls
 * made while one is queued share it. Records on the host element how many updates ran
 * (`data-updates`) and how long the last took (`data-last-update-ms`); a failed render goes to
 * `onError` and does not block later ones.
 */
export class RenderQueue {
  private queued: Promise<void> | null = null;
  private busy: Promise<void> = Promise.resolve();
  private updates = 0;

  constructor(
    private readonly host: HTMLElement,
    private readonly render: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  update(): Promise<void> {
    if (this.queued) return this.queued;
    const t0 = now();
    const run = this.busy.then(() => {
      this.queued = null;
      return this.render();
    });
    this.queued = run.then(() => {
      this.updates++;
      this.host.dataset.updates = String(this.updates);
      this.host.dataset.lastUpdateMs = (now() - t0).toFixed(1);
    });
    this.busy = this.queued.catch((e) => this.onError(e));
    return this.queued;
  }
}
