import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createIngestMetrics } from '@noctria/ingest';
import { createFeaturesMetrics, createFeaturesRetentionMetrics } from '@noctria/features-service';
import { EXTERNAL_SERIES, ROOT, markdownAnchors, promqlMetricNames, read, registeredMetricNames, seriesNames } from './helpers.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const rules = (parse(read('deploy/prometheus/rules.yaml')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(read('deploy/grafana/dashboards/data-pipeline.json')) as {
  uid: string;
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ type: string; query: unknown }> };
  annotations: { list: Array<{ expr?: string }> };
};
const ERROR_ID = /^(DATA|CORE|BT|ANALYTICS|OPS|UI)_[A-Z0-9]+_[A-Z0-9]{3,}$/;

describe('metric inventory (source scan)', () => {
  it('finds every ingest metric the real registry holds', () => {
    const registry = new Registry();
    createIngestMetrics(registry);
    const scanned = registeredMetricNames();
    const real = registry.getMetricsAsArray().map((m) => m.name);
    expect(real.length).toBeGreaterThan(10);
    for (const name of real) expect(scanned.has(name)).toBe(true);
    for (const m of registry.getMetricsAsArray()) expect(scanned.get(m.name)).toBe((m as unknown as { type: string }).type);
  });

  it('extracts metric names from PromQL, ignoring functions, labels, strings and grouping', () => {
    expect(promqlMetricNames('sum by (le, source) (rate(data_api_latency_ms_bucket{source="x"}[5m] offset 1d)) > 2 * up')).toEqual(['data_api_latency_ms_bucket', 'up']);
    expect(promqlMetricNames('label_replace(increase(a_total[1m]), "dst", "$1", "src", "(.*)") and on (x) b')).toEqual(['a_total', 'b']);
  });
});

describe('Prometheus rules (deploy/prometheus/rules.yaml)', () => {
  const series = seriesNames();

  it('reference only metrics the code registers (plus up/ALERTS/kube-state-metrics)', () => {
    for (const r of rules) {
      for (const name of promqlMetricNames(r.expr)) {
        expect({ alert: r.alert, name, known: series.has(name) || EXTERNAL_SERIES.has(name) }).toEqual({ alert: r.alert, name, known: true });
      }
    }
  });

  it('label every alert with a severity, a {DOMAIN}_{CATEGORY}_{CODE} error_id documented in docs/error-codes.md, and a resolvable runbook_url', () => {
    const errorDoc = read('docs/error-codes.md');
    for (const r of rules) {
      expect(['CRITICAL', 'WARNING', 'INFO']).toContain(r.labels.severity);
      expect(r.labels.error_id).toMatch(ERROR_ID);
      expect({ alert: r.alert, documented: errorDoc.includes(`\`${r.labels.error_id}\``) }).toEqual({ alert: r.alert, documented: true });
      const m = /^https:\/\/github\.com\/noctria\/noctria\/blob\/main\/(docs\/runbooks\/[\w.-]+\.md)#([\w-]+)$/.exec(r.annotations.runbook_url ?? '');
      expect({ alert: r.alert, url: r.annotations.runbook_url, ok: m !== null }).toMatchObject({ ok: true });
      expect({ alert: r.alert, anchor: m![2], exists: markdownAnchors(read(m![1]!)).has(m![2]!) }).toMatchObject({ exists: true });
      expect(r.annotations.summary).toBeTruthy();
    }
  });

  it('cover the seed 003 alerts with their severities', () => {
    const bySeverity = (id: string) => rules.filter((r) => r.labels.error_id === id).map((r) => r.labels.severity);
    expect(bySeverity('DATA_API_DOWN')).toEqual(['CRITICAL']);
    expect(bySeverity('DATA_LATENCY_STALE')).toEqual(['CRITICAL']);
    expect(bySeverity('DATA_DQ_THRESHOLD')).toEqual(['CRITICAL']);
    expect(bySeverity('DATA_DQ_MISSING')).toEqual(['WARNING']);
    expect(bySeverity('DATA_DQ_OUTLIER')).toEqual(['WARNING']);
    expect(bySeverity('DATA_WS_RECONNECT')).toEqual(['WARNING']);
    expect(bySeverity('DATA_LATENCY_P95')).toEqual(['WARNING']);
    expect(bySeverity('OPS_SERVICE_DOWN')).toContain('CRITICAL');
    const apiDown = rules.find((r) => r.labels.error_id === 'DATA_API_DOWN')!;
    expect(apiDown.for).toBe('10m');
    expect(rules.find((r) => r.labels.error_id === 'DATA_LATENCY_STALE')!.expr).toMatch(/data_watermark_lag_bars\)?\s*>\s*3\b/);
    expect(rules.find((r) => r.labels.error_id === 'DATA_DQ_THRESHOLD')!.expr).toMatch(/dq_fail_total.*>\s*5\b/);
  });

  it('warn at 80 % of the quarantine thresholds of configs/pipeline_policy.yaml', () => {
    const dq = (parse(read('configs/pipeline_policy.yaml')) as { dq_thresholds: { value: { missing_rate: number; outlier_rate: number } } }).dq_thresholds.value;
    const threshold = (id: string) => Number(/>\s*([0-9.]+)\s*$/.exec(rules.find((r) => r.labels.error_id === id)!.expr.trim())![1]);
    expect(threshold('DATA_DQ_MISSING')).toBeCloseTo(dq.missing_rate * 0.8, 10);
    expect(threshold('DATA_DQ_OUTLIER')).toBeCloseTo(dq.outlier_rate * 0.8, 10);
  });

  it('alert on feature lag at the freshness_budget_seconds of configs/pipeline_policy.yaml, per timeframe', () => {
    const budget = (parse(read('configs/pipeline_policy.yaml')) as { freshness_budget_seconds: { value: Record<string, number> } }).freshness_budget_seconds.value;
    const expr = rules.find((r) => r.alert === 'NoctriaFeaturesLagAboveBudget')!.expr;
    const found = Object.fromEntries([...expr.matchAll(/timeframe="(\w+)"\}\[\w+\]\)\)\)\s*>\s*([0-9.]+)/g)].map((m) => [m[1]!, Number(m[2])]));
    expect(found).toEqual(budget);
  });

  it('pass promtool check rules and the promtool unit tests (deploy/prometheus/rules.test.yaml)', () => {
    const found = spawnSync('promtool', ['--version']);
    if (found.error) throw new Error('promtool not found: apt-get install -y --no-install-recommends prometheus (.ci/run does it)');
    const check = spawnSync('promtool', ['check', 'rules', join(ROOT, 'deploy/prometheus/rules.yaml')], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(check.status).toBe(0);
    const unit = spawnSync('promtool', ['test', 'rules', join(ROOT, 'deploy/prometheus/rules.test.yaml')], { encoding: 'utf8' });
    expect({ status: unit.status, out: unit.stdout + unit.stderr }).toMatchObject({ status: 0 });
  });
});

describe('Grafana dashboard (deploy/grafana/dashboards/data-pipeline.json)', () => {
  const series = seriesNames();
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('queries only metrics the code registers', () => {
    expect(targets.length).toBeGreaterThan(15);
    const exprs = [...targets, ...dashboard.annotations.list.filter((a) => a.expr).map((a) => ({ panel: 'annotation', expr: a.expr! }))];
    for (const t of exprs) {
      for (const name of promqlMetricNames(t.expr)) {
        expect({ panel: t.panel, name, known: series.has(name) || EXTERNAL_SERIES.has(name) }).toEqual({ panel: t.panel, name, known: true });
      }
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
      const m = /label_values\(([a-zA-Z_:][\w:]*)/.exec(q);
      expect(m && series.has(m[1]!)).toBe(true);
    }
  });

  it('shows every seed 003 pipeline metric plus bus publish latency', () => {
    const used = new Set(targets.flatMap((t) => promqlMetricNames(t.expr)));
    const required = [
      'data_ingest_success_rate',
      'data_api_latency_ms_bucket',
      'data_missing_rate',
      'data_outlier_rate',
      'data_pipeline_lag_seconds_bucket',
      'data_retry_total',
      'data_dedupe_drops_total',
      'data_watermark_lag_bars',
      'data_ws_reconnects_total',
      'dq_fail_total',
      'bus_publish_ack_seconds_bucket',
    ];
    for (const name of required) expect({ name, shown: used.has(name) }).toEqual({ name, shown: true });
    // Every ingest metric of the real registry is on the dashboard.
    const registry = new Registry();
    createIngestMetrics(registry);
    for (const m of registry.getMetricsAsArray()) {
      const shown = used.has(m.name) || used.has(`${m.name}_bucket`);
      expect({ name: m.name, shown }).toEqual({ name: m.name, shown: true });
    }
  });

  it('has unique panel ids, a datasource variable and valid layout', () => {
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.some((v) => v.type === 'datasource')).toBe(true);
    for (const p of dashboard.panels as unknown as Array<{ gridPos: { x: number; w: number } }>) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
  });
});

describe('sync script', () => {
  it('--check exits 0 on an up-to-date chart', () => {
    expect(() => execFileSync(process.execPath, [join(ROOT, 'tools/sync-chart-configs.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('reports a stale copy (checked against a scratch tree, the repo is untouched)', async () => {
    const { mkdtempSync, cpSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    // @ts-expect-error — plain ESM tool without type declarations
    const { diffCopies } = (await import('../../tools/sync-chart-configs.mjs')) as { diffCopies: (base: string) => string[] };
    const scratch = mkdtempSync(join(tmpdir(), 'noctria-sync-'));
    try {
      for (const dir of ['configs', 'deploy/prometheus', 'deploy/grafana', 'charts/noctria/files']) cpSync(join(ROOT, dir), join(scratch, dir), { recursive: true });
      expect(diffCopies(scratch)).toEqual([]);
      writeFileSync(join(scratch, 'configs', 'pipeline_policy.yaml'), `${readFileSync(join(ROOT, 'configs', 'pipeline_policy.yaml'), 'utf8')}\n# changed\n`);
      writeFileSync(join(scratch, 'charts/noctria/files/configs/orphan.yaml'), 'x: 1\n');
      expect(diffCopies(scratch).sort()).toEqual(['orphan configs/orphan.yaml', 'stale configs/pipeline_policy.yaml']);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('Grafana dashboard (deploy/grafana/dashboards/features.json)', () => {
  const features = JSON.parse(read('deploy/grafana/dashboards/features.json')) as typeof dashboard;
  const series = seriesNames();
  const targets = features.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('queries only metrics the code registers', () => {
    const exprs = [...targets, ...features.annotations.list.filter((a) => a.expr).map((a) => ({ panel: 'annotation', expr: a.expr! }))];
    for (const t of exprs) {
      for (const name of promqlMetricNames(t.expr)) {
        expect({ panel: t.panel, name, known: series.has(name) || EXTERNAL_SERIES.has(name) }).toEqual({ panel: t.panel, name, known: true });
      }
    }
    for (const v of features.templating.list.filter((v) => v.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
      const m = /label_values\(([a-zA-Z_:][\w:]*)/.exec(q);
      expect(m && series.has(m[1]!)).toBe(true);
    }
  });

  it('shows every features metric of the real registry (service and retention)', () => {
    const used = new Set(targets.flatMap((t) => promqlMetricNames(t.expr)));
    const registry = new Registry();
    createFeaturesMetrics(registry);
    createFeaturesRetentionMetrics(registry);
    const names = registry.getMetricsAsArray().map((m) => m.name);
    expect(names.length).toBeGreaterThan(15);
    // The gauge of the last retention run is for ad-hoc queries; every other metric has a panel.
    for (const name of names.filter((n) => n !== 'features_retention_last_run_timestamp_seconds')) {
      expect({ name, shown: used.has(name) || used.has(`${name}_bucket`) }).toEqual({ name, shown: true });
    }
  });

  it('has a uid distinct from the pipeline dashboard, unique panel ids, a datasource variable and valid layout', () => {
    expect(features.uid).not.toBe(dashboard.uid);
    const ids = features.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(features.templating.list.some((v) => v.type === 'datasource')).toBe(true);
    for (const p of features.panels as unknown as Array<{ gridPos: { x: number; w: number } }>) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
  });

  it('every features alert names a runbook section of docs/runbooks/features.md', () => {
    const featureRules = rules.filter((r) => r.alert.startsWith('NoctriaFeatures'));
    expect(featureRules.length).toBeGreaterThanOrEqual(8);
    for (const r of featureRules) expect(r.annotations.runbook_url).toMatch(/docs\/runbooks\/features\.md#/);
  });
});
