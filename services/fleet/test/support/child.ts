/**
 * Runs the fleet entry point in a child `node` process: the sources (libs, services/ingest, services/fleet) are
 * transpiled with SWC and the repo's .swcrc into a temporary directory (`@noctria/*` specifiers rewritten to
 * relative paths, the workspace node_modules linked in), so the test exercises the real `main.ts` with real
 * signals and exit codes, independent of a stale dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { transform } from '@swc/core';
import { waitFor } from '@noctria/testing';

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

/** Where `@noctria/<name>` resolves (tsconfig paths): services/ingest for the ingest entry, libs/<name> otherwise. */
function aliasTarget(name: string): string {
  return name === 'ingest' ? path.join('services', 'ingest', 'src', 'index.js') : path.join('libs', name, 'src', 'index.js');
}

export interface CompiledFleet {
  root: string;
  main: string;
  remove(): Promise<void>;
}

export async function compileFleet(): Promise<CompiledFleet> {
  const root = await mkdtemp(path.join(tmpdir(), 'noctria-fleet-child-'));
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  await writeFile(path.join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  const swcrc = JSON.parse(await readFile(path.join(REPO_ROOT, '.swcrc'), 'utf8')) as Record<string, unknown> & { jsc: Record<string, unknown> };
  delete swcrc['$schema'];
  const { baseUrl: _baseUrl, paths: _paths, ...jsc } = swcrc.jsc;
  const libs = (await readdir(path.join(REPO_ROOT, 'libs'))).filter((l) => l !== 'testing');
  const sources = [
    ...(await Promise.all(libs.map((lib) => listTs(path.join(REPO_ROOT, 'libs', lib, 'src'))))).flat(),
    ...(await listTs(path.join(REPO_ROOT, 'services', 'ingest', 'src'))),
    ...(await listTs(path.join(REPO_ROOT, 'services', 'fleet', 'src'))),
  ];
  await Promise.all(
    sources.map(async (file) => {
      const { code } = await transform(await readFile(file, 'utf8'), { ...swcrc, jsc, swcrc: false, sourceMaps: false, filename: file });
      const outFile = path.join(root, path.relative(REPO_ROOT, file).replace(/\.ts$/, '.js'));
      const rewritten = code.replace(/(from\s+|import\s*\(\s*)(["'])@noctria\/([a-z-]+)\2/g, (_m, pre: string, q: string, name: string) => {
        let target = path.relative(path.dirname(outFile), path.join(root, aliasTarget(name)));
        if (!target.startsWith('.')) target = `./${target}`;
        return `${pre}${q}${target}${q}`;
      });
      await mkdir(path.dirname(outFile), { recursive: true });
      await writeFile(outFile, rewritten);
    }),
  );
  return { root, main: path.join(root, 'services', 'fleet', 'src', 'main.js'), remove: () => rm(root, { recursive: true, force: true }) };
}

export interface FleetChild {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout JSON lines (NOCTRIA_OUTPUT=json). */
  events(): Record<string, unknown>[];
  waitForEvent(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
  waitForText(text: string, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startFleetChild(main: string, env: Record<string, string>): FleetChild {
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const events = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const alive = () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`fleet exited (${child.exitCode ?? child.signalCode}); stderr:\n${err}\nstdout:\n${out}`);
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    events,
    exited,
    waitForEvent: (event, timeoutMs) =>
      waitFor(
        () => {
          const e = events().find((x) => x['event'] === event);
          if (!e) alive();
          return e;
        },
        { timeoutMs, intervalMs: 50, message: `fleet event ${event}` },
      ),
    waitForText: async (text, timeoutMs) => {
      await waitFor(
        () => {
          if (out.includes(text)) return true;
          alive();
          return false;
        },
        { timeoutMs, intervalMs: 50, message: `fleet output "${text}"` },
      );
    },
  };
}
