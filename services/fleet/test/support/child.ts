/**
 * Runs the fleet entry point in a child `node` process: the sources (libs, services/ingest, services/features,
 * services/fleet) are
 * transpiled by `compileForChild` (libs/testing), so the test exercises the real `main.ts` with real signals and
 * exit codes, independent of a stale dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { compileForChild, waitFor } from '@noctria/testing';

export interface CompiledFleet {
  root: string;
  main: string;
  remove(): Promise<void>;
}

export async function compileFleet(): Promise<CompiledFleet> {
  const libs = (await readdir(path.join(process.cwd(), 'libs'))).filter((l) => l !== 'testing').map((l) => `libs/${l}/src`);
  const compiled = await compileForChild([...libs, 'services/ingest/src', 'services/features/src', 'services/fleet/src']);
  return { root: compiled.root, main: compiled.file('services/fleet/src/main.ts'), remove: () => compiled.remove() };
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
