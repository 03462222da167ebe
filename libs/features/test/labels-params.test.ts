import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { DEFAULT_LABEL_PARAMS, ddWindowBars, labelParamsFromPolicy, resolveLabelParams, type CoreLabelPolicy } from '../src/labels/params.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** configs/core_policy.yaml with every `{ value, label_ja, description }` unwrapped to its value. */
function shippedCorePolicy(): CoreLabelPolicy {
  const raw = parse(readFileSync(join(ROOT, 'configs', 'core_policy.yaml'), 'utf8')) as Record<string, { value: unknown }>;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.value])) as unknown as CoreLabelPolicy;
}

describe('label parameters', () => {
  it('the shipped core_policy gives the seed defaults on 1h / 24/5', () => {
    expect(labelParamsFromPolicy(shippedCorePolicy(), '1h', '24/5')).toEqual(DEFAULT_LABEL_PARAMS);
    expect(DEFAULT_LABEL_PARAMS).toEqual({
      zEntry: 2,
      zExit: 0.5,
      horizonBars: 48,
      speedLookbackBars: 6,
      speedMaxAbsDeltaZ: 0.12,
      riskCorrVar: 0.025,
      riskVolRatio: 1.8,
      riskSpeed: 0.12,
      riskSpeedHalfLife: 6,
      riskDd: 0.07,
      riskDdWindowBars: 1440,
      classWeightMaxRatio: 5,
    });
  });

  it('60 business days = 12 weeks of bars of the calendar', () => {
    // 24/5: 60 trading days × bars per day. 24/7: 84 calendar days × bars per day.
    expect(ddWindowBars(60, '1h', '24/5')).toBe(60 * 24);
    expect(ddWindowBars(60, '15m', '24/5')).toBe(60 * 96);
    expect(ddWindowBars(60, '4h', '24/5')).toBe(60 * 6);
    expect(ddWindowBars(60, '1h', '24/7')).toBe(84 * 24);
    expect(ddWindowBars(60, '4h', '24/7')).toBe(84 * 6);
    expect(ddWindowBars(1, '1h', '24/5')).toBe(24);
    expect(labelParamsFromPolicy(shippedCorePolicy(), '15m', '24/7').riskDdWindowBars).toBe(84 * 96);
    expect(() => ddWindowBars(0, '1h', '24/5')).toThrow(/CORE_LABEL_PARAM/);
  });

  it('validates every parameter', () => {
    const bad: [string, number][] = [
      ['zEntry', 0],
      ['zExit', -0.1],
      ['zExit', 2],
      ['horizonBars', 0],
      ['horizonBars', 4.5],
      ['speedLookbackBars', 0],
      ['speedMaxAbsDeltaZ', 0],
      ['riskCorrVar', NaN],
      ['riskVolRatio', -1],
      ['riskSpeed', Infinity],
      ['riskSpeedHalfLife', 0],
      ['riskDd', 1.5],
      ['riskDdWindowBars', 0],
      ['classWeightMaxRatio', 0.9],
    ];
    for (const [k, v] of bad) expect(() => resolveLabelParams({ [k]: v })).toThrow(/CORE_LABEL_PARAM/);
    expect(() => resolveLabelParams({ zEntry: 'x' as unknown as number })).toThrow(/CORE_LABEL_PARAM/);
    expect(() => resolveLabelParams({ M: 48 } as never)).toThrow(/CORE_LABEL_PARAM/);
    expect(resolveLabelParams({ zEntry: 2.5, zExit: 0 })).toMatchObject({ zEntry: 2.5, zExit: 0, horizonBars: 48 });
    const policy = { ...shippedCorePolicy(), z_exit: 2.0 };
    expect(() => labelParamsFromPolicy(policy, '1h', '24/5')).toThrow(/CORE_LABEL_PARAM/);
  });
});
