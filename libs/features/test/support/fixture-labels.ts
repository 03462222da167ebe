import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Reads the independent fixture of libs/features/test/fixtures (see its README). Empty cells become NaN. */
const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface Csv {
  header: string[];
  rows: string[][];
}

export function readFixtureCsv(name: string): Csv {
  const lines = readFileSync(join(DIR, name), 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]!.split(',');
  return { header, rows: lines.slice(1).map((l) => l.split(',')) };
}

export interface FixtureFeatures {
  ts: string[];
  tsMs: Float64Array;
  columns: Record<string, Float64Array>;
}

export function fixtureFeatures(): FixtureFeatures {
  const { header, rows } = readFixtureCsv('expected.csv');
  const columns: Record<string, Float64Array> = {};
  for (let c = 1; c < header.length; c++) {
    const col = new Float64Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const cell = rows[r]![c]!;
      col[r] = cell === '' ? NaN : Number(cell);
    }
    columns[header[c]!] = col;
  }
  const ts = rows.map((r) => r[0]!);
  return { ts, tsMs: Float64Array.from(ts, (t) => Date.parse(t)), columns };
}

export interface FixtureEvent {
  ts: string;
  direction: number;
  outcome: number;
}

export function fixtureAi1Events(): FixtureEvent[] {
  const { rows } = readFixtureCsv('expected_ai1_events.csv');
  return rows.map((r) => ({ ts: r[0]!, direction: Number(r[1]), outcome: Number(r[2]) }));
}

export function fixtureAi2(): { ts: string[]; risk: number[]; defined: number[] } {
  const { rows } = readFixtureCsv('expected_ai2_risk_without_dd.csv');
  return { ts: rows.map((r) => r[0]!), risk: rows.map((r) => Number(r[1])), defined: rows.map((r) => Number(r[2])) };
}

export interface FixtureBars {
  ts: string[];
  tsMs: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

export function fixtureBars(leg: 'A' | 'B'): FixtureBars {
  const { rows } = readFixtureCsv(`pair_${leg}.csv`);
  const col = (k: number): Float64Array => Float64Array.from(rows, (r) => Number(r[k]));
  const ts = rows.map((r) => r[0]!);
  return { ts, tsMs: Float64Array.from(ts, (t) => Date.parse(t)), open: col(1), high: col(2), low: col(3), close: col(4), volume: col(5) };
}
