import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolve } from 'node:path';
import { sql } from 'kysely';
import { loadPolicySet } from '@noctria/policy';
import { BarsRepository } from '../src/repositories/bars.repository.js';
import { RawResponsesRepository } from '../src/repositories/raw.repository.js';
import { RETENTION_LOCK_KEY, RetentionService, retentionSettingsFromPolicies } from '../src/pipeline/retention.service.js';
import { withAdvisoryLock } from '@noctria/platform';
import { bar, openTestDb, testLogger, toStore, type TestDb } from './helpers/harness.js';

const DAY = 86_400_000;

describe('retention', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('drops whole month partitions older than canonical_months + grace and raw responses older than raw_days + grace', async () => {
    const bars = new BarsRepository(t.db);
    await bars.ensurePartitions(Date.UTC(2020, 0, 1), Date.UTC(2023, 7, 1)); // 2020-01 … 2023-07
    for (const m of [0, 5, 11]) await bars.upsert(t.db, [toStore(bar('RETX', '1h', Date.UTC(2020, m, 6, 3), 10))], 0.003);
    const now = Date.UTC(2023, 6, 2, 12); // 2 Jul 2023
    // 36 months back: 2 Jul 2020; minus 3 grace days: 29 Jun 2020 → months ending on or before it go.
    const cutoff = Date.UTC(2020, 5, 29, 12);
    const before = await bars.listPartitions();
    const expectedDropped = before.filter((p) => p.toMs <= cutoff).map((p) => p.name);
    expect(expectedDropped.at(-1)).toBe('canonical_bars_p202005');
    const raw = new RawResponsesRepository(t.db);
    for (const ageDays of [10, 62, 64, 100]) {
      await raw.insert(t.db, { runId: 'r', sourceId: 's', request: {}, contentType: 'text/plain', body: String(ageDays) });
      await sql`update ingest.raw_responses set received_at = ${new Date(now - ageDays * DAY).toISOString()}::timestamptz where body = ${String(ageDays)}`.execute(t.db);
    }
    const service = new RetentionService(t.db, testLogger());
    const r = await service.run({ canonicalMonths: 36, rawDays: 60, graceDays: 3 }, now);
    expect(r.ran).toBe(true);
    expect(r.canonicalCutoffMs).toBe(cutoff);
    expect(r.droppedPartitions).toEqual(expectedDropped);
    expect((await bars.listPartitions()).map((p) => p.name)).toEqual(before.filter((p) => p.toMs > cutoff).map((p) => p.name));
    // Bars of dropped months are gone, the June 2020 bar (partition kept) stays.
    const left = await sql<{ ts: Date }>`select ts_utc as ts from ingest.canonical_bars where symbol = 'RETX' order by 1`.execute(t.db);
    expect(left.rows.map((x) => x.ts.getTime())).toEqual([Date.UTC(2020, 5, 6, 3), Date.UTC(2020, 11, 6, 3)]);
    expect(r.rawDeleted).toBe(2); // 64 and 100 days (> 60 + 3)
    const rawLeft = await sql<{ body: string }>`select body from ingest.raw_responses order by 1`.execute(t.db);
    expect(rawLeft.rows.map((x) => x.body)).toEqual(['10', '62']);
  });

  it('runs on one replica only: a second caller skips while the lock is held', async () => {
    const service = new RetentionService(t.db, testLogger());
    const skipped = await withAdvisoryLock(t.db, RETENTION_LOCK_KEY, () => service.run({ canonicalMonths: 36, rawDays: 60, graceDays: 3 }, Date.UTC(2023, 6, 2)));
    expect(skipped.ran).toBe(false);
  });

  it('refuses settings below what the feature windows need (policy cross-rules)', () => {
    const set = loadPolicySet(resolve('configs'));
    expect(retentionSettingsFromPolicies(set)).toEqual({
      canonicalMonths: set.data_retention.values.canonical_months,
      rawDays: set.data_retention.values.raw_days,
      graceDays: set.data_retention.values.deletion_grace_days,
    });
    const tooShort = { ...set, data_retention: { ...set.data_retention, values: { ...set.data_retention.values, canonical_months: 1 } } };
    expect(() => retentionSettingsFromPolicies(tooShort)).toThrow(/data_retention refused: canonical_months=1 is below the minimum/);
  });
});
