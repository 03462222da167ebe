import { describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy, parsePolicy } from '../src/index.js';
import { CONFIGS, configText, errorOf, mutated, setError } from './helpers.js';

const schemaDir = join(CONFIGS, 'schemas');
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('schema errors carry the JSON pointer', () => {
  it('wrong type', () => {
    const text = mutated('pipeline_policy', ['retry_max', 'value'], 'five');
    const err = errorOf(() => parsePolicy('pipeline_policy', text, { schemaDir }));
    expect(err.id).toBe('OPS_CONFIG_SCHEMA');
    expect(err.issues).toEqual([{ policy: 'pipeline_policy', pointer: '/retry_max/value', message: 'must be integer', line: lineOf(text, 'value: five') }]);
    expect(err.message).toContain('pipeline_policy.yaml /retry_max/value');
  });

  it('unknown key names the key in the pointer', () => {
    const text = `${configText('dd_policy')}\nsurprise:\n  value: 1\n  label_ja: "x"\n`;
    const err = errorOf(() => parsePolicy('dd_policy', text, { schemaDir }));
    expect(err.issues).toEqual([expect.objectContaining({ pointer: '/surprise', message: 'is not an allowed property here', line: lineOf(text, 'surprise:') })]);
  });

  it('missing wrapper field and nested bad value', () => {
    const noLabel = configText('core_policy').replace('  label_ja: "エントリーz"\n', '');
    expect(errorOf(() => parsePolicy('core_policy', noLabel, { schemaDir })).issues).toEqual([
      expect.objectContaining({ pointer: '/z_entry', message: "must have required property 'label_ja'" }),
    ]);
    const text = mutated('universe', ['pairs', 'value', 1, 'leg_A', 'tick_size'], -0.1);
    expect(errorOf(() => parsePolicy('universe', text, { schemaDir })).issues).toEqual([
      expect.objectContaining({ pointer: '/pairs/value/1/leg_A/tick_size', message: 'must be > 0' }),
    ]);
    const hours = mutated('universe', ['pairs', 'value', 0, 'leg_B', 'trading_hours', 'sessions', 0, 'end'], '25:00');
    expect(errorOf(() => parsePolicy('universe', hours, { schemaDir })).issues[0]?.pointer).toBe('/pairs/value/0/leg_B/trading_hours/sessions/0/end');
  });

  it('type-specific provider requirements', () => {
    const base = configText('sources');
    const text = base.replace(/^\s+ws_url: .*\n/m, '');
    expect(text).not.toBe(base);
    expect(errorOf(() => parsePolicy('sources', text, { schemaDir })).issues).toEqual([
      expect.objectContaining({ pointer: '/providers/value/twelvedata', message: "must have required property 'ws_url'" }),
    ]);
  });

  it('feature-window keys: β window ≥ 3 (Huber uses n − 2 degrees of freedom), nested objects closed', () => {
    const beta = errorOf(() => parsePolicy('pipeline_policy', mutated('pipeline_policy', ['beta_window_bars', 'value'], 2), { schemaDir }));
    expect(beta.issues).toEqual([expect.objectContaining({ pointer: '/beta_window_bars/value', message: 'must be >= 3' })]);
    const robust = errorOf(() => parsePolicy('pipeline_policy', mutated('pipeline_policy', ['beta_robust_switch', 'value', 'huber_c'], 0), { schemaDir }));
    expect(robust.issues).toEqual([expect.objectContaining({ pointer: '/beta_robust_switch/value/huber_c', message: 'must be > 0' })]);
    const extra = errorOf(() => parsePolicy('pipeline_policy', mutated('pipeline_policy', ['ema_gap_spans', 'value', 'signal'], 9), { schemaDir }));
    expect(extra.issues).toEqual([expect.objectContaining({ pointer: '/ema_gap_spans/value/signal', message: 'is not an allowed property here' })]);
  });

  it('freshness budget keys must be timeframe tokens', () => {
    const text = mutated('pipeline_policy', ['freshness_budget_seconds', 'value', 'hourly'], 30);
    const err = errorOf(() => parsePolicy('pipeline_policy', text, { schemaDir }));
    expect(err.issues).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/freshness_budget_seconds/value', message: 'has an invalid property name "hourly"' })]));
  });

  it('YAML syntax errors are OPS_CONFIG_PARSE with a line', () => {
    const err = errorOf(() => parsePolicy('analytics_policy', 'risk_panels:\n  value: { a: 1\nx: [', { schemaDir }));
    expect(err.id).toBe('OPS_CONFIG_PARSE');
    expect(err.issues[0]?.line).toBeGreaterThan(0);
    const dup = errorOf(() => parsePolicy('analytics_policy', `${configText('analytics_policy')}\nexport_limits:\n  value: {}\n  label_ja: x\n`, { schemaDir }));
    expect(dup.id).toBe('OPS_CONFIG_PARSE');
    expect(dup.message).toMatch(/unique/i);
  });

  it('loadPolicySet reports schema problems of several files together', () => {
    const err = setError({
      dd_policy: mutated('dd_policy', ['k_warn', 'value'], 'high'),
      data_retention: mutated('data_retention', ['raw_days', 'value'], 0),
    });
    expect(err.id).toBe('OPS_CONFIG_SCHEMA');
    expect(err.issues.map((i) => `${i.policy}${i.pointer}`).sort()).toEqual(['data_retention/raw_days/value', 'dd_policy/k_warn/value']);
  });

  it('loadPolicy reads from the given dir and reports missing files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'noctria-policy-'));
    try {
      cpSync(CONFIGS, dir, { recursive: true });
      writeFileSync(join(dir, 'core_policy.yaml'), mutated('core_policy', ['M', 'value'], 0));
      const err = errorOf(() => loadPolicy('core_policy', { dir }));
      expect(err.id).toBe('OPS_CONFIG_SCHEMA');
      expect(err.message).toContain(join(dir, 'core_policy.yaml'));
      expect(err.issues[0]).toMatchObject({ pointer: '/M/value', message: 'must be >= 1' });
      rmSync(join(dir, 'slack_policy.yaml'));
      expect(errorOf(() => loadPolicy('slack_policy', { dir })).id).toBe('OPS_CONFIG_NOTFOUND');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
