/**
 * Transpiles the ingest service, the libraries it uses and a fixture entry with SWC (the repo's .swcrc) into a
 * temporary directory, so a child `node` process runs the real code and can be SIGKILLed. `@noctria/<lib>`
 * specifiers are rewritten to relative paths; the workspace node_modules are linked in.
 */
import { transform } from '@swc/core';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO_ROOT = path.resolve(process.cwd());

async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listTs(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

export interface Compiled {
  root: string;
  /** Absolute path of a compiled file given its repo-relative .ts path. */
  file(repoRelativeTs: string): string;
  remove(): Promise<void>;
}

/** Compiles `libs/<lib>/src` of each lib, every .ts under `dirs` and the `files` (all repo-relative). */
export async function compileForChild(options: { libs: string[]; dirs: string[]; files?: string[] }): Promise<Compiled> {
  const root = await mkdtemp(path.join(tmpdir(), 'noctria-ingest-child-'));
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  await writeFile(path.join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  const swcrc = JSON.parse(await readFile(path.join(REPO_ROOT, '.swcrc'), 'utf8')) as Record<string, unknown> & { jsc: Record<string, unknown> };
  delete swcrc['$schema'];
  const { baseUrl: _baseUrl, paths: _paths, ...jsc } = swcrc.jsc;
  const sources = [
    ...(await Promise.all(options.libs.map((lib) => listTs(path.join(REPO_ROOT, 'libs', lib, 'src'))))).flat(),
    ...(await Promise.all(options.dirs.map((d) => listTs(path.join(REPO_ROOT, d))))).flat(),
    ...(options.files ?? []).map((f) => path.join(REPO_ROOT, f)),
  ];
  await Promise.all(
    sources.map(async (file) => {
      const { code } = await transform(await readFile(file, 'utf8'), { ...swcrc, jsc, swcrc: false, sourceMaps: false, filename: file });
      const outFile = path.join(root, path.relative(REPO_ROOT, file).replace(/\.ts$/, '.js'));
      const rewritten = code.replace(/(from\s+|import\s*\(\s*)(["'])@noctria\/([a-z-]+)\2/g, (_m, pre: string, q: string, name: string) => {
        let target = path.relative(path.dirname(outFile), path.join(root, 'libs', name, 'src', 'index.js'));
        if (!target.startsWith('.')) target = `./${target}`;
        return `${pre}${q}${target}${q}`;
      });
      await mkdir(path.dirname(outFile), { recursive: true });
      await writeFile(outFile, rewritten);
    }),
  );
  return {
    root,
    file: (rel) => path.join(root, rel.replace(/\.ts$/, '.js')),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
