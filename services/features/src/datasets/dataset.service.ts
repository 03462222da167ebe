/**
 * Training dataset snapshots of the features service (`rpc.features.snapshot`, `POST /features/snapshots`).
 *
 * A request {pairs, timeframe, from, to, label_params?, seed?} is resolved (default pairs: every configured pair
 * of the timeframe; label parameters: core_policy for the timeframe and calendar, then the overrides) and keyed by
 * the sha256 of its canonical form with the feature schema hash: the same request finds the same snapshot. A build
 * reads the pairs' stored leg bars before `to` (everything retained before `from` is warm-up history), runs the
 * library path (snapshot.ts), checks the recomputed features against the stored vectors, and writes one Parquet
 * file per pair and `manifest.json` to the ArtifactStore (bucket `datasets`, names `<snapshot id>/<file>`).
 *
 * Integrity check (per pair, `integrity` of the snapshot): the stored vectors of the series are recomputed from the
 * stored leg bars they were computed from and must match bit for bit, else the build fails with
 * DATA_FEATURES_INTEGRITY; the snapshot rows equal to the live vectors are counted (see verify()).
 *
 * A build longer than `replyWaitMs` does not hold the request: the reply carries the id with status `building`,
 * and the same request or `{snapshot_id}` reports `ready` (or `failed` with its error id) later.
 */
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Calendar, CanonicalBar, DqOptions, QualityFlag, Timeframe } from '@noctria/canonical-bar';
import { FEATURE_NAMES, FeatureError, PairFeatureEngine, labelParamsFromPolicy, resolveLabelParams, DEFAULT_LABEL_PARAMS, type CoreLabelPolicy, type LabelParams } from '@noctria/features';
import { ARTIFACT_STORE, NoctriaError, reportError, ShutdownCoordinator, type ArtifactRef, type ArtifactStore } from '@noctria/platform';
import { FEATURES_ERROR } from '../errors.js';
import { FeaturesRuntime } from '../features.runtime.js';
import type { PairSeriesSpec } from '../pipeline/settings.js';
import { codeVersion } from './code-version.js';
import { registerDatasetRpc } from './dataset.rpc.js';
import { DATASET_ERROR } from './errors.js';
import { buildSnapshot, canonicalJson, sha256Hex, snapshotIdOf, SNAPSHOT_FORMAT, type BuiltSnapshot, type PairComputation } from './snapshot.js';

/** Dataset settings from the policies (main.options.ts); every field has a default for tests and tools. */
export interface DatasetOptions {
  /** universe.yaml calendar (gap rule of the training-data quality, drawdown window of the labels). */
  calendar?: Calendar;
  /** pipeline_policy DQ thresholds (calendar is `calendar`). */
  dq?: Omit<DqOptions, 'calendar'>;
  /** core_policy label keys; without it DEFAULT_LABEL_PARAMS. */
  labelPolicy?: CoreLabelPolicy;
  /** data_retention.features_snapshot_months (default 24). */
  retentionMonths?: number;
  /** How long a request waits for its build before replying `building` (default 5 s, below the bus request timeouts). */
  replyWaitMs?: number;
  /** Interval of the retention pass (default 1 h; 0 = no timer, callers run pruneExpiredSnapshots). */
  pruneEveryMs?: number;
  /** Artefact bucket (default `datasets`). */
  bucket?: string;
}

const PAIR_ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'pair id (A-Z0-9_-)');

export const snapshotRequestSchema = z
  .object({
    pairs: z.array(PAIR_ID).min(1).max(200).optional(),
    timeframe: z.enum(['1m', '5m', '15m', '1h', '4h', '1d']),
    from: z.string().datetime({ offset: true }),
    to: z.string().datetime({ offset: true }),
    label_params: z.record(z.string(), z.number()).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  })
  .strict();

export const snapshotQuerySchema = z.object({ snapshot_id: z.string().regex(/^ds-[0-9a-f]{32}$/, 'snapshot id ds-<32 hex>') }).strict();

export type SnapshotRequest = z.input<typeof snapshotRequestSchema>;
export type SnapshotStatus = 'building' | 'ready' | 'failed';

/** What a reply carries about a snapshot (the manifest ref and sha256, never the bytes). */
export interface SnapshotView {
  snapshot_id: string;
  status: SnapshotStatus;
  timeframe: string;
  pairs: string[];
  period: { from: string; to: string };
  feature_schema_hash: string;
  data_hash: string | null;
  code_version: string | null;
  rows: number | null;
  manifest: ArtifactRef | null;
  manifest_sha256: string | null;
  artifacts: ArtifactRef[];
  integrity: Record<string, PairIntegrity> | null;
  error: { id: string; message: string } | null;
  created_at: string;
  ready_at: string | null;
  expires_at: string;
  request: Record<string, unknown>;
}

interface Row {
  id: string;
  request_key: string;
  request: Record<string, unknown>;
  status: SnapshotStatus;
  timeframe: string;
  pairs: string[];
  period_from: Date;
  period_to: Date;
  feature_schema_hash: string;
  data_hash: string | null;
  code_version: string | null;
  rows: number | null;
  manifest_ref: ArtifactRef | null;
  manifest_sha256: string | null;
  artifacts: ArtifactRef[];
  integrity: Record<string, PairIntegrity> | null;
  error_id: string | null;
  error_message: string | null;
  created_at: Date;
  ready_at: Date | null;
  expires_at: Date;
}

interface Resolved {
  series: PairSeriesSpec[];
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  labelParams: LabelParams;
  seed: number;
  /** Canonical request: what the key is computed from (recorded on the row with the request as received). */
  canonical: Record<string, unknown>;
  body: z.output<typeof snapshotRequestSchema>;
}

const iso = (d: Date | number) => new Date(d).toISOString();

function addMonthsMs(ms: number, months: number): number {
  const d = new Date(ms);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  return Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

const badRequest = (message: string, details: Record<string, unknown> = {}) => new NoctriaError(FEATURES_ERROR.BAD_REQUEST, message, { severity: 'INFO', details });

@Injectable()
export class DatasetService implements OnApplicationBootstrap {
  private readonly inflight = new Map<string, Promise<void>>();
  private pruneTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    @Inject(FeaturesRuntime) private readonly rt: FeaturesRuntime,
    @Inject(ARTIFACT_STORE) readonly artifacts: ArtifactStore,
    @Inject(ShutdownCoordinator) private readonly shutdown: ShutdownCoordinator,
  ) {}

  private get opts(): DatasetOptions {
    return this.rt.options.datasets ?? {};
  }

  get bucket(): string {
    return this.opts.bucket ?? 'datasets';
  }

  private now(): number {
    return (this.rt.options.now ?? Date.now)();
  }

  async onApplicationBootstrap(): Promise<void> {
    // Builds interrupted by a stop (single pod) are restarted; their requests are recorded.
    const interrupted = await sql<Row>`select * from features.dataset_snapshots where status = 'building'`.execute(this.rt.db);
    for (const row of interrupted.rows) {
      try {
        const resolved = this.resolve(row.request['body']);
        // A policy change since the request gives another snapshot; this one cannot be built as requested.
        if (snapshotIdOf(sha256Hex(canonicalJson(resolved.canonical))) !== row.id) throw new NoctriaError(DATASET_ERROR.SNAPSHOT, 'the parameters changed while the snapshot was building; request it again', { severity: 'INFO' });
        this.startBuild(row.id, resolved);
      } catch (err) {
        await this.markFailed(row.id, err);
      }
    }
    this.shutdown.register('features.datasets', {
      stop: async () => {
        this.stopping = true;
        if (this.pruneTimer) clearInterval(this.pruneTimer);
        await Promise.allSettled([...this.inflight.values()]);
      },
    });
    if (this.rt.options.rpc ?? true) {
      await registerDatasetRpc(this, { shutdown: this.shutdown, logger: this.rt.logger, registry: this.rt.registry, prefix: this.rt.options.busPrefix ?? '' });
    }
    const every = this.opts.pruneEveryMs ?? 3_600_000;
    if (every > 0) {
      const tick = () => {
        if (this.stopping) return;
        this.pruneExpiredSnapshots().catch((err: unknown) =>
          reportError(err, { logger: this.rt.logger, registry: this.rt.registry, fallbackId: DATASET_ERROR.SNAPSHOT, context: { event: 'snapshot_prune_failed' } }),
        );
      };
      this.pruneTimer = setInterval(tick, every);
      this.pruneTimer.unref();
      tick();
    }
  }

  /** `rpc.features.snapshot` body: `{snapshot_id}` reports one snapshot, anything else is a build request. */
  async handle(body: unknown): Promise<SnapshotView> {
    if (body !== null && typeof body === 'object' && 'snapshot_id' in body) return this.get(snapshotQuerySchema.parse(body).snapshot_id);
    return this.request(body);
  }

  /** Builds the snapshot of a request, or returns the existing one (idempotent); see the module comment for timing. */
  async request(body: unknown): Promise<SnapshotView> {
    const resolved = this.resolve(body);
    const key = sha256Hex(canonicalJson(resolved.canonical));
    const id = snapshotIdOf(key);
    const nowMs = this.now();
    const expires = addMonthsMs(nowMs, this.opts.retentionMonths ?? 24);
    // A failed snapshot of the same request is built again; a building or ready one is left as it is.
    const claimed = await sql<{ id: string }>`
      insert into features.dataset_snapshots
        (id, request_key, request, status, timeframe, pairs, period_from, period_to, feature_schema_hash, created_at, expires_at)
      values (${id}, ${key}, ${JSON.stringify({ ...resolved.canonical, body: resolved.body })}::jsonb, 'building', ${resolved.timeframe}, ${resolved.series.map((s) => s.pairId)}::text[],
              ${iso(resolved.fromMs)}::timestamptz, ${iso(resolved.toMs)}::timestamptz, ${String(resolved.canonical['feature_schema_hash'])},
              ${iso(nowMs)}::timestamptz, ${iso(expires)}::timestamptz)
      on conflict (id) do update set status = 'building', error_id = null, error_message = null,
        created_at = excluded.created_at, expires_at = excluded.expires_at
        where dataset_snapshots.status = 'failed'
      returning id`.execute(this.rt.db);
    if (claimed.rows.length > 0) this.startBuild(id, resolved);
    const running = this.inflight.get(id);
    if (running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([running.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, this.opts.replyWaitMs ?? 5_000)))]);
      clearTimeout(timer);
    }
    const view = await this.get(id);
    if (view.status === 'failed' && view.error) throw new NoctriaError(view.error.id, view.error.message, { severity: 'INFO', details: { snapshot_id: id } });
    return view;
  }

  async get(id: string): Promise<SnapshotView> {
    const r = await sql<Row>`select * from features.dataset_snapshots where id = ${id}`.execute(this.rt.db);
    if (!r.rows[0]) throw new NoctriaError(FEATURES_ERROR.NOT_FOUND, `no dataset snapshot ${id}`, { severity: 'INFO', details: { snapshot_id: id } });
    return viewOf(r.rows[0]);
  }

  async list(limit = 100): Promise<SnapshotView[]> {
    const r = await sql<Row>`select * from features.dataset_snapshots order by created_at desc, id limit ${limit}`.execute(this.rt.db);
    return r.rows.map(viewOf);
  }

  /** Resolves with the build of `id` started by this process (tests, shutdown). */
  async settled(id: string): Promise<void> {
    await this.inflight.get(id)?.catch(() => undefined);
  }

  /**
   * The retention pass: snapshots whose `expires_at` (created_at + features_snapshot_months) has passed lose their
   * artefacts, then their row. A snapshot still building is left for the next pass. Returns the ids deleted.
   */
  async pruneExpiredSnapshots(nowMs = this.now()): Promise<string[]> {
    const r = await sql<Row>`
      select * from features.dataset_snapshots where expires_at <= ${iso(nowMs)}::timestamptz and status <> 'building' order by expires_at, id`.execute(this.rt.db);
    const deleted: string[] = [];
    for (const row of r.rows) {
      // Every name the build may have written, also those of a build that failed half-way.
      const names = new Set(row.artifacts.map((a) => a.name));
      for (const a of await this.artifacts.list(this.bucket)) if (a.name.startsWith(`${row.id}/`)) names.add(a.name);
      for (const name of names) await this.artifacts.delete(this.bucket, name);
      await sql`delete from features.dataset_snapshots where id = ${row.id}`.execute(this.rt.db);
      deleted.push(row.id);
      this.rt.logger.info({ event: 'snapshot_pruned', details: { snapshot_id: row.id, artifacts: names.size, expires_at: iso(row.expires_at) } }, 'expired dataset snapshot deleted');
    }
    return deleted;
  }

  private resolve(body: unknown): Resolved {
    const q = snapshotRequestSchema.parse(body);
    const fromMs = Date.parse(q.from);
    const toMs = Date.parse(q.to);
    if (!(fromMs < toMs)) throw badRequest(`from (${q.from}) must be before to (${q.to})`, { from: q.from, to: q.to });
    const timeframe = q.timeframe as Timeframe;
    const configured = this.rt.settings.series.filter((s) => s.timeframe === timeframe);
    const wanted = q.pairs ?? configured.map((s) => s.pairId);
    if (new Set(wanted).size !== wanted.length) throw badRequest('pairs must be unique', { pairs: wanted });
    const series = wanted.map((pairId) => {
      const s = configured.find((x) => x.pairId === pairId);
      if (!s) throw new NoctriaError(FEATURES_ERROR.NOT_FOUND, `pair ${pairId} × ${timeframe} is not computed by this service`, { severity: 'INFO', details: { pair_id: pairId, timeframe } });
      return s;
    });
    if (series.length === 0) throw new NoctriaError(FEATURES_ERROR.NOT_FOUND, `no pair is computed on ${timeframe}`, { severity: 'INFO', details: { timeframe } });
    const calendar = this.opts.calendar ?? '24/5';
    let labelParams: LabelParams;
    try {
      const base = this.opts.labelPolicy ? labelParamsFromPolicy(this.opts.labelPolicy, timeframe, calendar) : { ...DEFAULT_LABEL_PARAMS };
      labelParams = resolveLabelParams({ ...base, ...(q.label_params ?? {}) });
    } catch (err) {
      if (err instanceof FeatureError) throw badRequest(`label_params: ${err.message}`, { label_error: err.id });
      throw err;
    }
    const dq: DqOptions = { ...(this.opts.dq ?? {}), calendar };
    const canonical = {
      format: SNAPSHOT_FORMAT,
      timeframe,
      pairs: series.map((s) => ({ pair_id: s.pairId, legs: [s.symbolA, s.symbolB] })),
      from: iso(fromMs),
      to: iso(toMs),
      feature_schema_hash: this.rt.pipeline.schemaHash,
      label_params: labelParams,
      dq,
      seed: q.seed,
    };
    return { series, timeframe, fromMs, toMs, labelParams, seed: q.seed, canonical, body: q };
  }

  private startBuild(id: string, r: Resolved): void {
    const p = this.build(id, r)
      .catch(async (err: unknown) => {
        await this.markFailed(id, err);
      })
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
  }

  private async markFailed(id: string, err: unknown): Promise<void> {
    const e = reportError(err, { logger: this.rt.logger, registry: this.rt.registry, fallbackId: DATASET_ERROR.SNAPSHOT, context: { event: 'snapshot_failed', snapshot_id: id } });
    await sql`update features.dataset_snapshots set status = 'failed', error_id = ${e.id}, error_message = ${e.message} where id = ${id}`.execute(this.rt.db);
  }

  private async build(id: string, r: Resolved): Promise<void> {
    const started = performance.now();
    const inputs = [];
    for (const s of r.series) {
      inputs.push({ pairId: s.pairId, symbolA: s.symbolA, symbolB: s.symbolB, a: await this.legBars(s.symbolA, r.timeframe, r.toMs), b: await this.legBars(s.symbolB, r.timeframe, r.toMs) });
    }
    const built = buildSnapshot(id, inputs, {
      timeframe: r.timeframe,
      fromMs: r.fromMs,
      toMs: r.toMs,
      featureParams: this.rt.settings.params,
      labelParams: r.labelParams,
      dq: r.canonical['dq'] as DqOptions,
      seed: r.seed,
      codeVersion: codeVersion(),
    });
    if (built.manifest.feature_schema_hash !== this.rt.pipeline.schemaHash) {
      throw new NoctriaError(DATASET_ERROR.INTEGRITY, 'the snapshot feature schema hash differs from the service schema hash', { severity: 'CRITICAL' });
    }
    for (const p of built.manifest.pairs) {
      if (p.rows === 0) {
        throw new NoctriaError(DATASET_ERROR.NODATA, `pair ${p.pair_id}: no usable ${r.timeframe} rows in [${iso(r.fromMs)}, ${iso(r.toMs)}) (${p.input_bars} aligned bars stored before the end)`, {
          severity: 'INFO',
          details: { pair_id: p.pair_id, input_bars: p.input_bars },
        });
      }
    }
    const integrity: Record<string, PairIntegrity> = {};
    for (const [k, p] of built.pairs.entries()) integrity[p.pairId] = await this.verify(p, r, inputs[k]!);
    const refs = await this.store(id, built);
    const manifestRef = refs[refs.length - 1]!;
    await sql`
      update features.dataset_snapshots set status = 'ready', error_id = null, error_message = null, data_hash = ${built.manifest.data_hash}, code_version = ${built.manifest.code_version},
        rows = ${built.manifest.rows}, manifest_ref = ${JSON.stringify(manifestRef)}::jsonb, manifest_sha256 = ${manifestRef.sha256},
        artifacts = ${JSON.stringify(refs)}::jsonb, integrity = ${JSON.stringify(integrity)}::jsonb, ready_at = ${iso(this.now())}::timestamptz
      where id = ${id}`.execute(this.rt.db);
    this.rt.logger.info(
      { event: 'snapshot_ready', details: { snapshot_id: id, rows: built.manifest.rows, pairs: built.manifest.pairs.length, data_hash: built.manifest.data_hash, ms: Math.round(performance.now() - started) } },
      'dataset snapshot ready',
    );
  }

  /** Parquet files first, the manifest last: a reader that finds the manifest finds every file it names. */
  private async store(id: string, built: BuiltSnapshot): Promise<ArtifactRef[]> {
    const refs: ArtifactRef[] = [];
    for (const f of built.files) {
      const ref = await this.artifacts.put(this.bucket, `${id}/${f.name}`, f.bytes, {
        contentType: f.name.endsWith('.json') ? 'application/json' : 'application/vnd.apache.parquet',
        metadata: { snapshot_id: id, format: SNAPSHOT_FORMAT },
      });
      if (ref.sha256 !== f.sha256) throw new NoctriaError(DATASET_ERROR.SNAPSHOT, `stored ${f.name} does not hash to the built bytes`, { severity: 'CRITICAL' });
      refs.push(ref);
    }
    return refs;
  }

  private async legBars(symbol: string, timeframe: Timeframe, toMs: number): Promise<CanonicalBar[]> {
    const r = await sql<{ ts_utc: Date; open: number; high: number; low: number; close: number; volume: number | null; quality_flag: QualityFlag; source_id: string }>`
      select ts_utc, open, high, low, close, volume, quality_flag, source_id from features.leg_bars
      where symbol = ${symbol} and timeframe = ${timeframe} and ts_utc < ${iso(toMs)}::timestamptz
      order by ts_utc`.execute(this.rt.db);
    return r.rows.map((x) => ({
      ts_utc: iso(x.ts_utc),
      symbol,
      timeframe,
      open: x.open,
      high: x.high,
      low: x.low,
      close: x.close,
      volume: x.volume,
      quality_flag: x.quality_flag,
      source_id: x.source_id,
      ingest_run_id: 'features',
      metadata: {},
    }));
  }

  /**
   * Integrity of the stored series against the bars it was computed from, and how far the snapshot follows it.
   * The live engine's input is the aligned bars of its stored vectors in order (bars_seen = 1, 2, …). When the
   * retained series starts at its first bar, computeFeatureMatrix over those bars must reproduce every stored vector
   * bit for bit; when retention pruned its beginning, the engine is restored from the newest retained checkpoint
   * before `from` (else the oldest retained one) and replays the stored bars after it — the same bit-exact
   * comparison for every vector after the checkpoint. A difference fails the build (DATA_FEATURES_INTEGRITY).
   * `snapshot_rows_equal_live` counts the snapshot rows whose features equal the stored vector of their bar: the
   * others differ because the training-data quality step excluded or filled a bar before them, or because the
   * retained history is shorter than the live engine's (the training/serving difference, visible per pair).
   */
  private async verify(p: PairComputation, r: Resolved, input: { a: readonly CanonicalBar[]; b: readonly CanonicalBar[] }): Promise<PairIntegrity> {
    const key = { pairId: p.pairId, timeframe: r.timeframe, schemaHash: this.rt.pipeline.schemaHash };
    const v = await sql<{ ts_utc: Date; feature_values: (number | null)[]; bars_seen: number }>`
      select ts_utc, feature_values, bars_seen from features.vectors
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash} and ts_utc < ${iso(r.toMs)}::timestamptz
      order by ts_utc`.execute(this.rt.db);
    const vectors = v.rows.map((x) => ({ tsMs: x.ts_utc.getTime(), barsSeen: x.bars_seen, values: Float64Array.from(x.feature_values, (y) => y ?? Number.NaN) }));
    const out: PairIntegrity = { stored_vectors: 0, verified_vectors: 0, verified_from: null, unverified_reason: null, snapshot_rows_equal_live: 0 };
    const stored = new Map<number, Float64Array>();
    for (const x of vectors) {
      stored.set(x.tsMs, x.values);
      if (x.tsMs >= r.fromMs) out.stored_vectors++;
    }
    for (let i = 0; i < p.rows.n; i++) {
      const live = stored.get(p.rows.tsMs[i]!);
      if (live && FEATURE_NAMES.every((name, j) => Object.is(p.rows.features[name][i], live[j]))) out.snapshot_rows_equal_live++;
    }
    if (vectors.length === 0) return { ...out, unverified_reason: 'no_vectors' };

    let engine: PairFeatureEngine;
    let start: number;
    if (vectors[0]!.barsSeen === 1) {
      engine = new PairFeatureEngine(this.rt.settings.params);
      start = 0;
      out.verified_from = 'series_start';
    } else {
      const checkpoint = async (range: ReturnType<typeof sql>, order: ReturnType<typeof sql>) =>
        (
          await sql<{ bars_seen: number; ts_utc: Date; state: string }>`
            select bars_seen, ts_utc, state from features.checkpoints
            where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}
              and ts_utc >= ${iso(vectors[0]!.tsMs)}::timestamptz and ${range}
            order by ${order} limit 1`.execute(this.rt.db)
        ).rows[0];
      // The newest one before `from` verifies the whole period; failing that, the oldest one inside it.
      const cp =
        (await checkpoint(sql`ts_utc < ${iso(r.fromMs)}::timestamptz`, sql`ts_utc desc`)) ?? (await checkpoint(sql`ts_utc < ${iso(r.toMs)}::timestamptz`, sql`ts_utc asc`));
      start = cp ? vectors.findIndex((x) => x.tsMs === cp.ts_utc.getTime()) + 1 : 0;
      if (!cp || start === 0 || vectors[start - 1]!.barsSeen !== cp.bars_seen) return { ...out, unverified_reason: 'history_pruned' };
      engine = PairFeatureEngine.restore(JSON.parse(cp.state), this.rt.settings.params);
      out.verified_from = iso(cp.ts_utc);
    }
    const aByTs = new Map(input.a.map((x) => [Date.parse(x.ts_utc), x]));
    const bByTs = new Map(input.b.map((x) => [Date.parse(x.ts_utc), x]));
    const first = vectors[start - 1]?.barsSeen ?? 0;
    const row = new Float64Array(FEATURE_NAMES.length);
    for (let k = start; k < vectors.length; k++) {
      const x = vectors[k]!;
      const la = aByTs.get(x.tsMs);
      const lb = bByTs.get(x.tsMs);
      if (x.barsSeen !== first + (k - start) + 1) return { ...out, verified_vectors: 0, verified_from: null, unverified_reason: 'series_gap' };
      if (!la || !lb) return { ...out, verified_vectors: 0, verified_from: null, unverified_reason: 'leg_bars_missing' };
      engine.update({ tsMs: x.tsMs, a: { open: la.open, high: la.high, low: la.low, close: la.close }, b: { open: lb.open, high: lb.high, low: lb.low, close: lb.close } }, row);
      for (const [j, name] of FEATURE_NAMES.entries()) {
        if (!Object.is(row[j], x.values[j])) {
          throw new NoctriaError(DATASET_ERROR.INTEGRITY, `pair ${p.pairId} ${iso(x.tsMs)}: the stored vector has ${name} = ${x.values[j]}, its bars give ${row[j]}`, {
            severity: 'CRITICAL',
            details: { pair_id: p.pairId, ts_utc: iso(x.tsMs), feature: name, stored: x.values[j], recomputed: row[j] },
          });
        }
      }
      if (x.tsMs >= r.fromMs) out.verified_vectors++;
    }
    return out;
  }
}

export interface PairIntegrity {
  /** Stored vectors of the period. */
  stored_vectors: number;
  /** Of those, recomputed bit for bit from their bars. */
  verified_vectors: number;
  /** Where the recomputation started: the series' first bar, or the time of the checkpoint it was restored from. */
  verified_from: 'series_start' | string | null;
  unverified_reason: 'no_vectors' | 'history_pruned' | 'series_gap' | 'leg_bars_missing' | null;
  snapshot_rows_equal_live: number;
}

function viewOf(row: Row): SnapshotView {
  return {
    snapshot_id: row.id,
    status: row.status,
    timeframe: row.timeframe,
    pairs: row.pairs,
    period: { from: iso(row.period_from), to: iso(row.period_to) },
    feature_schema_hash: row.feature_schema_hash,
    data_hash: row.data_hash,
    code_version: row.code_version,
    rows: row.rows,
    manifest: row.manifest_ref,
    manifest_sha256: row.manifest_sha256,
    artifacts: row.artifacts,
    integrity: row.integrity,
    error: row.error_id ? { id: row.error_id, message: row.error_message ?? '' } : null,
    created_at: iso(row.created_at),
    ready_at: row.ready_at ? iso(row.ready_at) : null,
    expires_at: iso(row.expires_at),
    request: row.request,
  };
}
