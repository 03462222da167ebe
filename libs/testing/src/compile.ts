/**
 * Transpiles workspace sources with SWC (the repo's `.swcrc`) into a temporary directory so a child `node`
 * process runs the real code — for tests that need real signals, exit codes or a SIGKILL. `@noctria/<name>`
 * specifiers are rewritten to relative paths (tsconfig paths: services for service entry points, libs
 * otherwise) and the workspace `node_modules` is linked in.
 */
import { transform } from '@swc/core';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** `@noctria/<name>` aliases that point at a service's entry (`services/<dir>`) rather than `libs/<name>`. */
const SERVICE_ALIASES = new Map([
  ['ingest', 'ingest'],
  ['features-service', 'features'],
]);

export interface CompiledSources {
  root: string;
  /** Absolute path of the compiled file for a repo-relative `.ts` path. */
  file(repoRelativeTs: string): string;
  remove(): Promise<void>;
}

async function listTs(target: string): Promise<string[]> {
  if (!(await stat(target)).isDirectory()) return [target];
  const out: string[] = [];
  for (const entry of await readdir(target, { withFileTypes: true })) {
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) out.push(...(await listTs(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

function aliasTarget(name: string): string {
  const serviceDir = SERVICE_ALIASES.get(name);
  return serviceDir ? path.join('services', serviceDir, 'src', 'index.js') : path.join('libs', name, 'src', 'index.js');
}

function aliasSourceDir(name: string): string {
  const serviceDir = SERVICE_ALIASES.get(name);
  return serviceDir ? path.join('services', serviceDir, 'src') : path.join('libs', name, 'src');
}

const ALIAS_IMPORT = /(from\s+|import\s*\(\s*)(["'])@noctria\/([a-z-]+)\2/g;

/**
 * Compiles every `.ts` file under the given repo-relative directories or files (tests excluded), plus the sources
 * of every `@noctria/<name>` project they import, transitively — so a new dependency between libraries does not
 * break the child processes of tests that did not list it.
 * `repoRoot` defaults to the current working directory (Jest runs from the repo root).
 */
export async function compileForChild(sources: readonly string[], repoRoot = process.cwd()): Promise<CompiledSources> {
  const root = await mkdtemp(path.join(tmpdir(), 'noctria-child-'));
  await symlink(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  await writeFile(path.join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  const swcrc = JSON.parse(await readFile(path.join(repoRoot, '.swcrc'), 'utf8')) as Record<string, unknown> & { jsc: Record<string, unknown> };
  delete swcrc['$schema'];
  const { baseUrl: _baseUrl, paths: _paths, ...jsc } = swcrc.jsc;
  const compiled = new Set<string>();
  const included = sources.map((s) => path.resolve(repoRoot, s));
  const covered = (dir: string) => included.some((inc) => dir === inc || dir.startsWith(inc + path.sep));
  let pending = [...included];
  while (pending.length > 0) {
    const files = (await Promise.all(pending.map((s) => listTs(s)))).flat().filter((f) => !compiled.has(f));
    files.forEach((f) => compiled.add(f));
    const referenced = new Set<string>();
    await Promise.all(
      files.map(async (file) => {
        const { code } = await transform(await readFile(file, 'utf8'), { ...swcrc, jsc, swcrc: false, sourceMaps: false, filename: file });
        const outFile = path.join(root, path.relative(repoRoot, file).replace(/\.ts$/, '.js'));
        const rewritten = code.replace(ALIAS_IMPORT, (_m, pre: string, q: string, name: string) => {
          referenced.add(name);
          let target = path.relative(path.dirname(outFile), path.join(root, aliasTarget(name)));
          if (!target.startsWith('.')) target = `./${target}`;
          return `${pre}${q}${target}${q}`;
        });
        await mkdir(path.dirname(outFile), { recursive: true });
        await writeFile(outFile, rewritten);
      }),
    );
    pending = [...referenced].map((name) => path.resolve(repoRoot, aliasSourceDir(name))).filter((dir) => !covered(dir));
    included.push(...pending);
  }
  return {
    root,
    file: (rel) => path.join(root, rel.replace(/\.ts$/, '.js')),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
