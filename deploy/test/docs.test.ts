import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENV_ALIASES, baseEnvShape } from '@noctria/platform';
import { ingestEnvSchema } from '@noctria/ingest';
import { migrateEnvSchema } from '../../services/ingest/src/migrate.js';
import { ROOT, markdownAnchors, read, sourceFiles } from './helpers.js';

const ERROR_ID = /['"`]((?:DATA|CORE|BT|ANALYTICS|OPS|UI)_[A-Z0-9]+_[A-Z0-9]+)['"`]/g;

/** Environment variables the code reads: schema keys of every env schema file, aliases, and direct process.env reads. */
function envVariables(): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of Object.keys(baseEnvShape)) out.set(k, 'libs/platform baseEnvShape');
  for (const k of Object.keys(ingestEnvSchema.shape)) out.set(k, 'services/ingest config.ts');
  for (const k of Object.keys(migrateEnvSchema.shape)) out.set(k, 'services/ingest migrate.ts');
  for (const alias of Object.values(ENV_ALIASES)) out.set(alias, 'ENV_ALIASES');
  for (const file of sourceFiles()) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    if (/(^|\/)(config|env-schemas)\.ts$/.test(file)) {
      // Keys of zod env objects: `  NAME: z…` / `  NAME: envInt(…)` lines.
      for (const m of text.matchAll(/^\s+([A-Z][A-Z0-9_]{2,}):\s*(?:z\.|env[A-Z]|logLevelSchema|baseEnvShape)/gm)) out.set(m[1]!, file);
    }
    for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) {
      const name = m[1] ?? m[2] ?? m[3]!;
      // Bracket reads of schema keys on a parsed env object are covered above; only record real env names.
      if (!/^(NOCTRIA_|INGEST_|HTTP_|OTEL_|[A-Z]+_URL$|[A-Z]+_(BIN|DIR|HOST|KEY)$|SERVICE_ENV|LOG_LEVEL|TZ)/.test(name)) continue;
      out.set(name, file);
    }
  }
  return out;
}

describe('docs/config-registry.md', () => {
  const registry = read('docs/config-registry.md');

  it('documents every environment variable the code reads', () => {
    const vars = envVariables();
    expect(vars.size).toBeGreaterThan(20);
    expect(vars.has('TWELVEDATA_API_KEY')).toBe(true);
    expect(vars.has('POSTGRES_URL')).toBe(true);
    for (const [name, where] of vars) expect({ name, where, documented: registry.includes(`\`${name}\``) }).toEqual({ name, where, documented: true });
  });

  it('documents every top-level key of every configs/*.yaml under its file', () => {
    const files = readdirSync(join(ROOT, 'configs')).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const start = registry.indexOf(`### \`${f}\``);
      expect({ file: f, section: start >= 0 }).toEqual({ file: f, section: true });
      const next = registry.indexOf('\n### ', start + 1);
      const section = registry.slice(start, next < 0 ? undefined : next);
      for (const key of Object.keys(parse(readFileSync(join(ROOT, 'configs', f), 'utf8')) as object)) {
        expect({ file: f, key, documented: section.includes(`| \`${key}\` |`) }).toEqual({ file: f, key, documented: true });
      }
    }
  });

  it('every chart env value in values.yaml is a documented variable', () => {
    const values = parse(read('charts/noctria/values.yaml')) as { services: Record<string, { env?: Record<string, string>; secretEnv?: Record<string, unknown>; portEnv?: string }> };
    for (const svc of Object.values(values.services)) {
      for (const name of [...Object.keys(svc.env ?? {}), ...Object.keys(svc.secretEnv ?? {}), ...(svc.portEnv ? [svc.portEnv] : [])]) {
        expect({ name, documented: registry.includes(`\`${name}\``) }).toEqual({ name, documented: true });
      }
    }
  });
});

describe('docs/error-codes.md', () => {
  const doc = read('docs/error-codes.md');

  it('documents every error id found in the source (constructors, constants, fallbacks)', () => {
    const ids = new Map<string, string>();
    for (const file of sourceFiles()) for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(ERROR_ID)) ids.set(m[1]!, file);
    expect(ids.size).toBeGreaterThan(50);
    expect(ids.has('DATA_API_FETCH')).toBe(true);
    for (const [id, file] of ids) expect({ id, file, documented: doc.includes(`\`${id}\``) }).toEqual({ id, file, documented: true });
  });

  it('gives every documented id a severity and follows the naming rule', () => {
    for (const m of doc.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)) {
      expect(m[1]).toMatch(/^(DATA|CORE|BT|ANALYTICS|OPS|UI)_[A-Z0-9]+_[A-Z0-9]+$/);
      expect(m[2]!.trim()).toMatch(/^(CRITICAL|WARNING|INFO|caller)\b/);
    }
  });
});

describe('docs/runbooks', () => {
  const runbooks = readdirSync(join(ROOT, 'docs', 'runbooks')).filter((f) => f.endsWith('.md'));
  const all = runbooks.map((f) => read(`docs/runbooks/${f}`)).join('\n');

  it('cover the situations of seed 001 for the data layer, each as a section', () => {
    const anchors = new Set(runbooks.flatMap((f) => [...markdownAnchors(read(`docs/runbooks/${f}`))]));
    const required = [
      'start-stop-deploy',
      'rollout-and-rollback',
      'start-of-day-and-end-of-day-checks',
      'backfill',
      'websocket-disconnect-storm',
      'missing-data-surge-quarantine-re-fetch-release',
      'latency-degradation',
      'provider-api-down-or-circuit-breaker-open',
      'freshness-budget-breach-stale-flags',
      'retention-and-partition-maintenance',
      'database-migration-failure',
      'nats-outage-recovery',
      'backup-and-restore',
      'maintenance-window',
    ];
    for (const a of required) expect({ section: a, present: anchors.has(a) }).toEqual({ section: a, present: true });
  });

  it('use the real commands: helm upgrade --install / rollback, kubectl rollout status / undo, the backfill API and CLI', () => {
    for (const cmd of ['helm upgrade --install', 'helm rollback', 'rollout status', 'rollout undo', '/ingest/backfill', 'ingest backfill', '/ingest/quarantine', 'dist/services/ingest/src/migrate.js']) {
      expect({ cmd, present: all.includes(cmd) }).toEqual({ cmd, present: true });
    }
  });

  it('reference only HTTP routes the ingest controller serves', () => {
    const controller = read('services/ingest/src/http/ingest.controller.ts');
    const routes = [...controller.matchAll(/@(?:Get|Post)\('([^']+)'\)/g)].map((m) => `/${m[1]!.replace(/:\w+/g, '[^/?"\\s]+')}`);
    const used = [...all.matchAll(/api (\/[a-z/_-]+[^\s"'`]*)/g)].map((m) => m[1]!.split('?')[0]!);
    expect(used.length).toBeGreaterThan(5);
    for (const path of used) {
      const cleaned = path.replace(/<[^>]+>/g, 'x');
      expect({ path, served: routes.some((r) => new RegExp(`^${r}$`).test(cleaned)) }).toEqual({ path, served: true });
    }
  });

  it('every link between docs points to an existing heading', () => {
    for (const f of ['docs/observability.md', 'docs/error-codes.md', ...runbooks.map((r) => `docs/runbooks/${r}`)]) {
      const dir = f.slice(0, f.lastIndexOf('/'));
      for (const m of read(f).matchAll(/\]\(([\w./-]+\.md)#([\w-]+)\)/g)) {
        const target = join(dir, m[1]!).replace(`${ROOT}/`, '');
        expect({ from: f, link: `${m[1]}#${m[2]}`, ok: markdownAnchors(read(target)).has(m[2]!) }).toEqual({ from: f, link: `${m[1]}#${m[2]}`, ok: true });
      }
    }
  });
});
