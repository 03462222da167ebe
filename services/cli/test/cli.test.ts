/**
 * The `noctria` command, in-process (`run(argv, io)`), cluster profile against a fresh test database, real NATS
 * and Redis: demo-data → import round trip, bad rows with line numbers, idempotent re-import, backfill resume,
 * partition export (CSV and parquet read back with hyparquet, __meta.json, __quarantine.json), argument errors.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { parquetReadObjects, parquetMetadata, parquetSchema } from 'hyparquet';
import { SyntheticProvider } from '@noctria/ingest';
import type { MonthMeta } from '@noctria/ingest';
import { openCliHarness, recordsOf, type CliHarness } from './helpers.js';

const FEB = Date.UTC(2024, 1, 1);
const MAR = Date.UTC(2024, 2, 1);

function expectedBars(symbol: string, fromMs: number, toMs: number) {
  return new SyntheticProvider({ seed: 42 }).fetchTimeSeries({ symbol, timeframe: '1h', startMs: fromMs, endMs: toMs, ingestRunId: 'expected' }).then((r) => r.bars);
}

describe('noctria CLI (cluster profile)', () => {
  let h: CliHarness;
  let demoDir: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    h = await openCliHarness();
    demoDir = join(h.workDir, 'demo');
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  const dbRows = (symbol: string) =>
    h.database.db
      .selectFrom('ingest.canonical_bars')
      .select(['ts_utc', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'checksum'])
      .where('symbol', '=', symbol)
      .orderBy('ts_utc')
      .execute();

  it('demo-data writes MT5 files that import to exactly the synthetic provider\'s bars', async () => {
    const r = await h.cli(['--json', 'demo-data', '--out', demoDir, '--symbols', 'XAUUSD,XAGUSD', '--months', '1', '--to', '2024-03-01', '--seed', '42']);
    expect(r.code).toBe(0);
    const written = recordsOf(r, 'demo_data_file');
    expect(written.map((f) => f['symbol'])).toEqual(['XAUUSD', 'XAGUSD']);
    for (const f of written) {
      const path = f['path'] as string;
      files[f['symbol'] as string] = path;
      const lines = readFileSync(path, 'utf8').split('\r\n').filter((l) => l !== '');
      expect(lines[0]).toBe('<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>');
      expect(lines.length - 1).toBe(f['bars']);
    }

    for (const symbol of ['XAUUSD', 'XAGUSD']) {
      const expected = await expectedBars(symbol, FEB, MAR);
      expect(expected.length).toBeGreaterThan(400);
      const imp = await h.cli(['--json', 'ingest', 'import', files[symbol]!, '--symbol', symbol, '--timeframe', '1h']);
      expect(imp.code).toBe(0);
      const rec = recordsOf(imp, 'import')[0]!;
      expect(rec).toMatchObject({ status: 'succeeded', format: 'mt5', accepted: expected.length, rejected: 0, inserted: expected.length, unchanged: 0 });
      const stored = await dbRows(symbol);
      expect(stored.map((b) => ({ ts: b.ts_utc.getTime(), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume }))).toEqual(
        expected.map((b) => ({ ts: Date.parse(b.ts_utc), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume })),
      );
      expect(new Set(stored.map((b) => b.source_id))).toEqual(new Set(['file']));
    }
    // Cluster profile: the relay published every committed bar before the command returned.
    const pending = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where sent_at is null`.execute(h.database.db);
    expect(pending.rows[0]!.n).toBe(0);
  }, 120_000);

  it('re-import is idempotent: nothing new stored, every row counted as unchanged', async () => {
    const before = await dbRows('XAUUSD');
    const imp = await h.cli(['--json', 'ingest', 'import', files['XAUUSD']!, '--symbol', 'XAUUSD', '--timeframe', '1h']);
    expect(imp.code).toBe(0);
    const rec = recordsOf(imp, 'import')[0]!;
    expect(rec).toMatchObject({ inserted: 0, updated: 0, unchanged: before.length, accepted: before.length, rejected: 0 });
    const after = await dbRows('XAUUSD');
    expect(after.length).toBe(before.length);
    expect(after.map((b) => b.checksum)).toEqual(before.map((b) => b.checksum));
    const dups = await sql<{ n: number }>`select count(*)::int as n from (select 1 from ingest.canonical_bars group by symbol, timeframe, ts_utc having count(*) > 1) d`.execute(h.database.db);
    expect(dups.rows[0]!.n).toBe(0);
  }, 60_000);

  it('reports bad rows with their file line numbers and keeps the good rows', async () => {
    const lines = readFileSync(files['XAUUSD']!, 'utf8').split('\r\n').filter((l) => l !== '');
    const bad = new Map<number, (f: string[]) => string[]>([
      [3, (f) => [f[0]!, f[1]!, 'abc', ...f.slice(3)]], // open is not a number
      [7, (f) => [f[0]!, f[1]!, f[2]!, String(Number(f[4]) - 1), ...f.slice(4)]], // high below low
      [11, (f) => f.slice(0, 8)], // a field missing
      [15, (f) => [f[0]!, '10:30:00', ...f.slice(2)]], // not a 1h boundary
    ]);
    const out = lines.map((l, i) => (bad.has(i + 1) ? bad.get(i + 1)!(l.split('\t')).join('\t') : l));
    const path = join(h.workDir, 'GBPUSD_bad.csv');
    writeFileSync(path, `${out.join('\r\n')}\r\n`);
    const imp = await h.cli(['--json', 'ingest', 'import', path, '--symbol', 'GBPUSD', '--timeframe', '1h', '--format', 'mt5']);
    expect(imp.code).toBe(0);
    const rec = recordsOf(imp, 'import')[0]!;
    const rejected = rec['rejected_rows'] as { line: number; reason: string }[];
    expect(rejected.map((x) => x.line)).toEqual([...bad.keys()]);
    expect(rec['rejected']).toBe(bad.size);
    expect(rec['accepted']).toBe(lines.length - 1 - bad.size);
    // Every good line is stored with its exact prices.
    const stored = new Map((await dbRows('GBPUSD')).map((b) => [b.ts_utc.getTime(), b]));
    lines.forEach((l, i) => {
      if (i === 0 || bad.has(i + 1)) return;
      const f = l.split('\t');
      const ts = Date.parse(`${f[0]!.replace(/\./g, '-')}T${f[1]}Z`);
      const b = stored.get(ts);
      expect(b).toBeDefined();
      expect([b!.open, b!.high, b!.low, b!.close]).toEqual([Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5])]);
      expect(b!.source_id).toBe('file');
    });
    // Human mode names the lines too.
    const human = await h.cli(['ingest', 'import', path, '--symbol', 'GBPUSD', '--timeframe', '1h']);
    expect(human.code).toBe(0);
    for (const line of bad.keys()) expect(human.stdout).toContain(`line ${line}:`);
  }, 60_000);

  it('backfill resumes from the watermark and says how many bars it skipped', async () => {
    const first = await h.cli(['--json', 'ingest', 'backfill', '--symbols', 'EURUSD', '--from', '2024-03-04', '--to', '2024-03-09']);
    expect(first.code).toBe(0);
    const r1 = recordsOf(first, 'backfill')[0]!;
    const expected1 = await expectedBars('EURUSD', Date.UTC(2024, 2, 4), Date.UTC(2024, 2, 9));
    expect(r1).toMatchObject({ status: 'succeeded', fetched_bars: expected1.length, skipped_bars: 0 });
    expect(first.stderr).toContain('"type":"progress"');

    const second = await h.cli(['--json', 'ingest', 'backfill', '--symbols', 'EURUSD', '--to', '2024-03-16']);
    expect(second.code).toBe(0);
    const r2 = recordsOf(second, 'backfill')[0]!;
    const series = (r2['series'] as Record<string, unknown>[])[0]!;
    const lastStored = Date.parse(expected1[expected1.length - 1]!.ts_utc);
    expect(series).toMatchObject({ resumed: true, stored_before: expected1.length, from: new Date(lastStored + 3_600_000).toISOString() });
    const expected2 = await expectedBars('EURUSD', lastStored + 3_600_000, Date.UTC(2024, 2, 16));
    expect(r2).toMatchObject({ skipped_bars: expected1.length, fetched_bars: expected2.length });
    expect((await dbRows('EURUSD')).length).toBe(expected1.length + expected2.length);
  }, 60_000);

  it('bars export writes the partition layout; CSV and parquet equal the stored rows; __meta.json counts match', async () => {
    const rows = await dbRows('XAUUSD');
    const days = [...new Set(rows.map((r) => r.ts_utc.toISOString().slice(0, 10)))].sort();
    for (const format of ['csv', 'parquet'] as const) {
      const out = join(h.workDir, `export-${format}`);
      const r = await h.cli(['--json', 'bars', 'export', '--symbol', 'XAUUSD', '--timeframe', '1h', '--from', '2024-02-01', '--to', '2024-03-01', '--format', format, '--out', out]);
      expect(r.code).toBe(0);
      expect(recordsOf(r, 'export')[0]).toMatchObject({ bars: rows.length, files: days.length });
      const dir = join(out, '1h', 'XAUUSD', '2024', '2024-02');
      expect(readdirSync(dir).sort()).toEqual([...days.map((d) => `XAUUSD_${d}.${format}`), '__meta.json'].sort());
      const meta = JSON.parse(readFileSync(join(dir, '__meta.json'), 'utf8')) as MonthMeta;
      expect(meta.counts.bars).toBe(rows.length);
      expect(meta.counts.files).toBe(days.length);
      const flags: Record<string, number> = {};
      for (const row of rows) flags[row.quality_flag] = (flags[row.quality_flag] ?? 0) + 1;
      expect(meta.counts.quality_flags).toEqual(flags);
      expect(meta.window_params).toMatchObject({ beta_window_bars: 180, z_window_bars: 180, atr_period: 14 });
      expect(meta.last_refreshed_ts).toBe(rows[rows.length - 1]!.ts_utc.toISOString());
      expect(meta.sources).toEqual(['file']);
      expect(existsSync(join(dir, '__quarantine.json'))).toBe(false);

      const readBack: Record<string, unknown>[] = [];
      for (const day of days) {
        const path = join(dir, `XAUUSD_${day}.${format}`);
        const bytes = readFileSync(path);
        const entry = meta.files.find((f) => f.date === day)!;
        expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
        if (format === 'csv') {
          const [header, ...body] = bytes.toString('utf8').trim().split('\n');
          const cols = header!.split(',');
          for (const l of body) {
            const v = Object.fromEntries(l.split(',').map((x, i) => [cols[i], x]));
            readBack.push({ ts: Date.parse(v['ts_utc']!), o: Number(v['open']), h: Number(v['high']), l: Number(v['low']), c: Number(v['close']), v: v['volume'] === '' ? null : Number(v['volume']), q: v['quality_flag'], k: v['checksum'], s: v['symbol'] });
          }
        } else {
          const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
          const schema = parquetSchema(parquetMetadata(ab));
          const types = Object.fromEntries(schema.children.map((c) => [c.element.name, [c.element.type, c.element.converted_type ?? null]]));
          expect(types['ts_utc']).toEqual(['INT64', 'TIMESTAMP_MILLIS']);
          expect(types['open']).toEqual(['DOUBLE', null]);
          expect(types['volume']).toEqual(['DOUBLE', null]);
          expect(types['quality_flag']).toEqual(['BYTE_ARRAY', 'UTF8']);
          for (const o of await parquetReadObjects({ file: ab })) {
            const ts = o['ts_utc'] instanceof Date ? o['ts_utc'].getTime() : Number(o['ts_utc']);
            readBack.push({ ts, o: o['open'], h: o['high'], l: o['low'], c: o['close'], v: o['volume'] ?? null, q: o['quality_flag'], k: o['checksum'], s: o['symbol'] });
          }
        }
      }
      expect(readBack).toEqual(rows.map((b) => ({ ts: b.ts_utc.getTime(), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume, q: b.quality_flag, k: b.checksum, s: 'XAUUSD' })));
    }
  }, 120_000);

  it('a quarantined month gets a __quarantine.json next to its __meta.json', async () => {
    const gen = await h.cli(['--json', 'demo-data', '--out', join(h.workDir, 'demo-csv'), '--symbols', 'NZDUSD', '--months', '1', '--to', '2024-03-01', '--format', 'csv']);
    expect(gen.code).toBe(0);
    const path = recordsOf(gen, 'demo_data_file')[0]!['path'] as string;
    const [header, ...body] = readFileSync(path, 'utf8').split('\r\n').filter((l) => l !== '');
    expect(header).toBe('ts_utc,open,high,low,close,volume');
    // Two weeks missing in the middle of the month: far above the 5% missing-rate threshold.
    const kept = body.filter((l) => {
      const day = Number(l.slice(8, 10));
      return day < 8 || day > 21;
    });
    const holey = join(h.workDir, 'NZDUSD_holes.csv');
    writeFileSync(holey, `${[header, ...kept].join('\n')}\n`);
    const imp = await h.cli(['--json', 'ingest', 'import', holey, '--symbol', 'NZDUSD', '--timeframe', '1h']);
    expect(imp.code).toBe(0);
    expect(recordsOf(imp, 'import')[0]).toMatchObject({ format: 'csv', accepted: kept.length, rejected: 0 });
    const status = await h.cli(['--json', 'ingest', 'status']);
    expect(status.code).toBe(0);
    const s = recordsOf(status, 'status')[0]!;
    expect((s['quarantine'] as Record<string, unknown>[]).filter((q) => q['symbol'] === 'NZDUSD').map((q) => q['month'])).toEqual(['2024-02']);
    expect((s['watermarks'] as Record<string, unknown>[]).map((w) => w['symbol'])).toEqual(expect.arrayContaining(['XAUUSD', 'XAGUSD', 'GBPUSD', 'EURUSD', 'NZDUSD']));

    const out = join(h.workDir, 'export-q');
    const r = await h.cli(['--json', 'bars', 'export', '--symbol', 'NZDUSD', '--format', 'csv', '--out', out]);
    expect(r.code).toBe(0);
    const dir = join(out, '1h', 'NZDUSD', '2024', '2024-02');
    const q = JSON.parse(readFileSync(join(dir, '__quarantine.json'), 'utf8')) as Record<string, unknown>;
    expect(q).toMatchObject({ symbol: 'NZDUSD', timeframe: '1h', month: '2024-02', bars_excluded: false });
    const meta = JSON.parse(readFileSync(join(dir, '__meta.json'), 'utf8')) as MonthMeta;
    expect(meta.quarantined).toBe(true);
    const n = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = 'NZDUSD'`.execute(h.database.db);
    expect(meta.counts.bars).toBe(n.rows[0]!.n);
  }, 60_000);

  it.each([
    [['ingest', 'import', 'nodate.csv'], 'UI_CLI_ARGS', 2],
    [['bars', 'export', '--symbol', 'XAUUSD', '--out', 'x', '--format', 'xls'], 'UI_CLI_ARGS', 2],
    [['bars', 'export', '--symbol', 'XAUUSD', '--out', 'x', '--from', '2024-03-01', '--to', '2024-02-01'], 'UI_CLI_ARGS', 2],
    [['bars', 'export', '--symbol', 'XAUUSD', '--out', 'x', '--from', '2024-02-30'], 'UI_CLI_ARGS', 2],
    [['demo-data', '--out', 'x', '--months', '0'], 'UI_CLI_ARGS', 2],
    [['demo-data', '--out', 'x', '--symbols', 'FOOBAR'], 'UI_CLI_ARGS', 2],
    [['demo-data'], 'UI_CLI_ARGS', 2],
    [['ingest', 'backfill', '--timeframe', '2h'], 'UI_CLI_ARGS', 2],
    [['ingest', 'import', 'x.csv', '--symbol', 'XAUUSD', '--timeframe', '1h', '--tz', 'Mars/Olympus'], 'UI_CLI_ARGS', 2],
    [['frobnicate'], 'UI_CLI_ARGS', 2],
  ])('bad arguments %j → %s, exit %d, no stack trace', async (args, id, code) => {
    const r = await h.cli(['--json', ...args]);
    expect(r.code).toBe(code);
    expect(recordsOf(r, 'error')[0]).toMatchObject({ error_id: id });
    expect(r.stderr).toContain(`error ${id}:`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('config validate accepts the shipped policies and refuses a broken cross-rule with exit 78 and the problem', async () => {
    const ok = await h.cli(['--json', 'config', 'validate']);
    expect(ok.code).toBe(0);
    const valid = recordsOf(ok, 'config_valid')[0]!;
    expect((valid['files'] as { policy: string }[]).map((f) => f.policy).sort()).toEqual(readdirSync('configs').filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort());

    const dir = join(h.workDir, 'configs-bad');
    cpSync('configs', dir, { recursive: true });
    const dd = join(dir, 'dd_policy.yaml');
    // warn ≥ halt breaks the monotonic DD thresholds rule.
    writeFileSync(dd, readFileSync(dd, 'utf8').replace(/(dd_warn_portfolio:[\s\S]*?value:\s*)[0-9.]+/, '$10.5'));
    const bad = await h.cli(['--json', '--config-dir', dir, 'config', 'validate']);
    expect(bad.code).toBe(78);
    expect(recordsOf(bad, 'error')[0]).toMatchObject({ error_id: 'OPS_CONFIG_CROSS' });
    expect(bad.stderr).toContain('dd_policy');
  });

  it('an unreadable file fails the command (exit 1, UI_CLI_FILE); a readable one with only bad rows does not', async () => {
    const missing = await h.cli(['--json', 'ingest', 'import', join(h.workDir, 'nope.csv'), '--symbol', 'XAUUSD', '--timeframe', '1h']);
    expect(missing.code).toBe(1);
    expect(recordsOf(missing, 'import')[0]).toMatchObject({ status: 'failed', error_id: 'UI_CLI_FILE' });
    const junk = join(h.workDir, 'junk.csv');
    writeFileSync(junk, '<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\nnot\ta\tbar\t.\t.\t.\n');
    const r = await h.cli(['--json', 'ingest', 'import', junk, '--symbol', 'AUDUSD', '--timeframe', '1h']);
    expect(r.code).toBe(0);
    expect(recordsOf(r, 'import')[0]).toMatchObject({ accepted: 0, rejected: 1, rejected_rows: [expect.objectContaining({ line: 2 })] });
    const unmappable = join(h.workDir, 'cols.csv');
    writeFileSync(unmappable, 'a,b,c\n1,2,3\n');
    const u = await h.cli(['--json', 'ingest', 'import', unmappable, '--symbol', 'AUDUSD', '--timeframe', '1h', '--format', 'csv']);
    expect(u.code).toBe(1);
    expect(recordsOf(u, 'import')[0]).toMatchObject({ status: 'failed', error_id: 'UI_CLI_FILE' });
  }, 60_000);
});
