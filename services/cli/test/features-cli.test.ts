/**
 * `noctria features compute`, in-process (`run(argv, io)`; no database needed): the fixture pair against the
 * independently computed expected.csv (pandas / statsmodels / TTR) to 1e−6 relative with warm-up cells empty,
 * bad input rows reported with their file line and error id while the good rows are kept (values checked
 * against the naive reference on the surviving bars), unmatched bars dropped and counted, parameter overrides,
 * and whole-file / argument errors.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FEATURE_NAMES, naiveFeatureMatrix, type PairSeries } from '@noctria/features';
import { run } from '../src/cli.js';

const FIXTURES = resolve('libs/features/test/fixtures');
const PAIR_A = join(FIXTURES, 'pair_A.csv');
const PAIR_B = join(FIXTURES, 'pair_B.csv');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  records: Record<string, unknown>[];
}

let work: string;

async function cli(args: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { PATH: process.env['PATH'] ?? '', NOCTRIA_CONFIG_DIR: resolve('configs'), NOCTRIA_DATA_DIR: join(work, 'data'), LOG_LEVEL: 'info' },
  });
  const records = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, stderr, records };
}

function csv(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(','));
}

/** Pair series of the rows of two bar CSVs (already clean), joined on time — built here, not by the CLI. */
function seriesOf(aRows: string[][], bRows: string[][]): PairSeries {
  const b = new Map(bRows.map((r) => [Date.parse(r[0] as string), r]));
  const rows = aRows.filter((r) => b.has(Date.parse(r[0] as string))).map((r) => [r, b.get(Date.parse(r[0] as string)) as string[]] as const);
  const col = (leg: 0 | 1, i: number) => Float64Array.from(rows, (p) => Number(p[leg][i]));
  return {
    tsMs: Float64Array.from(rows, (p) => Date.parse(p[0][0] as string)),
    aOpen: col(0, 1),
    aHigh: col(0, 2),
    aLow: col(0, 3),
    aClose: col(0, 4),
    bOpen: col(1, 1),
    bHigh: col(1, 2),
    bLow: col(1, 3),
    bClose: col(1, 4),
  };
}

/** Every cell of `outPath` against `expected` (same row order): empty ↔ NaN exactly, else within `rel`. */
function expectMatrix(outPath: string, expectedTs: number[], expected: Record<string, ArrayLike<number>>, rel: number): void {
  const [header, ...rows] = csv(outPath);
  expect(header).toEqual(['ts_utc', ...FEATURE_NAMES]);
  expect(rows.map((r) => Date.parse(r[0] as string))).toEqual(expectedTs);
  for (const [j, name] of FEATURE_NAMES.entries()) {
    let worst = 0;
    let warmMismatch = 0;
    for (const [i, r] of rows.entries()) {
      const cell = r[j + 1] as string;
      const e = (expected[name] as ArrayLike<number>)[i] as number;
      if (cell === '' || Number.isNaN(e)) {
        if (!(cell === '' && Number.isNaN(e))) warmMismatch++;
        continue;
      }
      worst = Math.max(worst, Math.abs(Number(cell) - e) / Math.max(Math.abs(e), 1e-12));
    }
    expect({ name, warmMismatch, withinTolerance: worst <= rel }).toEqual({ name, warmMismatch: 0, withinTolerance: true });
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'noctria-features-cli-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('noctria features compute', () => {
  it('reproduces expected.csv of the fixture pair to 1e-6 relative, warm-up cells empty', async () => {
    const out = join(work, 'F.csv');
    const r = await cli(['--json', 'features', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', out]);
    expect(r.code).toBe(0);
    const [expHeader, ...expRows] = csv(join(FIXTURES, 'expected.csv'));
    const expected = Object.fromEntries(
      FEATURE_NAMES.map((f) => {
        const j = (expHeader as string[]).indexOf(f);
        return [f, Float64Array.from(expRows, (row) => (row[j] === '' ? NaN : Number(row[j])))];
      }),
    );
    expectMatrix(out, expRows.map((row) => Date.parse(row[0] as string)), expected, 1e-6);
    const rec = r.records.find((x) => x['type'] === 'features')!;
    expect(rec).toMatchObject({ out, bars: 2000, columns: 21, aligned_bars: 2000, dropped_a_only: 0, dropped_b_only: 0, rejected_rows: [], full_vector_warmup_bars: 377, fully_defined_rows: 2000 - 377 });
    expect(rec['a']).toEqual({ file: PAIR_A, rows: 2000, accepted: 2000, rejected: 0 });
    expect(rec['schema_hash']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes every number in its shortest round-trip form', async () => {
    const out = join(work, 'F-roundtrip.csv');
    expect((await cli(['features', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', out])).code).toBe(0);
    const cells = csv(out)
      .slice(1)
      .flatMap((r) => r.slice(1))
      .filter((c) => c !== '');
    expect(cells.length).toBeGreaterThan(30_000);
    for (const c of cells) if (String(Number(c)) !== c) throw new Error(`cell ${c} is not in shortest round-trip form`);
  });

  it('reports bad rows with their file line and error id, keeps the good rows, drops and counts unmatched bars', async () => {
    const aLines = readFileSync(PAIR_A, 'utf8').trim().split('\n');
    const bLines = readFileSync(PAIR_B, 'utf8').trim().split('\n');
    // Corrupt A at known lines (1-based, header = line 1); the comments give the canonical-bar rule each breaks.
    const corrupt: Record<number, [(f: string[]) => string, string]> = {
      5: [(f) => [f[0], f[1], f[2], f[3], '-1', f[5]].join(','), 'DATA_DQ_NONPOS'],
      10: [(f) => [f[0], 'abc', f[2], f[3], f[4], f[5]].join(','), 'DATA_DQ_FIELD'],
      15: [(f) => ['2023-13-45T00:00:00Z', ...f.slice(1)].join(','), 'DATA_DQ_TSFMT'],
      20: [(f) => [f[0], f[1], String(Number(f[4]) * 0.9), f[3], f[4], f[5]].join(','), 'DATA_DQ_OHLC'],
      25: [(f) => f.slice(0, 4).join(','), 'DATA_DQ_FIELD'],
      30: [(f) => [(f[0] as string).replace(':00:00Z', ':30:00Z'), ...f.slice(1)].join(','), 'DATA_DQ_ALIGN'],
    };
    const badA = aLines.map((l, i) => (corrupt[i + 1] ? corrupt[i + 1]![0](l.split(',')) : l));
    // B lacks the bars of A's lines 100..109 (ten A-only bars); B's first data row has no A partner.
    const extraB = '2023-01-01T23:00:00Z,1796.0,1797.0,1795.0,1796.5,10';
    const keptB = bLines.filter((_, i) => !(i + 1 >= 100 && i + 1 <= 109));
    const fileA = join(work, 'bad_A.csv');
    const fileB = join(work, 'gappy_B.csv');
    writeFileSync(fileA, `${badA.join('\n')}\n`);
    writeFileSync(fileB, `${[keptB[0], extraB, ...keptB.slice(1)].join('\r\n')}\r\n`);

    const out = join(work, 'F-bad.csv');
    const r = await cli(['--json', 'features', 'compute', '--a', fileA, '--b', fileB, '--out', out]);
    expect(r.code).toBe(0);
    const rec = r.records.find((x) => x['type'] === 'features')!;
    const rejected = rec['rejected_rows'] as { file: string; line: number; error_id: string }[];
    expect(rejected.map((x) => [x.file, x.line, x.error_id])).toEqual(Object.entries(corrupt).map(([line, [, id]]) => [fileA, Number(line), id]));
    expect(rec['a']).toEqual({ file: fileA, rows: 2000, accepted: 1994, rejected: 6 });
    expect(rec['b']).toEqual({ file: fileB, rows: 1991, accepted: 1991, rejected: 0 });
    // 1994 good A bars; 10 of them have no B bar (lines 100..109, none corrupted); 1 B bar has no A bar.
    expect(rec).toMatchObject({ aligned_bars: 1984, dropped_a_only: 10, dropped_b_only: 1 + 6, bars: 1984 });

    // Oracle: the naive reference on the surviving rows, joined here independently of the CLI.
    const goodA = aLines.slice(1).filter((_, i) => !corrupt[i + 2]).map((l) => l.split(','));
    const series = seriesOf(goodA, [extraB, ...keptB.slice(1)].map((l) => l.trim().split(',')));
    expect(series.tsMs.length).toBe(1984);
    expectMatrix(out, Array.from(series.tsMs), naiveFeatureMatrix(series), 1e-8);

    const human = await cli(['features', 'compute', '--a', fileA, '--b', fileB, '--out', join(work, 'F-bad-human.csv')]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${fileA}:5: DATA_DQ_NONPOS close:`);
    expect(human.stdout).toContain(`${fileA}:15: DATA_DQ_TSFMT ts_utc:`);
    expect(human.stdout).toMatch(/aligned 1984 bars on ts_utc; dropped 10 A-only and 7 B-only bars/);
  });

  it('--param overrides a policy parameter (β window 60 → first β on row 59, values as the naive reference)', async () => {
    const out = join(work, 'F-param.csv');
    const r = await cli(['--json', 'features', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', out, '--param', 'betaWindow=60', 'slopeWindow=10']);
    expect(r.code).toBe(0);
    expect(r.records[0]!['params']).toMatchObject({ betaWindow: 60, slopeWindow: 10, zWindow: 180 });
    const series = seriesOf(csv(PAIR_A).slice(1), csv(PAIR_B).slice(1));
    const naive = naiveFeatureMatrix(series, { betaWindow: 60, slopeWindow: 10 });
    expect(naive.beta.findIndex((v) => !Number.isNaN(v))).toBe(59);
    expectMatrix(out, Array.from(series.tsMs), naive, 1e-8);
  });

  it.each([
    [['--param', 'betaWindow=1'], 'UI_CLI_ARGS', 2],
    [['--param', 'noSuchKey=3'], 'UI_CLI_ARGS', 2],
    [['--param', 'betaWindow'], 'UI_CLI_ARGS', 2],
    [['--timeframe', '7m'], 'UI_CLI_ARGS', 2],
  ])('refuses bad options %j with %s (exit %d)', async (extra, id, exit) => {
    const r = await cli(['--json', 'features', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', join(work, 'never.csv'), ...(extra as string[])]);
    expect(r.code).toBe(exit);
    expect(r.records.find((x) => x['type'] === 'error')).toMatchObject({ error_id: id });
  });

  it('a missing file or a file without the price columns is UI_CLI_FILE (exit 1)', async () => {
    const noCols = join(work, 'no_cols.csv');
    writeFileSync(noCols, 'ts_utc,open,high,low\n2023-01-02T00:00:00Z,1,1,1\n');
    for (const a of [join(work, 'does-not-exist.csv'), noCols]) {
      const r = await cli(['--json', 'features', 'compute', '--a', a, '--b', PAIR_B, '--out', join(work, 'never.csv')]);
      expect(r.code).toBe(1);
      expect(r.records.find((x) => x['type'] === 'error')).toMatchObject({ error_id: 'UI_CLI_FILE' });
    }
  });
});
