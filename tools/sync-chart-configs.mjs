#!/usr/bin/env node
// Copies the files the Helm chart serves but cannot read from outside its directory into
// charts/noctria/files/: configs/*.yaml + configs/schemas/*.json (policy ConfigMap),
// deploy/prometheus/rules.yaml (PrometheusRule) and deploy/grafana/dashboards/*.json (Grafana ConfigMap).
//   node tools/sync-chart-configs.mjs          write the copies (stale ones replaced, orphans removed)
//   node tools/sync-chart-configs.mjs --check   exit 1 listing every stale, missing or orphan copy
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chartFiles = join(root, 'charts', 'noctria', 'files');

/** [source dir, file filter, destination dir] — every pair the chart copies. */
export const SYNC_SETS = [
  ['configs', (f) => f.endsWith('.yaml'), 'configs'],
  ['configs/schemas', (f) => f.endsWith('.schema.json'), 'configs/schemas'],
  ['deploy/prometheus', (f) => f === 'rules.yaml', 'prometheus'],
  ['deploy/grafana/dashboards', (f) => f.endsWith('.json'), 'grafana/dashboards'],
];

/** Expected copies: destination path (relative to the chart's files/) → content. */
export function expectedCopies(base = root) {
  const out = new Map();
  for (const [src, keep, dest] of SYNC_SETS) {
    const dir = join(base, src);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter(keep).sort()) out.set(join(dest, f), readFileSync(join(dir, f)));
  }
  return out;
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Differences between the chart copies and their sources: `stale|missing|orphan <path>`. */
export function diffCopies(base = root) {
  const expected = expectedCopies(base);
  const filesDir = join(base, 'charts', 'noctria', 'files');
  const problems = [];
  for (const [rel, content] of expected) {
    const target = join(filesDir, rel);
    if (!existsSync(target)) problems.push(`missing ${rel}`);
    else if (!readFileSync(target).equals(content)) problems.push(`stale ${rel}`);
  }
  const managed = SYNC_SETS.map(([, , dest]) => dest);
  for (const file of listFiles(filesDir)) {
    const rel = relative(filesDir, file);
    if (managed.includes(dirname(rel)) && !expected.has(rel)) problems.push(`orphan ${rel}`);
  }
  return problems;
}

function sync() {
  const expected = expectedCopies();
  for (const [rel, content] of expected) {
    const target = join(chartFiles, rel);
    mkdirSync(dirname(target), { recursive: true });
    if (!existsSync(target) || !readFileSync(target).equals(content)) writeFileSync(target, content);
  }
  for (const p of diffCopies().filter((p) => p.startsWith('orphan '))) rmSync(join(chartFiles, p.slice('orphan '.length)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const problems = diffCopies();
    if (problems.length > 0) {
      for (const p of problems) process.stderr.write(`chart copy ${p} (run: node tools/sync-chart-configs.mjs)\n`);
      process.exit(1);
    }
  } else {
    sync();
  }
}
