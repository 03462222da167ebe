import { createServer, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may still take it later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a TCP connection to host:port succeeds within `timeoutMs`. */
export async function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/**
 * A unique prefix for bus subjects/streams and Redis keys: `t<8 hex>` followed by `separator` (default '.').
 * Use `uniquePrefix('_')` for JetStream stream/consumer names, which may not contain dots.
 */
export function uniquePrefix(separator = '.'): string {
  return `t${randomBytes(4).toString('hex')}${separator}`;
}
