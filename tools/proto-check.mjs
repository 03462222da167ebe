#!/usr/bin/env node
// `npm run proto:check`: fails when the committed TypeScript in libs/contracts/src/gen/ is not what
// `buf generate` produces from proto/ today, and when `buf lint` reports problems.
// Runs fully offline: buf uses its built-in well-known types and the local protoc-gen-es from node_modules.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GEN_DIR = 'libs/contracts/src/gen';
const bufBin = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'buf.cmd' : 'buf');

function run(args, label) {
  const res = spawnSync(bufBin, args, { cwd: root, encoding: 'utf8' });
  if (res.error) {
    console.error(`proto:check: could not run buf (${label}): ${res.error.message}`);
    process.exit(2);
  }
  return res;
}

function listFiles(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  const walk = (d) => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

let failed = false;
const tmp = mkdtempSync(join(tmpdir(), 'noctria-proto-'));
try {
  const gen = run(['generate', '--output', tmp], 'generate');
  if (gen.status !== 0) {
    console.error(`proto:check: \`buf generate\` failed:\n${gen.stderr || gen.stdout}`);
    process.exit(1);
  }
  const fresh = join(tmp, GEN_DIR);
  const committed = join(root, GEN_DIR);
  const freshFiles = listFiles(fresh);
  const committedFiles = listFiles(committed);
  const stale = [];
  const missing = [];
  const extra = [];
  for (const f of freshFiles) {
    if (!committedFiles.includes(f)) missing.push(f);
    else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f)))) stale.push(f);
  }
  for (const f of committedFiles) if (!freshFiles.includes(f)) extra.push(f);
  if (stale.length || missing.length || extra.length) {
    failed = true;
    console.error(`proto:check: generated code in ${GEN_DIR}/ is out of date with proto/. Run \`npm run proto:gen\` and commit the result.`);
    for (const f of stale) console.error(`  stale:   ${GEN_DIR}/${f}`);
    for (const f of missing) console.error(`  missing: ${GEN_DIR}/${f}`);
    for (const f of extra) console.error(`  extra:   ${GEN_DIR}/${f} (no longer generated)`);
  } else {
    console.log(`proto:check: ${freshFiles.length} generated file(s) in ${GEN_DIR}/ are up to date.`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const lint = run(['lint'], 'lint');
if (lint.status !== 0) {
  failed = true;
  console.error(`proto:check: \`buf lint\` reported problems:\n${lint.stdout}${lint.stderr}`);
} else {
  console.log('proto:check: buf lint passed.');
}
process.exit(failed ? 1 : 0);
