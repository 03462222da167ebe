import { describe, expect, it } from '@jest/globals';
import { RollingMoments } from '../src/primitives/moments.js';
import { Rng } from './core-support.js';

/**
 * Drift: 10 million pushes of adversarial data (a 1e9 offset with 1e−3 noise, regime jumps of ±1e6, noise
 * scale changes, isolated spikes of 1e8) must keep RollingMoments within 1e−9 relative of a fresh two-pass
 * computation of the window. Naive running sums lose everything here: after a 1e6 jump leaves the window the
 * residue of (1e9)² terms is ~1e3 in Σx², against a window Σd² of ~1e−4.
 */
const { abs, max, sqrt, round } = Math;

/**
 * The corrected two-pass algorithm (Chan, Golub & LeVeque): a plain Σx/n of 180 values near 1e9 is itself
 * off by ~1e−6 of σ here, so the second pass also sums the deviations to correct the mean and removes the
 * (Σd)²/n term from Σd².
 */
function twoPass(buf: Float64Array, n: number): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < n; i++) s += buf[i]!;
  const m0 = s / n;
  let q = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[i]! - m0;
    q += d * d;
    c += d;
  }
  return { mean: m0 + c / n, variance: (q - (c * c) / n) / (n - 1) };
}

describe('RollingMoments drift', () => {
  it.each([
    ['offset 1e9, noise 1e−3, jumps 1e6', 1e9, 180],
    ['around 0, noise 1e−3, jumps 1e6', 0, 180],
    ['offset 1e9, window 37', 1e9, 37],
  ])('stays within 1e-9 of two-pass over 10M pushes (%s)', (_name, offset, n) => {
    const rng = new Rng(42 + n);
    const m = new RollingMoments(n);
    const ring = new Float64Array(n);
    let level = offset;
    let noise = 1e-3;
    let worstVar = 0;
    let worstMean = 0;
    let checks = 0;
    const N = 10_000_000;
    for (let i = 0; i < N; i++) {
      if (i % 50_000 === 0) {
        level = offset + 1e6 * round(rng.normal() * 2);
        noise = rng.uniform() < 0.3 ? 1 : 1e-3;
      }
      let x = level + noise * rng.normal();
      if (i % 100_003 === 0) x += 1e8; // an isolated spike that later leaves the window
      m.push(x);
      ring[i % n] = x;
      if (i >= n && i % 997 === 0) {
        const ref = twoPass(ring, n);
        const ev = abs(m.variance() - ref.variance) / ref.variance;
        const em = abs(m.mean() - ref.mean) / max(abs(ref.mean), sqrt(ref.variance));
        if (ev > worstVar) worstVar = ev;
        if (em > worstMean) worstMean = em;
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(10_000);
    expect(worstVar).toBeLessThanOrEqual(1e-9);
    expect(worstMean).toBeLessThanOrEqual(1e-9);
    // the sums were rebuilt after jumps and spikes, but not at every push
    expect(m.rebases).toBeGreaterThan(100);
    expect(m.rebases).toBeLessThan(N / 100);
  });

  it('a naive running-sum variance on the same kind of stream is far off (the test can fail)', () => {
    const n = 180;
    const rng = new Rng(1);
    const ring = new Float64Array(n);
    let s = 0;
    let q = 0;
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const level = 1e9 + 1e6 * (i - (i % 50_000)) / 50_000;
      const x = level + 1e-3 * rng.normal();
      if (i >= n) {
        const o = ring[i % n]!;
        s -= o;
        q -= o * o;
      }
      ring[i % n] = x;
      s += x;
      q += x * x;
      if (i >= n && i % 997 === 0) {
        const naive = (q - (s * s) / n) / (n - 1);
        const ref = twoPass(ring, n).variance;
        worst = max(worst, abs(naive - ref) / ref);
      }
    }
    expect(worst).toBeGreaterThan(1);
  });
});
