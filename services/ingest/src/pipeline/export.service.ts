import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Logger } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { QuarantineRepository } from '../repositories/quarantine.repository.js';
import { logEvent } from '../telemetry.js';
import { monthKey } from './months.js';

export interface ExportRequest {
  symbol: string;
  timeframe: string;
  fromMs: number;
  toMs: number;
  /** Leave out bars of quarantined months (default true: training/BT outputs exclude them). */
  excludeQuarantined?: boolean;
}

export interface ExportResult {
  /** Artefact reference (relative to the artefact root). */
  ref: string;
  /** sha256 (hex) of the parquet file. */
  sha256: string;
  rows: number;
  /** Months left out because they are quarantined (also listed in the `__quarantine.json` next to the file). */
  excludedMonths: string[];
  metaRef: string;
  quarantineRef: string;
}

/**
 * Bar exports for other services (`rpc.ingest.export`): a parquet file under
 * `{artifactDir}/bars/{timeframe}/{symbol}/{from}_{to}.parquet` (seed 003 naming by timeframe/symbol) with
 * `__meta.json` (last_refreshed_ts, counts, source) and `__quarantine.json` (reason, thresholds, range) next to
 * it. Messages carry the reference and the sha256, never the bytes.
 */
export class ExportService {
  constructor(private readonly deps: { db: Kysely<DB>; artifactDir: string; logger: Logger }) {}

  async export(req: ExportRequest): Promise<ExportResult> {
    const { db } = this.deps;
    const quarantined = await new QuarantineRepository(db).list({ symbol: req.symbol, timeframe: req.timeframe, activeOnly: true });
    const excluded = (req.excludeQuarantined ?? true) ? quarantined.map((q) => q.month) : [];
    const rows = await db
      .selectFrom('ingest.canonical_bars')
      .select(['ts_utc', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'checksum'])
      .where('symbol', '=', req.symbol)
      .where('timeframe', '=', req.timeframe)
      .where('ts_utc', '>=', new Date(req.fromMs))
      .where('ts_utc', '<', new Date(req.toMs))
      .orderBy('ts_utc')
      .execute();
    const kept = rows.filter((r) => !excluded.includes(monthKey(r.ts_utc.getTime())));
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'ts_utc', data: kept.map((r) => BigInt(r.ts_utc.getTime())), type: 'TIMESTAMP' },
        { name: 'symbol', data: kept.map(() => req.symbol), type: 'STRING' },
        { name: 'timeframe', data: kept.map(() => req.timeframe), type: 'STRING' },
        { name: 'open', data: kept.map((r) => r.open), type: 'DOUBLE' },
        { name: 'high', data: kept.map((r) => r.high), type: 'DOUBLE' },
        { name: 'low', data: kept.map((r) => r.low), type: 'DOUBLE' },
        { name: 'close', data: kept.map((r) => r.close), type: 'DOUBLE' },
        { name: 'volume', data: kept.map((r) => r.volume), type: 'DOUBLE', nullable: true },
        { name: 'quality_flag', data: kept.map((r) => r.quality_flag), type: 'STRING' },
        { name: 'source_id', data: kept.map((r) => r.source_id), type: 'STRING' },
        { name: 'ingest_run_id', data: kept.map((r) => r.ingest_run_id), type: 'STRING' },
        { name: 'checksum', data: kept.map((r) => r.checksum), type: 'STRING' },
      ],
    });
    const bytes = Buffer.from(buffer);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const dirRef = join('bars', req.timeframe, req.symbol);
    const dir = join(this.deps.artifactDir, dirRef);
    await mkdir(dir, { recursive: true });
    const name = `${new Date(req.fromMs).toISOString().replace(/[:.]/g, '')}_${new Date(req.toMs).toISOString().replace(/[:.]/g, '')}_${sha256.slice(0, 12)}`;
    const ref = join(dirRef, `${name}.parquet`);
    await atomicWrite(join(this.deps.artifactDir, ref), bytes);
    const wm = await sql<{ last_ts: Date }>`select last_ts from ingest.watermarks where symbol = ${req.symbol} and timeframe = ${req.timeframe}`.execute(db);
    const metaRef = join(dirRef, `${name}.__meta.json`);
    await atomicWrite(
      join(this.deps.artifactDir, metaRef),
      Buffer.from(
        JSON.stringify(
          {
            symbol: req.symbol,
            timeframe: req.timeframe,
            from: new Date(req.fromMs).toISOString(),
            to: new Date(req.toMs).toISOString(),
            last_refreshed_ts: wm.rows[0]?.last_ts?.toISOString() ?? null,
            counts: { rows: kept.length, excluded_rows: rows.length - kept.length },
            sources: [...new Set(kept.map((r) => r.source_id))].sort(),
            sha256,
          },
          null,
          2,
        ),
      ),
    );
    const quarantineRef = join(dirRef, `${name}.__quarantine.json`);
    await atomicWrite(
      join(this.deps.artifactDir, quarantineRef),
      Buffer.from(
        JSON.stringify(
          quarantined.map((q) => ({
            month: q.month,
            reason: q.reason,
            thresholds: q.thresholds,
            metrics: q.metrics,
            range: { from: q.range_from.toISOString(), to: q.range_to.toISOString() },
            excluded: excluded.includes(q.month),
          })),
          null,
          2,
        ),
      ),
    );
    logEvent(this.deps.logger, 'info', 'export_written', { symbol: req.symbol, timeframe: req.timeframe, details: { ref, sha256, rows: kept.length } });
    return { ref, sha256, rows: kept.length, excludedMonths: excluded, metaRef, quarantineRef };
  }
}

async function atomicWrite(path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
