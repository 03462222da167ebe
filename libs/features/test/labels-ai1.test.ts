import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { computeAi1Events, type Ai1Event, type LabelParams } from '../src/labels/index.js';
import { fixtureAi1Events, fixtureFeatures } from './support/fixture-labels.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** Inputs with hourly times; |Δz| given explicitly (default: all 0, i.e. always slow enough, defined from bar 0). */
function input(z: number[], absDeltaZ?: number[]): { tsMs: Float64Array; z: Float64Array; absDeltaZ: Float64Array } {
  return {
    tsMs: Float64Array.from(z, (_, i) => T0 + i * H),
    z: Float64Array.from(z),
    absDeltaZ: Float64Array.from(absDeltaZ ?? z.map(() => 0)),
  };
}

const brief = (es: Ai1Event[]): [number, number, number, number, string][] =>
  es.map((e) => [e.startIndex, e.direction, e.outcome, e.endIndex, e.endReason]);

/** Small horizon / lookback for hand cases. */
const P: Partial<LabelParams> = { horizonBars: 4, speedLookbackBars: 2 };

describe('AI1 events — fixture (pandas reference)', () => {
  const f = fixtureFeatures();
  const events = computeAi1Events({ tsMs: f.tsMs, z: f.columns.z!, absDeltaZ: f.columns.abs_delta_z! });

  it('reproduces expected_ai1_events.csv exactly (start bar, direction, outcome)', () => {
    const expected = fixtureAi1Events();
    expect(expected.length).toBe(11);
    expect(events.map((e) => ({ ts: f.ts[e.startIndex], direction: e.direction, outcome: e.outcome }))).toEqual(expected);
    for (const e of events) expect(e.tsMs).toBe(Date.parse(f.ts[e.startIndex]!));
  });

  it('marks the last event, whose 48-bar horizon runs past the 2000th bar, as data_end', () => {
    const last = events[events.length - 1]!;
    expect(last.startIndex + 48).toBeGreaterThan(f.ts.length - 1);
    expect([last.endIndex, last.endReason, last.outcome]).toEqual([f.ts.length - 1, 'data_end', 0]);
    for (const e of events.slice(0, -1)) expect(e.endReason).not.toBe('data_end');
  });

  it('ends each event where the fixture z says it does', () => {
    const z = f.columns.z!;
    for (const e of events) {
      if (e.endReason === 'exit') {
        expect(Math.abs(z[e.endIndex]!)).toBeLessThanOrEqual(0.5);
        for (let k = e.startIndex + 1; k < e.endIndex; k++) expect(Math.abs(z[k]!)).toBeGreaterThan(0.5);
      }
      if (e.endReason === 'horizon') {
        expect(e.endIndex).toBe(e.startIndex + 48);
        for (let k = e.startIndex + 1; k <= e.endIndex; k++) expect(Math.abs(z[k]!)).toBeGreaterThan(0.5);
      }
    }
  });
});

describe('AI1 events — hand-computed rules', () => {
  it('warm-up: the first event needs K defined |Δz| values before it', () => {
    // z ≥ 2 from bar 0; |Δz| undefined at bar 0 (as after the z warm-up). K = 6 → bars 1..6 must precede → t = 7.
    const z = Array.from({ length: 12 }, () => 2.5);
    const adz = [NaN, ...Array.from({ length: 11 }, () => 0)];
    const es = computeAi1Events(input(z, adz), { horizonBars: 48 });
    expect(brief(es)).toEqual([[7, 1, 0, 11, 'data_end']]);
  });

  it('entry: |z| exactly at z_entry starts an event, just below does not', () => {
    expect(brief(computeAi1Events(input([0, 0, 2.0, 1, 0.4]), P))).toEqual([[2, 1, 1, 4, 'exit']]);
    expect(computeAi1Events(input([0, 0, 1.9999999, 1, 0.4]), P)).toEqual([]);
    expect(brief(computeAi1Events(input([0, 0, -2.0, -1, -0.4]), P))).toEqual([[2, -1, 1, 4, 'exit']]);
  });

  it('speed filter: mean of the previous K |Δz| exactly at 0.12 is kept, above it is excluded', () => {
    const z = [0, 0, 0, 0, 0, 0, 0, 2.2, 1, 0.3];
    // Start bar 7, window bars 1..6. Six values of 0.12 sum to 0.72 and 0.72 / 6 = 0.12 exactly in double precision.
    const at = [5, 0.12, 0.12, 0.12, 0.12, 0.12, 0.12, 0, 0, 0];
    expect(brief(computeAi1Events(input(z, at)))).toEqual([[7, 1, 1, 9, 'exit']]);
    const above = [0, 0.12, 0.12, 0.12, 0.12, 0.12, 0.1200001, 0, 0, 0];
    expect(computeAi1Events(input(z, above))).toEqual([]);
  });

  it('speed filter: the window is t−K … t−1 (the start bar’s own jump is not in it)', () => {
    const z = [0, 0, 0, 0, 0, 0, 0, 0, 2.5, 0.2];
    const jumpAtStart = [0, 0, 0, 0, 0, 0, 0, 0, 2.5, 2.3];
    expect(brief(computeAi1Events(input(z, jumpAtStart)))).toEqual([[8, 1, 1, 9, 'exit']]);
    const fastAtTminus6 = [0, 0, 0.75, 0, 0, 0, 0, 0, 2.5, 2.3]; // (0.75) / 6 = 0.125 > 0.12
    expect(computeAi1Events(input(z, fastAtTminus6))).toEqual([]);
    const fastAtTminus7 = [0, 0.75, 0, 0, 0, 0, 0, 0, 2.5, 2.3]; // outside the window
    expect(brief(computeAi1Events(input(z, fastAtTminus7)))).toEqual([[8, 1, 1, 9, 'exit']]);
  });

  it('exit: |z| exactly at z_exit is a success', () => {
    expect(brief(computeAi1Events(input([0, 0, 2.3, 1.2, 0.5]), P))).toEqual([[2, 1, 1, 4, 'exit']]);
    expect(brief(computeAi1Events(input([0, 0, -2.3, -1.2, -0.5]), P))).toEqual([[2, -1, 1, 4, 'exit']]);
    const justAbove = computeAi1Events(input([0, 0, 2.3, 1.2, 0.5000001, 1, 1, 1, 1, 1]), P);
    expect(brief(justAbove)).toEqual([[2, 1, 0, 6, 'horizon']]);
  });

  it('horizon: an exit on bar start + M counts, one bar later does not', () => {
    // M = 4, start 2 → observed bars 3, 4, 5, 6.
    expect(brief(computeAi1Events(input([0, 0, 2.5, 1, 1, 1, 0.4, 1]), P))).toEqual([[2, 1, 1, 6, 'exit']]);
    expect(brief(computeAi1Events(input([0, 0, 2.5, 1, 1, 1, 1, 0.4]), P))).toEqual([[2, 1, 0, 6, 'horizon']]);
  });

  it('suppression: while |z| stays beyond z_entry, same-direction events start M + 1 bars apart', () => {
    const z = Array.from({ length: 16 }, (_, i) => (i < 2 ? 0 : 2.5));
    // start 2, window 2..6 (horizon bar 6 included) → next start 7, window 7..11 → next 12, open at the end.
    expect(brief(computeAi1Events(input(z), P))).toEqual([
      [2, 1, 0, 6, 'horizon'],
      [7, 1, 0, 11, 'horizon'],
      [12, 1, 0, 15, 'data_end'],
    ]);
  });

  it('suppression: a second crossing in the same direction inside the window is ignored', () => {
    // start 2 at 2.5, back to 1.5 (above exit), again 2.8 at bar 4 → suppressed; exit at bar 5.
    expect(brief(computeAi1Events(input([0, 0, 2.5, 1.5, 2.8, 0.2, 2.1, 1]), P))).toEqual([
      [2, 1, 1, 5, 'exit'],
      [6, 1, 0, 7, 'data_end'],
    ]);
  });

  it('opposite crossing: closes the open event (outcome 0) and starts the opposite one on the same bar', () => {
    const es = computeAi1Events(input([0, 0, 2.5, 1.5, -2.4, -1, -0.3]), P);
    expect(brief(es)).toEqual([
      [2, 1, 0, 4, 'opposite'],
      [4, -1, 1, 6, 'exit'],
    ]);
  });

  it('opposite crossing: closes the open event even when the speed filter rejects the new one', () => {
    const z = [0, 0, 0, 2.5, 1.5, -2.4, -2.5, 2.1, 0];
    // K = 2: speed at 5 = (|Δz|_3 + |Δz|_4) / 2 = (2.5 + 1.0) / 2 → rejected; at 6 = (1.0 + 3.9) / 2 → rejected.
    const adz = [0, 0, 0, 2.5, 1.0, 3.9, 0.1, 4.6, 2.1];
    const es = computeAi1Events(input(z, adz), { ...P, speedLookbackBars: 2 });
    // start 3: speed (0 + 0)/2 ok. bar 5 closes it; no event at 5 or 6 (fast); 7: speed (3.9 + 0.1)/2 = 2 → rejected.
    expect(brief(es)).toEqual([[3, 1, 0, 5, 'opposite']]);
  });

  it('opposite sign inside the bands (z_exit < |z| < z_entry) does not close the event', () => {
    expect(brief(computeAi1Events(input([0, 0, 2.5, -1.0, -1.5, 1, 1, 1]), P))).toEqual([[2, 1, 0, 6, 'horizon']]);
  });

  it('opposite crossing on the horizon bar closes as opposite and re-labels', () => {
    expect(brief(computeAi1Events(input([0, 0, 2.5, 1, 1, 1, -2.2, -0.1]), P))).toEqual([
      [2, 1, 0, 6, 'opposite'],
      [6, -1, 1, 7, 'exit'],
    ]);
  });

  it('data end: an exit seen before the data end is a success even if start + M lies beyond it', () => {
    expect(brief(computeAi1Events(input([0, 0, 2.5, 0.1]), { horizonBars: 48, speedLookbackBars: 2 }))).toEqual([[2, 1, 1, 3, 'exit']]);
    expect(brief(computeAi1Events(input([0, 0, 2.5, 1]), { horizonBars: 48, speedLookbackBars: 2 }))).toEqual([[2, 1, 0, 3, 'data_end']]);
    // start + M exactly on the last bar: the whole horizon is observed → 'horizon', not 'data_end'.
    expect(brief(computeAi1Events(input([0, 0, 2.5, 1, 1, 1, 1]), P))).toEqual([[2, 1, 0, 6, 'horizon']]);
  });

  it('undefined z inside the window is neither exit nor crossing but counts toward M', () => {
    expect(brief(computeAi1Events(input([0, 0, 2.5, NaN, NaN, NaN, 1, 0.1]), P))).toEqual([[2, 1, 0, 6, 'horizon']]);
  });

  it('rejects inconsistent input and invalid parameters', () => {
    const ok = input([0, 1, 2]);
    expect(() => computeAi1Events({ ...ok, absDeltaZ: new Float64Array(2) })).toThrow(/CORE_LABEL_INPUT/);
    expect(() => computeAi1Events({ ...ok, tsMs: Float64Array.from([0, 2, 1]) })).toThrow(/CORE_LABEL_INPUT/);
    expect(() => computeAi1Events(ok, { zExit: 2.0 })).toThrow(/CORE_LABEL_PARAM/);
    expect(() => computeAi1Events(ok, { horizonBars: 0 })).toThrow(/CORE_LABEL_PARAM/);
    expect(() => computeAi1Events(ok, { speedLookbackBars: 1.5 })).toThrow(/CORE_LABEL_PARAM/);
  });
});

/**
 * Reference written the other way round: first the natural end of an event by scanning forward from its start,
 * then the next event is the first filtered candidate after that end (or on it, in the opposite direction, when
 * the end was an opposite crossing).
 */
function referenceEvents(z: number[], adz: number[], p: { zEntry: number; zExit: number; M: number; K: number; speed: number }): [number, number, number, number, string][] {
  const n = z.length;
  const valid = (t: number): boolean => {
    if (!(Math.abs(z[t]!) >= p.zEntry) || t < p.K) return false;
    let s = 0;
    for (let i = t - p.K; i < t; i++) {
      if (Number.isNaN(adz[i]!)) return false;
      s += adz[i]!;
    }
    return s / p.K <= p.speed;
  };
  const out: [number, number, number, number, string][] = [];
  let from = 0;
  for (;;) {
    let t = from;
    while (t < n && !valid(t)) t++;
    if (t >= n) return out;
    const d = z[t]! > 0 ? 1 : -1;
    let end = -1;
    let outcome = 0;
    let reason = 'data_end';
    for (let k = t + 1; k <= t + p.M && k < n; k++) {
      if (Math.abs(z[k]!) <= p.zExit) {
        [end, outcome, reason] = [k, 1, 'exit'];
        break;
      }
      if (Math.abs(z[k]!) >= p.zEntry && (z[k]! > 0 ? 1 : -1) !== d) {
        [end, reason] = [k, 'opposite'];
        break;
      }
      if (k === t + p.M) [end, reason] = [k, 'horizon'];
    }
    if (end < 0) end = n - 1;
    out.push([t, d, outcome, end, reason]);
    from = reason === 'opposite' ? end : end + 1;
  }
}

describe('AI1 events — properties', () => {
  const pathArb = fc.record({
    steps: fc.array(fc.oneof(fc.double({ min: -0.6, max: 0.6, noNaN: true }), fc.double({ min: -4, max: 4, noNaN: true })), { minLength: 1, maxLength: 300 }),
    M: fc.integer({ min: 1, max: 20 }),
    K: fc.integer({ min: 1, max: 6 }),
    speed: fc.double({ min: 0.05, max: 2, noNaN: true }),
    warm: fc.integer({ min: 0, max: 10 }),
  });

  function build(c: { steps: number[]; warm: number }): { z: number[]; adz: number[] } {
    const z: number[] = [];
    let x = 0;
    for (const s of c.steps) {
      x = Math.max(-5, Math.min(5, x * 0.9 + s));
      z.push(x);
    }
    for (let i = 0; i < Math.min(c.warm, z.length); i++) z[i] = NaN;
    const adz = z.map((v, i) => (i === 0 ? NaN : Math.abs(v - z[i - 1]!)));
    return { z, adz };
  }

  it('equals the end-first reference on random paths', () => {
    fc.assert(
      fc.property(pathArb, (c) => {
        const { z, adz } = build(c);
        const es = computeAi1Events(input(z, adz), { horizonBars: c.M, speedLookbackBars: c.K, speedMaxAbsDeltaZ: c.speed });
        expect(brief(es)).toEqual(referenceEvents(z, adz, { zEntry: 2, zExit: 0.5, M: c.M, K: c.K, speed: c.speed }));
      }),
      { numRuns: 300 },
    );
  });

  it('events never overlap; an event starts on the previous end bar only as an opposite re-label', () => {
    fc.assert(
      fc.property(pathArb, (c) => {
        const { z, adz } = build(c);
        const es = computeAi1Events(input(z, adz), { horizonBars: c.M, speedLookbackBars: c.K, speedMaxAbsDeltaZ: c.speed });
        for (let i = 1; i < es.length; i++) {
          const a = es[i - 1]!;
          const b = es[i]!;
          expect(b.startIndex).toBeGreaterThanOrEqual(a.endIndex);
          if (b.startIndex === a.endIndex) {
            expect(a.endReason).toBe('opposite');
            expect(b.direction).toBe(-a.direction);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('outcome 1 iff some |z| ≤ z_exit within M bars before the event was closed otherwise', () => {
    fc.assert(
      fc.property(pathArb, (c) => {
        const { z, adz } = build(c);
        const es = computeAi1Events(input(z, adz), { horizonBars: c.M, speedLookbackBars: c.K, speedMaxAbsDeltaZ: c.speed });
        for (const e of es) {
          expect(e.endIndex - e.startIndex).toBeLessThanOrEqual(c.M);
          expect(Math.abs(z[e.startIndex]!)).toBeGreaterThanOrEqual(2);
          expect(e.direction).toBe(z[e.startIndex]! > 0 ? 1 : -1);
          const hit = z.slice(e.startIndex + 1, e.endIndex + 1).some((v) => Math.abs(v) <= 0.5);
          expect(e.outcome === 1).toBe(hit);
          if (e.outcome === 1) expect(Math.abs(z[e.endIndex]!)).toBeLessThanOrEqual(0.5);
          if (e.endReason === 'data_end') expect(e.endIndex).toBe(z.length - 1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
