/**
 * Test helper: transpiles workspace libraries with SWC (the repo's .swcrc) into a temp directory so a child
 * `node` process can run them, with `@noctria/<lib>` specifiers rewritten to relative paths and the
 * workspace node_modules linked in.
 */
import { transformFile } from '@swc/core';
import { mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(process.cwd());

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

/** Compiles `libs/<lib>/src/<subdirs>` (whole `src` when no subdirs) for each lib; returns the output root. */
export async function compileLibs(targets: Record<string, string[] | 'all'>, extraFiles: string[] = []): Promise<string> {
  const outRoot = mkdtempSync(path.join(tmpdir(), 'noctria-compiled-'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(outRoot, 'node_modules'), 'dir');
  writeFileSync(path.join(outRoot, 'package.json'), JSON.stringify({ type: 'module' }));
  const swcrc = JSON.parse(readFileSync(path.join(REPO_ROOT, '.swcrc'), 'utf8')) as Record<string, unknown> & { jsc: Record<string, unknown> };
  delete swcrc['$schema'];
  const { baseUrl: _b, paths: _p, ...jsc } = swcrc.jsc;
  const files = Object.entries(targets).flatMap(([lib, subdirs]) => {
    const srcRoot = path.join(REPO_ROOT, 'libs', lib, 'src');
    return subdirs === 'all'
      ? listTs(srcRoot)
      : subdirs.flatMap((d) => {
          const full = path.join(srcRoot, d);
          return statSync(full).isDirectory() ? listTs(full) : [full];
        });
  });
  files.push(...extraFiles.map((f) => path.resolve(REPO_ROOT, f)));
  {
    for (const file of files) {
      const { code } = await transformFile(file, { ...swcrc, jsc, swcrc: false, sourceMaps: false, filename: file });
      const rel = path.relative(REPO_ROOT, file).replace(/\.ts$/, '.js');
      const outFile = path.join(outRoot, rel);
      const rewritten = code.replace(/(from\s+|import\s*\(\s*)(["'])@noctria\/([a-z-]+)\2/g, (_m, pre: string, q: string, name: string) => {
        let target = path.relative(path.dirname(outFile), path.join(outRoot, 'libs', name, 'src', 'index.js'));
        if (!target.startsWith('.')) target = `./${target}`;
        return `${pre}${q}${target}${q}`;
      });
      mkdirSync(path.dirname(outFile), { recursive: true });
      writeFileSync(outFile, rewritten);
    }
  }
  return outRoot;
}
