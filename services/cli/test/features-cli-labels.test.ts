/**
 * `noctria labels compute`, in-process: the fixture pair's AI1 events equal expected_ai1_events.csv (computed
 * independently), each event's end is consistent with the fixture's own z column (expected.csv), and the AI2
 * risk conditions that need no equity curve reproduce expected_ai2_risk_without_dd.csv; option errors.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../src/cli.js';

const FIXTURES = resolve('libs/features/test/fixtures');
const PAIR_A = join(FIXTURES, 'pair_A.csv');
const PAIR_B = join(FIXTURES, 'pair_B.csv');
/** Seed defaults of core_policy (configs/core_policy.yaml), written out here as the spec states them. */
const Z_ENTRY = 2.0;
const Z_EXIT = 0.5;
const M = 48;

let work: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; records: Record<string, unknown>[] }> {
  let stdout = '';
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => true },
    env: { PATH: process.env['PATH'] ?? '', NOCTRIA_CONFIG_DIR: resolve('configs'), NOCTRIA_DATA_DIR: join(work, 'data'), LOG_LEVEL: 'info' },
  });
  const records = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, records };
}

function csv(path: string): string[][] {
  return readFileSync(path, 'utf8')
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(','));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'noctria-labels-cli-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('noctria labels compute', () => {
  const events = () => join(work, 'events.csv');
  const risk = () => join(work, 'risk.csv');
  let summary: Record<string, unknown>;

  beforeAll(async () => {
    const r = await cli(['--json', 'labels', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', events(), '--risk-out', risk()]);
    expect(r.code).toBe(0);
    summary = r.records.find((x) => x['type'] === 'labels')!;
  });

  it('AI1 events equal expected_ai1_events.csv (start, direction, outcome)', () => {
    const [header, ...rows] = csv(events());
    expect(header).toEqual(['ts_utc', 'direction', 'outcome', 'end_ts_utc', 'end_reason']);
    const expected = csv(join(FIXTURES, 'expected_ai1_events.csv')).slice(1);
    expect(rows.map((r) => [Date.parse(r[0] as string), Number(r[1]), Number(r[2])])).toEqual(expected.map((r) => [Date.parse(r[0] as string), Number(r[1]), Number(r[2])]));
    const ones = expected.filter((r) => r[2] === '1').length;
    expect(summary['ai1']).toMatchObject({ events: expected.length });
    const ai1 = summary['ai1'] as { outcome_1: number; outcome_0: number; censored_data_end: number };
    expect(ai1.outcome_1).toBe(ones);
    expect(ai1.outcome_0 + ai1.censored_data_end).toBe(expected.length - ones);
  });

  it('each event ends where the fixture z says it does (exit band, horizon M, or the data end)', () => {
    const [eh, ...er] = csv(join(FIXTURES, 'expected.csv'));
    const zCol = (eh as string[]).indexOf('z');
    const ts = er.map((r) => Date.parse(r[0] as string));
    const z = er.map((r) => (r[zCol] === '' ? NaN : Number(r[zCol])));
    const at = (iso: string) => ts.indexOf(Date.parse(iso));
    for (const [start, dir, outcome, end, reason] of csv(events()).slice(1) as [string, string, string, string, string][]) {
      const s = at(start);
      const e = at(end);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(e).toBeGreaterThan(s);
      expect(Math.sign(z[s] as number)).toBe(Number(dir));
      expect(Math.abs(z[s] as number)).toBeGreaterThanOrEqual(Z_ENTRY);
      // No earlier bar of the event window reached the exit band or crossed to the opposite entry band.
      for (let i = s + 1; i < e; i++) {
        expect(Math.abs(z[i] as number)).toBeGreaterThan(Z_EXIT);
        expect(Math.sign(z[i] as number) !== Number(dir) && Math.abs(z[i] as number) >= Z_ENTRY).toBe(false);
      }
      if (reason === 'exit') {
        expect([outcome, Math.abs(z[e] as number) <= Z_EXIT, e - s <= M]).toEqual(['1', true, true]);
      } else if (reason === 'horizon') {
        expect([outcome, e - s, Math.abs(z[e] as number) > Z_EXIT]).toEqual(['0', M, true]);
      } else {
        expect([reason, outcome, e, e - s < M]).toEqual(['data_end', '0', ts.length - 1, true]);
      }
    }
  });

  it('AI2: corr|vol|speed reproduces expected_ai2_risk_without_dd.csv; risk = any of the four conditions', () => {
    const [header, ...rows] = csv(risk());
    expect(header).toEqual(['ts_utc', 'risk', 'defined', 'corr', 'vol', 'speed', 'dd']);
    const expected = csv(join(FIXTURES, 'expected_ai2_risk_without_dd.csv')).slice(1);
    expect(rows.map((r) => Date.parse(r[0] as string))).toEqual(expected.map((r) => Date.parse(r[0] as string)));
    let definedRows = 0;
    for (const [i, r] of rows.entries()) {
      const [, riskV, defined, corr, vol, speed, dd] = r.map(Number) as number[];
      const e = expected[i] as string[];
      const withoutDd = corr || vol || speed ? 1 : 0;
      if (e[2] === '1') {
        definedRows++;
        expect({ i, withoutDd, defined }).toEqual({ i, withoutDd: Number(e[1]), defined: 1 });
      } else {
        expect({ i, withoutDd }).toEqual({ i, withoutDd: 0 });
      }
      expect({ i, risk: riskV }).toEqual({ i, risk: defined === 1 && (withoutDd || dd) ? 1 : 0 });
    }
    expect(definedRows).toBeGreaterThan(1500);
    const ai2 = summary['ai2'] as { risk_bars: number; defined_bars: number };
    expect(ai2.risk_bars).toBe(rows.filter((r) => r[1] === '1').length);
    expect(ai2.defined_bars).toBe(rows.filter((r) => r[2] === '1').length);
  });

  it('--label-param overrides core_policy (a shorter horizon changes the horizon ends accordingly)', async () => {
    const out = join(work, 'events-h24.csv');
    const r = await cli(['--json', 'labels', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', out, '--label-param', 'horizonBars=24']);
    expect(r.code).toBe(0);
    expect((r.records[0]!['label_params'] as Record<string, unknown>)['horizonBars']).toBe(24);
    const horizon = csv(out)
      .slice(1)
      .filter((e) => e[4] === 'horizon');
    expect(horizon.length).toBeGreaterThan(0);
    const ts = csv(PAIR_A)
      .slice(1)
      .map((row) => Date.parse(row[0] as string));
    for (const e of horizon) expect(ts.indexOf(Date.parse(e[3] as string)) - ts.indexOf(Date.parse(e[0] as string))).toBe(24);
  });

  it.each([
    [['--label-param', 'zExit=3'], 'UI_CLI_ARGS', 2],
    [['--label-param', 'speed=1'], 'UI_CLI_ARGS', 2],
    [['--calendar', '24/6'], 'UI_CLI_ARGS', 2],
  ])('refuses %j with %s (exit %d)', async (extra, id, exit) => {
    const r = await cli(['--json', 'labels', 'compute', '--a', PAIR_A, '--b', PAIR_B, '--out', join(work, 'never.csv'), ...(extra as string[])]);
    expect(r.code).toBe(exit);
    expect(r.records.find((x) => x['type'] === 'error')).toMatchObject({ error_id: id });
  });
});
