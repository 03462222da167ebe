/**
 * Training dataset snapshots (issue 3): features + AI1/AI2 labels + event metadata of a pair set over a period, as
 * one Parquet file per pair and a `manifest.json`. Pure: bars in, byte buffers out — the features service stores
 * them in the ArtifactStore, `noctria dataset build` writes them to a directory, so both produce the same bytes.
 *
 * Per pair the library path runs over every bar given (the history before `from` is the warm-up): preTrainingQuality
 * (±σ/spike exclusion, leg synchronisation, gap fill ≤ missing_fill_max_run, longer gaps split segments) →
 * computeFeatureMatrix per segment → buildLabelledDataset; then the rows with from ≤ ts < to are kept. Labels never
 * look past `to`: only bars before it are given, so an event still open at `to` is censored (`data_end`).
 *
 * Deterministic: no clock, no randomness; the manifest holds no creation time (that is on the snapshot record and
 * the artefact refs), so the same bars and parameters give byte-identical files.
 */
import { createHash } from 'node:crypto';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { CanonicalBar, DqOptions, Timeframe } from '@noctria/canonical-bar';
import {
  buildLabelledDatasetsFromBars,
  classWeightsFromCounts,
  FEATURE_NAMES,
  FEATURE_SCHEMA_VERSION,
  featureSchemaHash,
  fitRobustNormaliser,
  pairBarsHash,
  pairSeriesFromBars,
  resolveFeatureParams,
  resolveLabelParams,
  type ClassWeights,
  type FeatureName,
  type FeatureParams,
  type LabelledDatasetsFromBars,
  type LabelParams,
  type NormaliserParams,
  type PairBar,
  type PreTrainingQualityCounts,
} from '@noctria/features';

export const SNAPSHOT_FORMAT = 'noctria.features.dataset-snapshot.v1';

export interface SnapshotPairInput {
  pairId: string;
  symbolA: string;
  symbolB: string;
  /** Leg bars up to (not including) `toMs`, from as far back as the warm-up should reach. */
  a: readonly CanonicalBar[];
  b: readonly CanonicalBar[];
}

export interface SnapshotSpec {
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  featureParams?: Partial<FeatureParams>;
  labelParams?: Partial<LabelParams>;
  dq: DqOptions;
  seed: number;
  codeVersion: string;
}

/** Per-pair computation, kept for the caller's integrity checks (the service compares it with stored vectors). */
export interface PairComputation {
  pairId: string;
  symbolA: string;
  symbolB: string;
  /** pairBarsHash of the inner-joined input bars (before quality), the pair's data hash. */
  dataHash: string;
  inputBars: number;
  result: LabelledDatasetsFromBars;
  rows: PairRows;
}

/** Snapshot rows of one pair (from ≤ ts < to), columns. */
export interface PairRows {
  n: number;
  tsMs: Float64Array;
  segment: Int32Array;
  synthetic: Uint8Array;
  closeA: Float64Array;
  closeB: Float64Array;
  features: Record<FeatureName, Float64Array>;
  featuresComplete: Uint8Array;
  ai1IsEvent: Uint8Array;
  ai1Direction: Int32Array;
  ai1Outcome: (number | null)[];
  ai1EndTsMs: (number | null)[];
  ai1EndReason: (string | null)[];
  ai1Trainable: Uint8Array;
  ai2Risk: Uint8Array;
  ai2Defined: Uint8Array;
  ai2Corr: Uint8Array;
  ai2Vol: Uint8Array;
  ai2Speed: Uint8Array;
  ai2Dd: Uint8Array;
  ai2SpeedEma: Float64Array;
  ai2DdRecent: Float64Array;
  ai2Trainable: Uint8Array;
}

export interface SnapshotFile {
  /** Relative name inside the snapshot (`<pair_id>.parquet`, `manifest.json`). */
  name: string;
  bytes: Uint8Array;
  sha256: string;
}

export interface SnapshotManifestPair {
  pair_id: string;
  legs: [string, string];
  file: string;
  sha256: string;
  bytes: number;
  rows: number;
  rows_features_complete: number;
  ai1_events: number;
  ai1_trainable: number;
  ai2_trainable: number;
  data_hash: string;
  input_bars: number;
  quality: PreTrainingQualityCounts;
  segments: number;
  skipped_segments: number;
}

export interface SnapshotManifest {
  format: typeof SNAPSHOT_FORMAT;
  snapshot_id: string;
  timeframe: string;
  period: { from: string; to: string };
  pairs: SnapshotManifestPair[];
  rows: number;
  columns: string[];
  feature_schema_version: number;
  feature_schema_hash: string;
  feature_params: FeatureParams;
  label_params: LabelParams;
  dq: DqOptions;
  /** Robust normaliser fitted on the complete-feature rows of the period, every pair pooled. */
  normaliser: NormaliserParams | null;
  /** Pooled over the pairs' trainable rows; the weight columns of the files use them. */
  class_weights: { ai1: ClassWeights; ai2: ClassWeights; counts: { ai1: [number, number]; ai2: [number, number] } };
  /** sha256 over the pairs' data hashes (`<pair_id>:<hash>\n`, pairs in order). */
  data_hash: string;
  code_version: string;
  seed: number;
}

export interface BuiltSnapshot {
  manifest: SnapshotManifest;
  /** Parquet files then `manifest.json` last. */
  files: SnapshotFile[];
  pairs: PairComputation[];
}

export const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

const iso = (ms: number): string => new Date(ms).toISOString();

/** Canonical JSON: object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Inner join of the legs on bar time (what the data hash identifies). */
function alignedInput(a: readonly CanonicalBar[], b: readonly CanonicalBar[]): PairBar[] {
  const byTs = new Map<number, CanonicalBar>();
  for (const y of b) byTs.set(Date.parse(y.ts_utc), y);
  const out: PairBar[] = [];
  for (const x of [...a].sort((p, q) => Date.parse(p.ts_utc) - Date.parse(q.ts_utc))) {
    const t = Date.parse(x.ts_utc);
    const y = byTs.get(t);
    if (y === undefined) continue;
    out.push({ tsMs: t, a: { open: x.open, high: x.high, low: x.low, close: x.close }, b: { open: y.open, high: y.high, low: y.low, close: y.close } });
  }
  return out;
}

/** The library path for one pair and the rows of the period. */
export function computePair(input: SnapshotPairInput, spec: SnapshotSpec): PairComputation {
  const a = input.a.filter((x) => Date.parse(x.ts_utc) < spec.toMs);
  const b = input.b.filter((x) => Date.parse(x.ts_utc) < spec.toMs);
  const joined = alignedInput(a, b);
  const dataHash = pairBarsHash(pairSeriesFromBars(joined));
  const result = buildLabelledDatasetsFromBars(a, b, {
    dq: spec.dq,
    ...(spec.featureParams ? { featureParams: spec.featureParams } : {}),
    ...(spec.labelParams ? { labelParams: spec.labelParams } : {}),
  });
  return { pairId: input.pairId, symbolA: input.symbolA, symbolB: input.symbolB, dataHash, inputBars: joined.length, result, rows: periodRows(result, spec.fromMs, spec.toMs) };
}

function periodRows(r: LabelledDatasetsFromBars, fromMs: number, toMs: number): PairRows {
  const picks: { seg: number; ds: LabelledDatasetsFromBars['datasets'][number]['dataset']; i: number }[] = [];
  r.datasets.forEach(({ dataset: ds }, seg) => {
    for (let i = 0; i < ds.n; i++) {
      const t = ds.tsMs[i]!;
      if (t >= fromMs && t < toMs) picks.push({ seg, ds, i });
    }
  });
  const n = picks.length;
  const features = {} as Record<FeatureName, Float64Array>;
  for (const name of FEATURE_NAMES) features[name] = Float64Array.from(picks, (p) => p.ds.features[name][p.i]!);
  const u8 = (f: (p: (typeof picks)[number]) => number) => Uint8Array.from(picks, f);
  // Close prices are the bars the features were computed on (synthesised rows included).
  const segBars = r.datasets.map((d) => r.quality.bars.slice(d.segment.start, d.segment.end));
  return {
    n,
    tsMs: Float64Array.from(picks, (p) => p.ds.tsMs[p.i]!),
    segment: Int32Array.from(picks, (p) => p.seg),
    synthetic: u8((p) => p.ds.synthetic[p.i]!),
    closeA: Float64Array.from(picks, (p) => segBars[p.seg]![p.i]!.a.close),
    closeB: Float64Array.from(picks, (p) => segBars[p.seg]![p.i]!.b.close),
    features,
    featuresComplete: u8((p) => p.ds.featuresComplete[p.i]!),
    ai1IsEvent: u8((p) => p.ds.ai1.isEvent[p.i]!),
    ai1Direction: Int32Array.from(picks, (p) => p.ds.ai1.direction[p.i]!),
    ai1Outcome: picks.map((p) => (p.ds.ai1.isEvent[p.i] === 1 ? p.ds.ai1.outcome[p.i]! : null)),
    ai1EndTsMs: picks.map((p) => (p.ds.ai1.isEvent[p.i] === 1 ? p.ds.tsMs[p.ds.ai1.endIndex[p.i]!]! : null)),
    ai1EndReason: picks.map((p) => p.ds.ai1.endReason[p.i] ?? null),
    ai1Trainable: u8((p) => p.ds.ai1.trainable[p.i]!),
    ai2Risk: u8((p) => p.ds.ai2.risk[p.i]!),
    ai2Defined: u8((p) => p.ds.ai2.defined[p.i]!),
    ai2Corr: u8((p) => p.ds.ai2.corr[p.i]!),
    ai2Vol: u8((p) => p.ds.ai2.vol[p.i]!),
    ai2Speed: u8((p) => p.ds.ai2.speed[p.i]!),
    ai2Dd: u8((p) => p.ds.ai2.dd[p.i]!),
    ai2SpeedEma: Float64Array.from(picks, (p) => p.ds.ai2.speedEma[p.i]!),
    ai2DdRecent: Float64Array.from(picks, (p) => p.ds.ai2.ddRecent[p.i]!),
    ai2Trainable: u8((p) => p.ds.ai2.trainable[p.i]!),
  };
}

function counts(labels: ArrayLike<number>, mask: ArrayLike<number>): [number, number] {
  let n0 = 0;
  let n1 = 0;
  for (let i = 0; i < labels.length; i++) {
    if (mask[i] !== 1) continue;
    if (labels[i] === 1) n1++;
    else n0++;
  }
  return [n0, n1];
}

/** Column order of every pair file. */
export const SNAPSHOT_COLUMNS: readonly string[] = [
  'ts_utc',
  'segment',
  'synthetic',
  'close_a',
  'close_b',
  ...FEATURE_NAMES,
  'features_complete',
  'ai1_is_event',
  'ai1_direction',
  'ai1_outcome',
  'ai1_end_ts_utc',
  'ai1_end_reason',
  'ai1_trainable',
  'ai1_weight',
  'ai2_risk',
  'ai2_defined',
  'ai2_corr',
  'ai2_vol',
  'ai2_speed',
  'ai2_dd',
  'ai2_speed_ema',
  'ai2_dd_recent',
  'ai2_trainable',
  'ai2_weight',
];

function encodePairParquet(pairId: string, r: PairRows, w: { ai1: ClassWeights; ai2: ClassWeights }): Uint8Array {
  const dbl = (name: string, c: ArrayLike<number>) => ({ name, data: Array.from(c), type: 'DOUBLE' as const, nullable: false });
  const bool = (name: string, c: Uint8Array) => ({ name, data: Array.from(c, (x) => x === 1), type: 'BOOLEAN' as const, nullable: false });
  const int = (name: string, c: ArrayLike<number>) => ({ name, data: Array.from(c), type: 'INT32' as const, nullable: false });
  const weight = (labels: Uint8Array | (number | null)[], mask: Uint8Array, cw: ClassWeights) =>
    Array.from(mask, (m, i) => (m === 1 ? (labels[i] === 1 ? cw.w1 : cw.w0) : 0));
  const columnData = [
    { name: 'ts_utc', data: Array.from(r.tsMs, (t) => BigInt(t)), type: 'TIMESTAMP' as const, nullable: false },
    int('segment', r.segment),
    bool('synthetic', r.synthetic),
    dbl('close_a', r.closeA),
    dbl('close_b', r.closeB),
    ...FEATURE_NAMES.map((name) => dbl(name, r.features[name])),
    bool('features_complete', r.featuresComplete),
    bool('ai1_is_event', r.ai1IsEvent),
    int('ai1_direction', r.ai1Direction),
    { name: 'ai1_outcome', data: r.ai1Outcome, type: 'INT32' as const, nullable: true },
    { name: 'ai1_end_ts_utc', data: r.ai1EndTsMs.map((t) => (t === null ? null : BigInt(t))), type: 'TIMESTAMP' as const, nullable: true },
    { name: 'ai1_end_reason', data: r.ai1EndReason, type: 'STRING' as const, nullable: true },
    bool('ai1_trainable', r.ai1Trainable),
    dbl('ai1_weight', weight(r.ai1Outcome, r.ai1Trainable, w.ai1)),
    bool('ai2_risk', r.ai2Risk),
    bool('ai2_defined', r.ai2Defined),
    bool('ai2_corr', r.ai2Corr),
    bool('ai2_vol', r.ai2Vol),
    bool('ai2_speed', r.ai2Speed),
    bool('ai2_dd', r.ai2Dd),
    dbl('ai2_speed_ema', r.ai2SpeedEma),
    dbl('ai2_dd_recent', r.ai2DdRecent),
    bool('ai2_trainable', r.ai2Trainable),
    dbl('ai2_weight', weight(r.ai2Risk, r.ai2Trainable, w.ai2)),
  ];
  return new Uint8Array(
    parquetWriteBuffer({
      columnData,
      kvMetadata: [
        { key: 'noctria.format', value: SNAPSHOT_FORMAT },
        { key: 'noctria.pair_id', value: pairId },
      ],
      createdBy: 'noctria features dataset snapshot',
    }),
  );
}

/** Snapshot id: a digest of what the snapshot is made from (request, parameters), so a repeat finds it. */
export function snapshotIdOf(requestKey: string): string {
  return `ds-${requestKey.slice(0, 32)}`;
}

/** Builds every file of a snapshot from per-pair inputs. Pairs are processed in the given order. */
export function buildSnapshot(snapshotId: string, inputs: readonly SnapshotPairInput[], spec: SnapshotSpec): BuiltSnapshot {
  const featureParams = resolveFeatureParams(spec.featureParams);
  const labelParams = resolveLabelParams(spec.labelParams);
  const pairs = inputs.map((p) => computePair(p, { ...spec, featureParams, labelParams }));

  let a1: [number, number] = [0, 0];
  let a2: [number, number] = [0, 0];
  for (const p of pairs) {
    const c1 = counts(p.rows.ai1Outcome.map((x) => x ?? 0), p.rows.ai1Trainable);
    const c2 = counts(p.rows.ai2Risk, p.rows.ai2Trainable);
    a1 = [a1[0] + c1[0], a1[1] + c1[1]];
    a2 = [a2[0] + c2[0], a2[1] + c2[1]];
  }
  const weights = { ai1: classWeightsFromCounts(a1[0], a1[1], labelParams.classWeightMaxRatio), ai2: classWeightsFromCounts(a2[0], a2[1], labelParams.classWeightMaxRatio) };

  const schemaHash = featureSchemaHash(featureParams);
  const files: SnapshotFile[] = [];
  const manifestPairs: SnapshotManifestPair[] = [];
  for (const p of pairs) {
    const bytes = encodePairParquet(p.pairId, p.rows, weights);
    const file = `${p.pairId}.parquet`;
    const sha256 = sha256Hex(bytes);
    files.push({ name: file, bytes, sha256 });
    let complete = 0;
    let events = 0;
    let t1 = 0;
    let t2 = 0;
    for (let i = 0; i < p.rows.n; i++) {
      complete += p.rows.featuresComplete[i]!;
      events += p.rows.ai1IsEvent[i]!;
      t1 += p.rows.ai1Trainable[i]!;
      t2 += p.rows.ai2Trainable[i]!;
    }
    manifestPairs.push({
      pair_id: p.pairId,
      legs: [p.symbolA, p.symbolB],
      file,
      sha256,
      bytes: bytes.byteLength,
      rows: p.rows.n,
      rows_features_complete: complete,
      ai1_events: events,
      ai1_trainable: t1,
      ai2_trainable: t2,
      data_hash: p.dataHash,
      input_bars: p.inputBars,
      quality: p.result.quality.counts,
      segments: p.result.datasets.length,
      skipped_segments: p.result.skippedSegments.length,
    });
  }

  const manifest: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    snapshot_id: snapshotId,
    timeframe: spec.timeframe,
    period: { from: iso(spec.fromMs), to: iso(spec.toMs) },
    pairs: manifestPairs,
    rows: manifestPairs.reduce((s, p) => s + p.rows, 0),
    columns: [...SNAPSHOT_COLUMNS],
    feature_schema_version: FEATURE_SCHEMA_VERSION,
    feature_schema_hash: schemaHash,
    feature_params: featureParams,
    label_params: labelParams,
    dq: spec.dq,
    normaliser: fitPooledNormaliser(pairs, schemaHash),
    class_weights: { ai1: weights.ai1, ai2: weights.ai2, counts: { ai1: a1, ai2: a2 } },
    data_hash: combinedDataHash(pairs.map((p) => ({ pairId: p.pairId, dataHash: p.dataHash }))),
    code_version: spec.codeVersion,
    seed: spec.seed,
  };
  const manifestBytes = new TextEncoder().encode(`${JSON.stringify(sortKeys(manifest), jsonNumbers, 2)}\n`);
  files.push({ name: 'manifest.json', bytes: manifestBytes, sha256: sha256Hex(manifestBytes) });
  return { manifest, files, pairs };
}

/** NaN/±Infinity are not JSON; the normaliser of a constant feature can carry them. */
function jsonNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

export function combinedDataHash(pairs: readonly { pairId: string; dataHash: string }[]): string {
  return sha256Hex(pairs.map((p) => `${p.pairId}:${p.dataHash}\n`).join(''));
}

/** Rows of every pair with all features defined, pooled; null when the period has none. */
function fitPooledNormaliser(pairs: readonly PairComputation[], schemaHash: string): NormaliserParams | null {
  const keep: { p: PairComputation; i: number }[] = [];
  for (const p of pairs) for (let i = 0; i < p.rows.n; i++) if (p.rows.featuresComplete[i] === 1) keep.push({ p, i });
  if (keep.length === 0) return null;
  const columns = {} as Record<FeatureName, Float64Array>;
  for (const name of FEATURE_NAMES) columns[name] = Float64Array.from(keep, (k) => k.p.rows.features[name][k.i]!);
  return fitRobustNormaliser({ columns, schemaHash }, { start: 0, end: keep.length });
}
