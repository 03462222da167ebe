/**
 * `noctria dataset build`, offline, in-process, on the features library fixture pair: the snapshot directory holds
 * `manifest.json` and one Parquet file readable with hyparquet whose rows equal the library path over the CSV bars
 * (training-data quality → features → AI1 events), a repeat writes byte-identical files with the same snapshot id,
 * and option errors exit 2. `--remote` against a features service on real PostgreSQL/NATS/Redis fed the same bars
 * over the bus: the CLI gets the snapshot over rpc.features.snapshot, downloads it through the JetStream
 * ArtifactStore, and the files are byte-identical to the offline build of the CSV files (same snapshot id).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { sql } from 'kysely';
import { barChecksum, type CanonicalBar } from '@noctria/canonical-bar';
import { encodeBarClosed, newEnvelope, subjects } from '@noctria/contracts';
import { buildFeaturesOptions, createFeaturesModule, featuresEnvSchema, featuresMigrations, FEATURES_SCHEMA } from '@noctria/features-service';
import { bootstrapService, createDatabase, JetStreamBus, loadEnv } from '@noctria/platform';
import { createTestDatabase, natsUrl, redisUrl, uniquePrefix, waitFor } from '@noctria/testing';
import { computeAi1Events, computeFeatureMatrix, FEATURE_NAMES, pairSeriesFromBars, preTrainingQuality, resolveFeatureParams } from '@noctria/features';
import { run } from '../src/cli.js';

const FIXTURES = resolve('libs/features/test/fixtures');
const PAIR_A = join(FIXTURES, 'pair_A.csv');
const PAIR_B = join(FIXTURES, 'pair_B.csv');

let work: string;

async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; records: Record<string, any>[] }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  let stdout = '';
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => true },
    env: { PATH: process.env['PATH'] ?? '', NOCTRIA_CONFIG_DIR: resolve('configs'), NOCTRIA_DATA_DIR: join(work, 'data'), LOG_LEVEL: 'info', NOCTRIA_CODE_VERSION: 'test-version', ...extraEnv },
  });
  return { code, records: stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>) }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The fixture CSV as canonical bars, read here independently of the CLI's reader. */
function leg(path: string, symbol: string): CanonicalBar[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((l) => {
      const [ts, open, high, low, close, volume] = l.split(',');
      return { ts_utc: new Date(Date.parse(ts!)).toISOString(), symbol, timeframe: '1h', open: +open!, high: +high!, low: +low!, close: +close!, volume: +volume!, quality_flag: 'ok', source_id: 'file', ingest_run_id: 'cli', metadata: {} };
    });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'noctria-dataset-cli-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('noctria dataset build (offline)', () => {
  const FROM = '2023-03-01';
  const TO = '2023-03-21';
  const args = (out: string) => ['--json', 'dataset', 'build', '--a', PAIR_A, '--b', PAIR_B, '--pair-id', 'FIXTURE_PAIR', '--out', out, '--from', FROM, '--to', TO, '--seed', '3'];

  it('writes manifest.json and a Parquet file equal to the library path, byte-identical on a repeat', async () => {
    const dir1 = join(work, 'one');
    const r = await cli(args(dir1));
    expect(r.code).toBe(0);
    const rec = r.records.find((x) => x['type'] === 'dataset')!;
    expect(readdirSync(dir1).sort()).toEqual(['FIXTURE_PAIR.parquet', 'manifest.json']);
    const manifestBytes = readFileSync(join(dir1, 'manifest.json'));
    const manifest = JSON.parse(manifestBytes.toString('utf8'));
    expect(rec['manifest']).toEqual(manifest);
    expect(manifest.snapshot_id).toBe(rec['snapshot_id']);
    expect(manifest.code_version).toBe('test-version');
    expect(manifest.seed).toBe(3);
    expect(manifest.period).toEqual({ from: '2023-03-01T00:00:00.000Z', to: '2023-03-21T00:00:00.000Z' });
    const parquet = readFileSync(join(dir1, 'FIXTURE_PAIR.parquet'));
    expect(manifest.pairs[0].sha256).toBe(sha(parquet));
    expect(rec['files'].find((f: { name: string }) => f.name === 'manifest.json').sha256).toBe(sha(manifestBytes));

    // Reference over the bars before --to, calendar 24/5 of configs/universe.yaml.
    const toMs = Date.parse(TO);
    const a = leg(PAIR_A, 'A').filter((x) => Date.parse(x.ts_utc) < toMs);
    const b = leg(PAIR_B, 'B').filter((x) => Date.parse(x.ts_utc) < toMs);
    const q = preTrainingQuality(a, b, { calendar: '24/5' });
    expect(q.segments).toHaveLength(1);
    const series = pairSeriesFromBars(q.bars);
    const ref = computeFeatureMatrix(series, resolveFeatureParams());
    const idx = [...ref.tsMs.keys()].filter((k) => ref.tsMs[k]! >= Date.parse(FROM));
    // 2023-03-01 … 2023-03-20: 14 weekdays of 24 bars.
    expect(idx.length).toBe(14 * 24);
    const rows = await parquetReadObjects({ file: parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength) });
    expect(rows.length).toBe(idx.length);
    expect(manifest.rows).toBe(idx.length);
    const events = computeAi1Events({ tsMs: ref.tsMs, z: ref.columns.z, absDeltaZ: ref.columns.abs_delta_z }, manifest.label_params);
    const starts = new Set(events.map((e) => e.startIndex));
    const diffs: string[] = [];
    rows.forEach((row, j) => {
      const k = idx[j]!;
      if ((row['ts_utc'] as Date).getTime() !== ref.tsMs[k]) diffs.push(`row ${j} ts`);
      for (const name of FEATURE_NAMES) if (!Object.is(row[name], ref.columns[name][k])) diffs.push(`row ${j} ${name}`);
      if (row['ai1_is_event'] !== starts.has(k)) diffs.push(`row ${j} event`);
    });
    expect(diffs).toEqual([]);

    const dir2 = join(work, 'two');
    const again = await cli(args(dir2));
    expect(again.code).toBe(0);
    expect(again.records.find((x) => x['type'] === 'dataset')!['snapshot_id']).toBe(rec['snapshot_id']);
    for (const f of ['FIXTURE_PAIR.parquet', 'manifest.json']) expect(readFileSync(join(dir2, f)).equals(readFileSync(join(dir1, f)))).toBe(true);
  }, 60_000);

  it('exits 2 on missing or conflicting options and names the problem', async () => {
    const missing = await cli(['--json', 'dataset', 'build', '--a', PAIR_A, '--b', PAIR_B, '--pair-id', 'X']);
    expect(missing.code).toBe(2);
    expect(missing.records[0]?.['error_id'] ?? missing.records[0]?.['error']?.['id']).toBe('UI_CLI_ARGS');
    const remote = await cli(['--json', 'dataset', 'build', '--remote', '--from', FROM, '--to', TO]);
    expect(remote.code).toBe(2);
    const mixed = await cli(['--json', 'dataset', 'build', '--remote', '--a', PAIR_A, '--from', FROM, '--to', TO]);
    expect(mixed.code).toBe(2);
    const backwards = await cli(['--json', 'dataset', 'build', '--a', PAIR_A, '--b', PAIR_B, '--pair-id', 'X', '--out', join(work, 'x'), '--from', TO, '--to', FROM]);
    expect(backwards.code).toBe(2);
  }, 30_000);
});

describe('noctria dataset build --remote', () => {
  it('gets the snapshot from the features service over the bus, byte-identical to the offline build of the same bars', async () => {
    const test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
    const database = createDatabase<Record<string, never>>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 2 });
    const tok = uniquePrefix('');
    const nats = await natsUrl();
    const env = loadEnv(featuresEnvSchema, {
      exit: false,
      env: { DATABASE_URL: test.connectionString, NATS_URL: nats, REDIS_URL: await redisUrl(), LOG_LEVEL: 'silent', TZ: 'UTC', NOCTRIA_BUS_PREFIX: tok, NOCTRIA_CONFIG_DIR: resolve('configs'), FEATURES_TIMEFRAMES: '1h' },
    });
    const svc = await bootstrapService({
      service: 'features',
      env,
      schema: FEATURES_SCHEMA,
      migrations: featuresMigrations,
      port: 0,
      host: '127.0.0.1',
      handleSignals: false,
      module: createFeaturesModule(buildFeaturesOptions(env as typeof env & { NOCTRIA_CONFIG_DIR: string; NOCTRIA_BUS_PREFIX: string })),
    });
    const bus = await JetStreamBus.connect({ servers: nats, name: 'dataset-cli-test' });
    try {
      // XAUUSD_XAGUSD of configs/universe.yaml, legs fed from the fixture files.
      const n = 600;
      const a = leg(PAIR_A, 'XAUUSD').slice(0, n);
      const b = leg(PAIR_B, 'XAGUSD').slice(0, n);
      for (let i = 0; i < n; i++) {
        for (const bar of [a[i]!, b[i]!]) {
          const checksum = barChecksum(bar);
          const msgId = `${bar.symbol}|${bar.ts_utc}|${checksum}`;
          const payload = encodeBarClosed({ envelope: newEnvelope({ messageId: msgId, producer: 'test-ingest', producedAtMs: Date.parse(bar.ts_utc) + 3_600_000 }), bar, checksum, stale: false, closedAtMs: Date.parse(bar.ts_utc) + 3_600_000 });
          await bus.publish(subjects(`${tok}.`).barClosed('1h', bar.symbol), payload, { msgId });
        }
      }
      await waitFor(async () => (await sql<{ n: number }>`select count(*)::int as n from features.vectors where pair_id = 'XAUUSD_XAGUSD'`.execute(database.db)).rows[0]!.n === n, {
        timeoutMs: 120_000,
        intervalMs: 100,
        message: () => `${n} vectors stored`,
      });
      const from = a[420]!.ts_utc;
      const to = a[590]!.ts_utc;
      const remoteDir = join(work, 'remote');
      const remote = await cli(['--json', 'dataset', 'build', '--remote', '--pairs', 'XAUUSD_XAGUSD', '--timeframe', '1h', '--from', from, '--to', to, '--seed', '5', '--out', remoteDir], {
        // The cluster profile's environment, as the fleet's pods have it.
        DATABASE_URL: test.connectionString,
        REDIS_URL: await redisUrl(),
        NATS_URL: nats,
        NOCTRIA_BUS_PREFIX: tok,
        NOCTRIA_CODE_VERSION: '',
      });
      expect(remote.code).toBe(0);
      const rec = remote.records.find((x) => x['type'] === 'dataset')!;
      expect(rec['status']).toBe('ready');
      expect(rec['manifest'].rows).toBe(170);

      const localDir = join(work, 'local');
      const local = await cli(['--json', 'dataset', 'build', '--a', PAIR_A, '--b', PAIR_B, '--pair-id', 'XAUUSD_XAGUSD', '--timeframe', '1h', '--from', from, '--to', to, '--seed', '5', '--out', localDir], {
        NOCTRIA_CODE_VERSION: '',
      });
      expect(local.code).toBe(0);
      expect(local.records.find((x) => x['type'] === 'dataset')!['snapshot_id']).toBe(rec['snapshot_id']);
      expect(readdirSync(remoteDir).sort()).toEqual(['XAUUSD_XAGUSD.parquet', 'manifest.json']);
      for (const f of readdirSync(remoteDir)) expect(sha(readFileSync(join(remoteDir, f)))).toBe(sha(readFileSync(join(localDir, f))));
    } finally {
      await bus.close();
      await svc.close();
      await database.close();
      await test.drop();
    }
  }, 240_000);
});
