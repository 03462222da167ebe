#!/usr/bin/env node
// The `noctria` command: runs the compiled CLI (build first with `npm run build`).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/services/cli/src/main.js');
if (!existsSync(entry)) {
  process.stderr.write('noctria: not built yet — run `npm run build` in ' + root + '\n');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
