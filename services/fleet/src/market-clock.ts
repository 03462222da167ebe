/**
 * The fleet's market clock.
 *
 * Live bars are produced on an accelerated clock (NOCTRIA_LIVE_SPEED × real time), so after a while market time
 * runs ahead of the wall clock and the stored bars are "in the future". Restarting with market time = wall clock
 * would travel back in time: the live loop would wait until the wall clock caught up with the watermarks.
 *
 * Rule: when the fleet starts, market time = max(wall clock, close of the newest stored bar of the fleet's
 * series); from there it runs at `speed` × real time. So market time never goes backwards across restarts, a
 * short restart continues right after the last stored bar (nothing is skipped, nothing re-fetched), and after a
 * long stop (wall clock past the watermarks) the start-up backfill fills the gap up to the wall clock.
 * Until `start()` the clock is the wall clock.
 */
export class FleetMarketClock {
  private anchorReal: number | undefined;
  private anchorMarket = 0;

  constructor(
    readonly speed: number,
    private readonly realNow: () => number = Date.now,
  ) {
    if (!(speed > 0)) throw new RangeError('speed must be > 0');
  }

  now(): number {
    if (this.anchorReal === undefined) return this.realNow();
    return this.anchorMarket + (this.realNow() - this.anchorReal) * this.speed;
  }

  /** Starts market time at max(wall clock, `resumeFromMs`); returns it. */
  start(resumeFromMs: number | undefined): number {
    const wall = this.realNow();
    this.anchorMarket = Math.max(wall, resumeFromMs ?? Number.NEGATIVE_INFINITY);
    this.anchorReal = wall;
    return this.anchorMarket;
  }

  get started(): boolean {
    return this.anchorReal !== undefined;
  }
}
