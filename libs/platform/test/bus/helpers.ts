/** Test helpers for the bus suites: waiting on conditions (never fixed sleeps), gates, random prefixes. */
import { randomBytes } from 'node:crypto';

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A promise the test resolves by hand. */
export interface Gate {
  promise: Promise<void>;
  open(): void;
  readonly isOpen: boolean;
}

export function gate(): Gate {
  let open!: () => void;
  let isOpen = false;
  const promise = new Promise<void>((r) => (open = r));
  return {
    promise,
    open: () => {
      isOpen = true;
      open();
    },
    get isOpen() {
      return isOpen;
    },
  };
}

/** A unique lower-case token usable as a subject root and (upper-cased) as a stream-name prefix. */
export function randomPrefix(tag: string): string {
  return `${tag}${randomBytes(5).toString('hex')}`;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Lets every pending macrotask (timers at 0, I/O callbacks) run `n` times over. */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
