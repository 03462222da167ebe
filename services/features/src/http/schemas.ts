import { z } from 'zod';
import { FEATURE_NAMES } from '@noctria/features';
import { closeOf } from '../pipeline/settings.js';
import type { FeaturesRuntime } from '../features.runtime.js';
import { NoctriaError } from '@noctria/platform';
import { FEATURES_ERROR } from '../errors.js';
import type { Timeframe } from '@noctria/canonical-bar';

const timeframe = z.enum(['1m', '5m', '15m', '1h', '4h', '1d']);

/** Vectors of one series for a period (rpc.features.export, GET /features/vectors). */
export const vectorsQuerySchema = z
  .object({
    pair_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'pair id (A-Z0-9_-)'),
    timeframe,
    from: z.string().datetime().optional(),
    to: z.string().datetime().optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
    /** Opaque cursor: the ts_utc of the last row of the previous page. */
    cursor: z.string().datetime().optional(),
    /** Only vectors with every feature defined (warm-up rows left out). */
    complete_only: z
      .union([z.boolean(), z.enum(['true', 'false'])])
      .transform((v) => v === true || v === 'true')
      .optional(),
    /** Series of another feature schema hash (default: the active parameters). */
    schema_hash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), 'from must be before to');

export type VectorsQuery = z.output<typeof vectorsQuerySchema>;

/** Rows keyed by feature name (null = undefined during warm-up), paginated by cursor. */
export async function vectorsReply(rt: FeaturesRuntime, q: VectorsQuery) {
  const known = rt.settings.series.some((s) => s.pairId === q.pair_id && s.timeframe === q.timeframe);
  if (!known && q.schema_hash === undefined) {
    throw new NoctriaError(FEATURES_ERROR.NOT_FOUND, `no series ${q.pair_id} ${q.timeframe} (configured: ${rt.settings.series.map((s) => `${s.pairId} ${s.timeframe}`).join(', ')})`, { severity: 'INFO' });
  }
  const schemaHash = q.schema_hash ?? rt.pipeline.schemaHash;
  const rows = await rt.vectors.query(rt.db, {
    pairId: q.pair_id,
    timeframe: q.timeframe,
    schemaHash,
    limit: q.limit + 1,
    ...(q.from ? { fromMs: Date.parse(q.from) } : {}),
    ...(q.to ? { toMs: Date.parse(q.to) } : {}),
    ...(q.cursor ? { afterMs: Date.parse(q.cursor) } : {}),
    ...(q.complete_only ? { completeOnly: true } : {}),
  });
  const page = rows.slice(0, q.limit);
  return {
    pair_id: q.pair_id,
    timeframe: q.timeframe,
    schema_hash: schemaHash,
    feature_names: FEATURE_NAMES,
    rows: page.map((v) => ({
      ts_utc: new Date(v.tsMs).toISOString(),
      values: Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, Number.isNaN(v.values[i]!) ? null : v.values[i]!])),
      complete: v.complete,
      quality_flag: v.qualityFlag,
      quality_reasons: v.qualityReasons,
      bars_seen: v.barsSeen,
    })),
    next_cursor: rows.length > q.limit && page.length > 0 ? new Date(page[page.length - 1]!.tsMs).toISOString() : null,
  };
}

/** Per series: bars seen, newest bar, lag behind the service clock, warm-up state, last flag and z. */
export function statusReply(rt: FeaturesRuntime, nowMs: number) {
  return {
    schema_hash: rt.pipeline.schemaHash,
    warmup_bars: rt.pipeline.warmupBars,
    timeframes: rt.settings.timeframes,
    consumer: { stream: rt.consumerDefinition.stream, durable: rt.consumerDefinition.durable, filter_subjects: rt.consumerDefinition.filterSubjects },
    series: rt.pipeline.status().map((s) => ({
      pair_id: s.pairId,
      timeframe: s.timeframe,
      legs: [s.symbolA, s.symbolB],
      bars_seen: s.barsSeen,
      last_ts: s.lastTsMs === null ? null : new Date(s.lastTsMs).toISOString(),
      lag_seconds: s.lastTsMs === null ? null : Math.max(0, (nowMs - closeOf(s.lastTsMs, s.timeframe as Timeframe)) / 1000),
      warmup: { complete: s.complete, remaining_bars: s.warmupRemaining },
      last_quality_flag: s.lastFlag,
      last_z: s.lastZ,
      vectors_since_start: s.vectorsSinceStart,
      last_stored_at: s.lastStoredMs === null ? null : new Date(s.lastStoredMs).toISOString(),
    })),
  };
}
