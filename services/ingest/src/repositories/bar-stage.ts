/**
 * The bulk store path of canonical bars (see `BarsRepository.upsertStaged`): encoding a chunk for COPY into the
 * session's staging table, and the per-partition upsert statement that moves it into `ingest.canonical_bars`.
 *
 * What makes it fast (measured by `bench/ingest-store.bench.ts` against a raw COPY of the same rows):
 * - New data (no stored bar of the chunk's series inside the chunk's time range — every backfill of history
 *   and most live chunks) is COPYed straight into `ingest.canonical_bars` in PostgreSQL's binary COPY format:
 *   one buffer per chunk, doubles and timestamps as bytes (nothing to format in JS or to parse in Postgres), no
 *   staging table, no ON CONFLICT, nothing returned — every row is inserted. The COPY runs under a savepoint:
 *   should a concurrent writer insert one of the keys after the range check (unique violation), the chunk
 *   falls back to the staged upsert below, which handles conflicts.
 * - Otherwise (re-ingest, revisions, overlaps) one COPY text buffer per chunk into the staging table, built by a
 *   bar-specific encoder (no per-field type dispatch, no Date objects: the open time travels as epoch
 *   milliseconds and becomes a timestamptz with exact interval arithmetic).
 * - Columns whose value is the same for the whole chunk (one series, one run, one source — the pipeline's normal
 *   case) are not staged at all but bound once as statement parameters; metadata is de-duplicated by JSON text
 *   (bound as a small `jsonb[]` dictionary), so Postgres parses each distinct metadata object once per chunk.
 * - The rows go straight into the month's partition instead of the partitioned parent: no tuple routing, and
 *   `RETURNING xmax = 0` tells inserted from updated rows (system columns cannot be returned through a
 *   partitioned table). That replaces the per-row "did it exist" index probe the statement needed before.
 * - The staging table lives for the session (`ON COMMIT DELETE ROWS`): no catalog churn per chunk.
 * Durability is untouched: same transaction, same WAL, same synchronous commit.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type { ClientTransaction } from '@noctria/platform';
import type { BarToStore } from './bars.repository.js';

/** Session-local staging table: created once per connection, emptied by every commit. */
export const STAGE_TABLE = 'ingest_bars_stage';

/** Distinct metadata texts bound as a `jsonb[]` dictionary at most; beyond, metadata is staged inline. */
const MAX_META_DICTIONARY = 64;

const TEXT_UNSAFE = /[\\\t\n\r\0]/;

/** The columns that may be bound once per chunk instead of staged per row. */
const UNIFORM_CANDIDATES = ['symbol', 'timeframe', 'quality_flag', 'source_id', 'ingest_run_id'] as const;
type UniformColumn = (typeof UNIFORM_CANDIDATES)[number];

/**
 * The full staging table. Every chunk stages into the same table (the columns it binds as parameters stay
 * NULL), so the table can be created once per session.
 */
const CREATE_STAGE = `
  create temp table if not exists ${STAGE_TABLE} (
    ms int8, symbol text, timeframe text, open float8, high float8, low float8, close float8, volume float8,
    quality_flag text, source_id text, ingest_run_id text, meta_ix int4, metadata jsonb, checksum text
  ) on commit delete rows`;

function textField(value: string, column: string): string {
  if (TEXT_UNSAFE.test(value)) {
    if (value.includes('\0')) throw new Error(`bar column ${column} contains a NUL character`);
    return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
  }
  return value;
}

/** Shortest round-trip text of a double (what float8in reads back bit-exactly); -0 kept; never NaN/∞. */
function floatField(value: number, column: string): string {
  if (!Number.isFinite(value)) throw new Error(`bar column ${column} is not a finite number: ${value}`);
  return value === 0 && 1 / value < 0 ? '-0' : String(value);
}

/** Max |ms| such that ms × 1000 µs stays an exact double in Postgres' interval arithmetic (years ≈ 1717–2223). */
const MAX_ABS_MS = 8_000_000_000_000;

export interface StagedChunk {
  /** COPY statement (column list of the staged columns). */
  copy: string;
  /** COPY text, one line per row. */
  text: string;
  /** Values of the uniform columns (bound as parameters), by column. */
  uniform: Partial<Record<UniformColumn, string>>;
  /** Metadata: one text for the chunk, a dictionary indexed by `meta_ix` (1-based), or inline per row. */
  meta: { mode: 'uniform'; text: string } | { mode: 'dictionary'; texts: string[] } | { mode: 'inline' };
}

/** Encodes a chunk for COPY into the staging table (`metaTexts[i]`: JSON text of row i's metadata). */
export function stageChunk(rows: readonly BarToStore[], metaTexts: readonly string[]): StagedChunk {
  const first = rows[0]!.bar;
  const varying = new Set<UniformColumn>();
  for (const r of rows) {
    const b = r.bar;
    if (b.symbol !== first.symbol) varying.add('symbol');
    if (b.timeframe !== first.timeframe) varying.add('timeframe');
    if (b.quality_flag !== first.quality_flag) varying.add('quality_flag');
    if (b.source_id !== first.source_id) varying.add('source_id');
    if (b.ingest_run_id !== first.ingest_run_id) varying.add('ingest_run_id');
  }
  const dictionary = new Map<string, number>();
  for (const t of metaTexts) {
    if (!dictionary.has(t)) dictionary.set(t, dictionary.size + 1);
    if (dictionary.size > MAX_META_DICTIONARY) break;
  }
  const meta: StagedChunk['meta'] =
    dictionary.size === 1
      ? { mode: 'uniform', text: metaTexts[0]! }
      : dictionary.size <= MAX_META_DICTIONARY
        ? { mode: 'dictionary', texts: [...dictionary.keys()] }
        : { mode: 'inline' };

  const columns = ['ms'];
  for (const c of ['symbol', 'timeframe'] as const) if (varying.has(c)) columns.push(c);
  columns.push('open', 'high', 'low', 'close', 'volume');
  for (const c of ['quality_flag', 'source_id', 'ingest_run_id'] as const) if (varying.has(c)) columns.push(c);
  if (meta.mode === 'dictionary') columns.push('meta_ix');
  if (meta.mode === 'inline') columns.push('metadata');
  columns.push('checksum');

  const vSymbol = varying.has('symbol');
  const vTimeframe = varying.has('timeframe');
  const vFlag = varying.has('quality_flag');
  const vSource = varying.has('source_id');
  const vRun = varying.has('ingest_run_id');
  const lines = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const b = r.bar;
    if (!Number.isSafeInteger(r.tsMs) || Math.abs(r.tsMs) > MAX_ABS_MS) throw new Error(`bar open time ${r.tsMs} is outside the storable range`);
    let line = String(r.tsMs);
    if (vSymbol) line += '\t' + textField(b.symbol, 'symbol');
    if (vTimeframe) line += '\t' + textField(b.timeframe, 'timeframe');
    line +=
      '\t' + floatField(b.open, 'open') +
      '\t' + floatField(b.high, 'high') +
      '\t' + floatField(b.low, 'low') +
      '\t' + floatField(b.close, 'close') +
      '\t' + (b.volume === null || b.volume === undefined ? '\\N' : floatField(b.volume, 'volume'));
    if (vFlag) line += '\t' + textField(b.quality_flag, 'quality_flag');
    if (vSource) line += '\t' + textField(b.source_id, 'source_id');
    if (vRun) line += '\t' + textField(b.ingest_run_id, 'ingest_run_id');
    if (meta.mode === 'dictionary') line += '\t' + String(dictionary.get(metaTexts[i]!));
    else if (meta.mode === 'inline') line += '\t' + textField(metaTexts[i]!, 'metadata');
    lines[i] = line + '\t' + textField(r.checksum, 'checksum') + '\n';
  }
  const uniform: StagedChunk['uniform'] = {};
  for (const c of UNIFORM_CANDIDATES) {
    if (!varying.has(c)) {
      const v = first[c] as string;
      if (v.includes('\0')) throw new Error(`bar column ${c} contains a NUL character`);
      uniform[c] = v;
    }
  }
  return { copy: `copy ${STAGE_TABLE} (${columns.join(', ')}) from stdin`, text: lines.join(''), uniform, meta };
}

/** Creates the session's staging table when missing and COPYs the chunk into it (inside the caller's transaction). */
export async function copyStage(tx: ClientTransaction<unknown>, staged: StagedChunk): Promise<void> {
  await tx.client.query(CREATE_STAGE);
  const stream = tx.client.query(copyStreams.from(staged.copy));
  await pipeline(Readable.from([staged.text], { objectMode: false }), stream);
}

/** `canonical_bars_pYYYYMM` (the naming of `ingest.ensure_bar_partitions`) and the month's bounds in ms. */
export function monthPartitions(rows: readonly BarToStore[]): Array<{ name: string; fromMs: number; toMs: number }> {
  const months = new Map<number, { name: string; fromMs: number; toMs: number }>();
  for (const r of rows) {
    const d = new Date(r.tsMs);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    const key = y * 12 + m;
    if (!months.has(key)) {
      months.set(key, { name: `canonical_bars_p${String(y).padStart(4, '0')}${String(m + 1).padStart(2, '0')}`, fromMs: Date.UTC(y, m, 1), toMs: Date.UTC(y, m + 1, 1) });
    }
  }
  return [...months.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Column order of the statement's result rows (rowMode 'array'). */
export const RESULT = { ms: 0, symbol: 1, timeframe: 2, inserted: 3, qualityFlag: 4, sourceId: 5, revision: 6, metadata: 7 } as const;

/**
 * The upsert from the staging table into each month's partition, as one statement (a data-modifying CTE per
 * month when the chunk spans several). `onConflict` is the revised/conflict/duplicate rule set (target alias
 * `b`). Result rows: written rows only (duplicates are filtered by the DO UPDATE's WHERE), with the stored
 * flag/source/revision/metadata for updated rows only — inserted rows are exactly their input. `xmax = 0` on
 * the returned tuple means "inserted": an ON CONFLICT update leaves its row lock's xid there.
 */
export function stagedUpsertSql(
  staged: StagedChunk,
  partitions: ReadonlyArray<{ name: string; fromMs: number; toMs: number }>,
  onConflict: (param: (value: unknown, cast: string) => string) => string,
): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (v: unknown, cast: string): string => {
    values.push(v);
    return `$${values.length}::${cast}`;
  };
  const col = (c: UniformColumn): string => (staged.uniform[c] !== undefined ? param(staged.uniform[c], 'text') : `s.${c}`);
  const metadata =
    staged.meta.mode === 'uniform'
      ? param(staged.meta.text, 'jsonb')
      : staged.meta.mode === 'dictionary'
        ? `(${param(staged.meta.texts, 'jsonb[]')})[s.meta_ix]`
        : 's.metadata';
  const select = `select timestamptz 'epoch' + s.ms * interval '1 millisecond', ${col('symbol')}, ${col('timeframe')},
      s.open, s.high, s.low, s.close, s.volume, ${col('quality_flag')}, ${col('source_id')}, ${col('ingest_run_id')}, ${metadata}, s.checksum
    from ${STAGE_TABLE} s`;
  const conflict = onConflict(param);
  // Key columns bound for the chunk need not travel back.
  const returning = `returning (extract(epoch from b.ts_utc) * 1000)::int8,
      ${staged.uniform.symbol !== undefined ? 'null' : 'b.symbol'}, ${staged.uniform.timeframe !== undefined ? 'null' : 'b.timeframe'}, b.xmax = 0,
      case when b.xmax <> 0 then b.quality_flag end, case when b.xmax <> 0 then b.source_id end,
      case when b.xmax <> 0 then b.revision end, case when b.xmax <> 0 then b.metadata end`;
  const insert = (p: { name: string; fromMs: number; toMs: number }, bounded: boolean): string =>
    `insert into ingest.${p.name} as b
      (ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum)
    ${select}${bounded ? ` where s.ms >= ${p.fromMs} and s.ms < ${p.toMs}` : ''}
    ${conflict}
    ${returning}`;
  if (partitions.length === 1) return { text: insert(partitions[0]!, false), values };
  const ctes = partitions.map((p, i) => `m${i} as (${insert(p, true)})`);
  return { text: `with ${ctes.join(',\n')}\n${partitions.map((_, i) => `select * from m${i}`).join('\nunion all\n')}`, values };
}

/** The rows of one series (symbol × timeframe) in a chunk and their time range. */
export interface SeriesRange {
  symbol: string;
  timeframe: string;
  fromMs: number;
  toMs: number;
}

/**
 * The chunk's series and their time ranges; throws when a key appears twice (one statement cannot write a key
 * twice). Nested maps keyed by the rows' own strings: no key string is built per row.
 */
export function seriesRanges(rows: readonly BarToStore[]): SeriesRange[] {
  const bySymbol = new Map<string, Map<string, { range: SeriesRange; seen: Set<number> }>>();
  const out: SeriesRange[] = [];
  for (const r of rows) {
    let byTf = bySymbol.get(r.bar.symbol);
    if (!byTf) bySymbol.set(r.bar.symbol, (byTf = new Map()));
    let g = byTf.get(r.bar.timeframe);
    if (!g) {
      g = { range: { symbol: r.bar.symbol, timeframe: r.bar.timeframe, fromMs: r.tsMs, toMs: r.tsMs }, seen: new Set() };
      byTf.set(r.bar.timeframe, g);
      out.push(g.range);
    }
    if (g.seen.has(r.tsMs)) throw new Error(`upsert batch holds the key ${r.bar.symbol}|${r.bar.timeframe}|${r.tsMs} twice; de-duplicate before storing`);
    g.seen.add(r.tsMs);
    if (r.tsMs < g.range.fromMs) g.range.fromMs = r.tsMs;
    if (r.tsMs > g.range.toMs) g.range.toMs = r.tsMs;
  }
  return out;
}

/** Whether any bar is stored for one of the series inside its range (the chunk then needs the conflict rules). */
export async function anyStoredInRange(tx: ClientTransaction<unknown>, ranges: readonly SeriesRange[]): Promise<boolean> {
  const r = await tx.client.query<{ hit: boolean }>({
    text: `select exists (
        select 1 from unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) as g(symbol, timeframe, lo, hi)
        where exists (
          select 1 from ingest.canonical_bars c
          where c.symbol = g.symbol and c.timeframe = g.timeframe
            and c.ts_utc >= timestamptz 'epoch' + g.lo * interval '1 millisecond'
            and c.ts_utc <= timestamptz 'epoch' + g.hi * interval '1 millisecond')) as hit`,
    values: [ranges.map((g) => g.symbol), ranges.map((g) => g.timeframe), ranges.map((g) => g.fromMs), ranges.map((g) => g.toMs)],
  });
  return r.rows[0]?.hit === true;
}

/** Binary COPY carries text in the server encoding unconverted: only UTF8 (and SQL_ASCII, which takes any bytes) match what we send. */
export async function binaryTextSafe(tx: ClientTransaction<unknown>): Promise<boolean> {
  const r = await tx.client.query<{ enc: string }>(`select current_setting('server_encoding') as enc`);
  const enc = r.rows[0]?.enc;
  return enc === 'UTF8' || enc === 'SQL_ASCII';
}

const NEW_COLUMNS = 'ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum';
const PGCOPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Binary COPY header: signature, flags (no OIDs), header extension length 0. */
export const PGCOPY_HEADER = Buffer.concat([PGCOPY_SIGNATURE, Buffer.alloc(8)]);
/** 2000-01-01T00:00:00Z in Unix ms: the origin of binary timestamptz (µs). */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

/** UTF-8 bytes of the chunk's repeated strings (symbols, flags, ids, metadata texts), encoded once per chunk. */
class StringBytes {
  private readonly cache = new Map<string, Buffer>();
  private lastText = '';
  private lastBytes: Buffer = Buffer.alloc(0);

  get(s: string): Buffer {
    if (s === this.lastText) return this.lastBytes;
    let b = this.cache.get(s);
    if (!b) {
      if (s.includes('\0')) throw new Error('bar text contains a NUL character');
      b = Buffer.from(s, 'utf8');
      this.cache.set(s, b);
    }
    this.lastText = s;
    this.lastBytes = b;
    return b;
  }
}

function finiteOrThrow(v: number, column: string): number {
  if (!Number.isFinite(v)) throw new Error(`bar column ${column} is not a finite number: ${v}`);
  return v;
}

/**
 * The chunk as one binary COPY buffer for `ingest.canonical_bars` (columns {@link NEW_COLUMNS}): sized exactly in
 * a first pass, written in a second. Per field: int32 length (-1 = NULL), then the value — timestamptz as int64
 * µs since 2000-01-01 UTC, float8 as IEEE-754 big-endian, text as UTF-8, jsonb as version byte 1 + JSON text.
 */
export function encodeNewRows(rows: readonly BarToStore[], metaTexts: readonly string[]): Buffer {
  const symbols = new StringBytes();
  const timeframes = new StringBytes();
  const flags = new StringBytes();
  const sources = new StringBytes();
  const runs = new StringBytes();
  const metas = new StringBytes();
  // 2 (field count) + 13 length words + ts 8 + five float8 40 (volume NULL: 8 fewer) + jsonb version byte 1.
  const FIXED = 2 + 13 * 4 + 8 + 40 + 1;
  let size = PGCOPY_HEADER.length + 2;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const b = r.bar;
    if (r.checksum.includes('\0')) throw new Error('bar checksum contains a NUL character');
    size +=
      FIXED -
      (b.volume === null || b.volume === undefined ? 8 : 0) +
      symbols.get(b.symbol).length +
      timeframes.get(b.timeframe).length +
      flags.get(b.quality_flag).length +
      sources.get(b.source_id).length +
      runs.get(b.ingest_run_id).length +
      metas.get(metaTexts[i]!).length +
      Buffer.byteLength(r.checksum, 'utf8');
  }
  const buf = Buffer.allocUnsafe(size);
  buf.set(PGCOPY_HEADER, 0);
  let off = PGCOPY_HEADER.length;
  const bytes = (v: Buffer): void => {
    buf.writeInt32BE(v.length, off);
    buf.set(v, off + 4);
    off += 4 + v.length;
  };
  const float8 = (v: number): void => {
    buf.writeInt32BE(8, off);
    buf.writeDoubleBE(v, off + 4);
    off += 12;
  };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const b = r.bar;
    buf.writeInt16BE(13, off);
    off += 2;
    const us = (r.tsMs - PG_EPOCH_MS) * 1000;
    if (!Number.isSafeInteger(us)) throw new Error(`bar open time ${r.tsMs} is outside the storable range`);
    const hi = Math.floor(us / TWO_32);
    buf.writeInt32BE(8, off);
    buf.writeInt32BE(hi, off + 4);
    buf.writeUInt32BE(us - hi * TWO_32, off + 8);
    off += 12;
    bytes(symbols.get(b.symbol));
    bytes(timeframes.get(b.timeframe));
    float8(finiteOrThrow(b.open, 'open'));
    float8(finiteOrThrow(b.high, 'high'));
    float8(finiteOrThrow(b.low, 'low'));
    float8(finiteOrThrow(b.close, 'close'));
    if (b.volume === null || b.volume === undefined) {
      buf.writeInt32BE(-1, off);
      off += 4;
    } else float8(finiteOrThrow(b.volume, 'volume'));
    bytes(flags.get(b.quality_flag));
    bytes(sources.get(b.source_id));
    bytes(runs.get(b.ingest_run_id));
    const meta = metas.get(metaTexts[i]!);
    buf.writeInt32BE(meta.length + 1, off);
    buf[off + 4] = 1;
    buf.set(meta, off + 5);
    off += 5 + meta.length;
    const n = buf.write(r.checksum, off + 4, 'utf8');
    buf.writeInt32BE(n, off);
    off += 4 + n;
  }
  buf.writeInt16BE(-1, off);
  off += 2;
  if (off !== size) throw new Error(`binary COPY buffer size mismatch: ${off} of ${size}`);
  return buf;
}

/** Unique violation: a key of the chunk was stored concurrently after the range check. */
export const UNIQUE_VIOLATION = '23505';

/** Runs a `COPY … FROM STDIN` with one prepared buffer on the transaction's connection. */
export async function copyBinary(tx: ClientTransaction<unknown>, statement: string, data: Buffer): Promise<void> {
  const stream = tx.client.query(copyStreams.from(statement));
  await pipeline(Readable.from([data], { objectMode: false }), stream);
}

/** COPYs new rows straight into the partitioned table (routing by PostgreSQL). */
export function copyNewRows(tx: ClientTransaction<unknown>, data: Buffer): Promise<void> {
  return copyBinary(tx, `copy ingest.canonical_bars (${NEW_COLUMNS}) from stdin with (format binary)`, data);
}

const pad2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const pad3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * `Date#toISOString` for a stream of nearby instants: the date part is formatted once per UTC day. Bars of a
 * chunk share a handful of days, and toISOString is a measurable share of a bulk store.
 */
export function isoFormatter(): (ms: number) => string {
  let dayStart = NaN;
  let prefix = '';
  return (ms) => {
    const d = ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000);
    if (d !== dayStart) {
      const full = new Date(ms).toISOString();
      // Years outside 0000–9999 are formatted with a sign: leave those to toISOString.
      if (full.length !== 24) return full;
      dayStart = d;
      prefix = full.slice(0, 11);
    }
    let t = ms - dayStart;
    const milli = t % 1000;
    t = (t - milli) / 1000;
    const sec = t % 60;
    t = (t - sec) / 60;
    const min = t % 60;
    const hour = (t - min) / 60;
    return `${prefix}${pad2[hour]}:${pad2[min]}:${pad2[sec]}.${pad3[milli]}Z`;
  };
}
