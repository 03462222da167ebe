/**
 * Vector quality rules (documented in docs/architecture.md, "The features service"):
 *
 * - Leg flags from ingest: `missing` → vector `missing`, `outlier` → `outlier`, `stale` (or a BarClosedEvent with
 *   `stale: true`) → `stale`. `ok`, `resampled`, `revised` and `conflict` (ingest kept the primary source's bar) do
 *   not degrade the vector.
 * - Timing, only when at least one leg is a live bar (ingest header `Noctria-Live: 1`; backfilled history is late by
 *   nature): `stale` when the later leg was consumed more than freshness_budget_seconds after the bar close
 *   (`late_after_close`) or after the other leg (`late_after_leg`).
 * - `beta_jump` when beta_stability exceeds dq_thresholds.beta_stability_std_jump × the median of its last
 *   FEATURES_BETA_JUMP_WINDOW defined values (window full, median > 0).
 * - One flag per vector, the most severe wins: missing > outlier > stale > beta_jump > ok; every reason is kept in
 *   `quality_reasons`.
 */
import type { QualityFlag } from '@noctria/canonical-bar';
import { worstFeatureFlag, type FeatureVectorFlag } from '@noctria/contracts';

export interface LegObservation {
  qualityFlag: QualityFlag;
  /** BarClosedEvent.stale: ingest published the bar after its freshness budget. */
  ingestStale: boolean;
  live: boolean;
  /** When this service consumed the leg (service clock, ms). */
  receivedMs: number;
}

export type QualityReason =
  | 'a_missing'
  | 'b_missing'
  | 'a_outlier'
  | 'b_outlier'
  | 'a_stale'
  | 'b_stale'
  | 'a_ingest_stale'
  | 'b_ingest_stale'
  | 'late_after_close'
  | 'late_after_leg'
  | 'beta_jump';

const REASON_FLAG: Record<QualityReason, FeatureVectorFlag> = {
  a_missing: 'missing',
  b_missing: 'missing',
  a_outlier: 'outlier',
  b_outlier: 'outlier',
  a_stale: 'stale',
  b_stale: 'stale',
  a_ingest_stale: 'stale',
  b_ingest_stale: 'stale',
  late_after_close: 'stale',
  late_after_leg: 'stale',
  beta_jump: 'beta_jump',
};

/** The reason label of the stale-vector counter (`features_stale_vectors_total{reason}`). */
export function staleMetricReason(r: QualityReason): 'late_after_close' | 'late_after_leg' | 'ingest_stale' | undefined {
  if (r === 'late_after_close' || r === 'late_after_leg') return r;
  if (r === 'a_stale' || r === 'b_stale' || r === 'a_ingest_stale' || r === 'b_ingest_stale') return 'ingest_stale';
  return undefined;
}

export interface VectorQuality {
  flag: FeatureVectorFlag;
  reasons: QualityReason[];
}

export function vectorQuality(a: LegObservation, b: LegObservation, ctx: { closeMs: number; budgetMs: number | undefined; betaJump: boolean }): VectorQuality {
  const reasons: QualityReason[] = [];
  for (const [leg, side] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    if (leg.qualityFlag === 'missing') reasons.push(`${side}_missing`);
    else if (leg.qualityFlag === 'outlier') reasons.push(`${side}_outlier`);
    else if (leg.qualityFlag === 'stale') reasons.push(`${side}_stale`);
    if (leg.ingestStale) reasons.push(`${side}_ingest_stale`);
  }
  if ((a.live || b.live) && ctx.budgetMs !== undefined) {
    const later = Math.max(a.receivedMs, b.receivedMs);
    const earlier = Math.min(a.receivedMs, b.receivedMs);
    if (later - ctx.closeMs > ctx.budgetMs) reasons.push('late_after_close');
    if (later - earlier > ctx.budgetMs) reasons.push('late_after_leg');
  }
  if (ctx.betaJump) reasons.push('beta_jump');
  return { flag: worstFeatureFlag(reasons.map((r) => REASON_FLAG[r])), reasons };
}

/**
 * The beta_stability jump rule over a sliding window of the last `size` defined values (excluding the one being
 * judged). `jumping` is the state after the last observation: counters and logs fire only when it turns on.
 * Its whole state is re-derivable from the stored vectors (last `size` defined beta_stability values and whether
 * the newest of them was a jump), so a restart reproduces it exactly.
 */
export class BetaJumpDetector {
  private readonly fifo: number[] = [];
  private readonly sorted: number[] = [];
  private jumping = false;

  constructor(
    readonly factor: number,
    readonly size: number,
  ) {
    if (!(factor > 0) || !Number.isInteger(size) || size < 1) throw new RangeError('BetaJumpDetector: factor > 0 and integer size >= 1 required');
  }

  /** Rebuilds the state from history: `values` oldest first (only the last `size` count), `lastWasJump` of the newest. */
  static fromHistory(factor: number, size: number, values: readonly number[], lastWasJump: boolean): BetaJumpDetector {
    const d = new BetaJumpDetector(factor, size);
    for (const v of values.slice(-size)) d.push(v);
    d.jumping = lastWasJump;
    return d;
  }

  get isJumping(): boolean {
    return this.jumping;
  }

  /** Median of the window (NaN until it is full). */
  median(): number {
    const n = this.sorted.length;
    if (n < this.size) return Number.NaN;
    return n % 2 === 1 ? this.sorted[(n - 1) / 2]! : (this.sorted[n / 2 - 1]! + this.sorted[n / 2]!) / 2;
  }

  /** Judges `value` against the window, then adds it. An undefined value (NaN) changes nothing. */
  observe(value: number): { jump: boolean; started: boolean; median: number } {
    if (value !== value) return { jump: false, started: false, median: this.median() };
    const median = this.median();
    const jump = median === median && median > 0 && value > this.factor * median;
    const started = jump && !this.jumping;
    this.jumping = jump;
    this.push(value);
    return { jump, started, median };
  }

  private push(v: number): void {
    this.fifo.push(v);
    insertSorted(this.sorted, v);
    if (this.fifo.length > this.size) removeSorted(this.sorted, this.fifo.shift()!);
  }
}

function lowerBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(a: number[], v: number): void {
  a.splice(lowerBound(a, v), 0, v);
}

function removeSorted(a: number[], v: number): void {
  const i = lowerBound(a, v);
  if (a[i] === v) a.splice(i, 1);
}
