/**
 * Test bars and their independent reference: the features library fixture (pair_A.csv / pair_B.csv, a synthetic
 * cointegrated pair with robust-β windows and a regime break) as canonical bars, published the way ingest
 * publishes them (BarClosedEvent on md.bar.<tf>.<symbol>, msgId key|checksum|flag), and the batch feature matrix of
 * the aligned bars computed with computeFeatureMatrix.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChecksum, formatTsUtc, type CanonicalBar, type QualityFlag } from '@noctria/canonical-bar';
import { encodeBarClosed, newEnvelope, subjects } from '@noctria/contracts';
import { computeFeatureMatrix, FEATURE_NAMES, pairSeriesFromBars, resolveFeatureParams, type FeatureMatrix, type PairBar } from '@noctria/features';
import type { Bus } from '@noctria/platform';
import type { FeaturesSettings } from '../../src/pipeline/settings.js';

export const SYMBOL_A = 'XAGUSD';
export const SYMBOL_B = 'XAUUSD';
export const PAIR_ID = 'XAGUSD_XAUUSD';
const FIXTURES = join(process.cwd(), 'libs', 'features', 'test', 'fixtures');

function readLeg(file: string, symbol: string): CanonicalBar[] {
  const lines = readFileSync(join(FIXTURES, file), 'utf8').split(/\r?\n/).filter((l) => l.length > 0).slice(1);
  return lines.map((l) => {
    const [ts, open, high, low, close, volume] = l.split(',');
    return {
      ts_utc: formatTsUtc(Date.parse(ts!)),
      symbol,
      timeframe: '1h',
      open: Number(open),
      high: Number(high),
      low: Number(low),
      close: Number(close),
      volume: Number(volume),
      quality_flag: 'ok',
      source_id: 'fixture',
      ingest_run_id: 'run-fixture',
      metadata: {},
    };
  });
}

/** The fixture's legs as canonical 1h bars (A = pair_A.csv, B = pair_B.csv). */
export function fixtureLegs(): { a: CanonicalBar[]; b: CanonicalBar[] } {
  return { a: readLeg('pair_A.csv', SYMBOL_A), b: readLeg('pair_B.csv', SYMBOL_B) };
}

/** Inner join on ts_utc, oldest first. */
export function alignBars(a: readonly CanonicalBar[], b: readonly CanonicalBar[]): PairBar[] {
  const byTs = new Map(b.map((x) => [x.ts_utc, x]));
  return [...a]
    .sort((x, y) => Date.parse(x.ts_utc) - Date.parse(y.ts_utc))
    .filter((x) => byTs.has(x.ts_utc))
    .map((x) => {
      const y = byTs.get(x.ts_utc)!;
      return { tsMs: Date.parse(x.ts_utc), a: { open: x.open, high: x.high, low: x.low, close: x.close }, b: { open: y.open, high: y.high, low: y.low, close: y.close } };
    });
}

/** computeFeatureMatrix over the aligned bars: the uninterrupted reference computation. */
export function referenceMatrix(aligned: readonly PairBar[]): FeatureMatrix {
  return computeFeatureMatrix(pairSeriesFromBars(aligned as PairBar[]), resolveFeatureParams());
}

/** Row `i` of a matrix in FEATURE_NAMES order. */
export function matrixRow(m: FeatureMatrix, i: number): Float64Array {
  return Float64Array.from(FEATURE_NAMES, (n) => m.columns[n][i]!);
}

/** Positions where two vectors differ bit-wise (Object.is), as readable entries. */
export function bitDiff(got: Float64Array, want: Float64Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(got.length, want.length); i++) if (!Object.is(got[i], want[i])) out.push(`${FEATURE_NAMES[i]}: ${got[i]} != ${want[i]}`);
  return out;
}

export interface PublishOptions {
  live?: boolean;
  stale?: boolean;
  /** Distinguishes a deliberate re-publication of the same bar (else JetStream drops it as a duplicate). */
  msgIdSuffix?: string;
  qualityFlag?: QualityFlag;
}

/** Publishes one bar as ingest does. */
export async function publishBar(bus: Bus, prefix: string, bar: CanonicalBar, opts: PublishOptions = {}): Promise<void> {
  const b = opts.qualityFlag ? { ...bar, quality_flag: opts.qualityFlag } : bar;
  const checksum = barChecksum(b);
  const msgId = `${b.source_id}|${b.symbol}|${b.timeframe}|${b.ts_utc}|${checksum}|${b.quality_flag}${opts.msgIdSuffix ?? ''}`;
  const closedAtMs = Date.parse(b.ts_utc) + 3_600_000;
  const payload = encodeBarClosed({ envelope: newEnvelope({ messageId: msgId, producer: 'test-ingest', producedAtMs: closedAtMs }), bar: b, checksum, stale: opts.stale ?? false, closedAtMs });
  await bus.publish(subjects(prefix).barClosed(b.timeframe, b.symbol), payload, { msgId, headers: opts.live ? { 'Noctria-Live': '1' } : {} });
}

/** The two legs interleaved by bar time (A then B at each time), as a live feed delivers them. */
export function interleave(a: readonly CanonicalBar[], b: readonly CanonicalBar[]): CanonicalBar[] {
  return [...a, ...b].sort((x, y) => Date.parse(x.ts_utc) - Date.parse(y.ts_utc) || (x.symbol === SYMBOL_A ? -1 : 1));
}

export function testSettings(overrides: Partial<FeaturesSettings> = {}): FeaturesSettings {
  return {
    timeframes: ['1h'],
    series: [{ pairId: PAIR_ID, timeframe: '1h', symbolA: SYMBOL_A, symbolB: SYMBOL_B }],
    freshnessBudgetMs: { '15m': 60_000, '1h': 120_000, '4h': 180_000 },
    betaJumpFactor: 3,
    betaJumpWindow: 180,
    checkpointEvery: 50,
    params: resolveFeatureParams(),
    ...overrides,
  };
}
