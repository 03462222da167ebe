import { afterAll, describe, expect, it } from '@jest/globals';
import { Socket } from 'node:net';
import pg from 'pg';
import { canConnect, isProcessAlive, startPrivateNats, startPrivatePostgres, stopPrivatePostgres, type PrivateNats, type PrivatePostgres } from '../src/index.js';

/** The INFO line a NATS server sends on connect. */
async function natsInfo(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      const line = buf.split('\r\n')[0]!;
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(JSON.parse(line.replace(/^INFO /, '')) as Record<string, unknown>);
      }
    });
    s.on('error', reject);
    s.connect(port, '127.0.0.1');
  });
}

describe('private servers for fault tests', () => {
  let pgServer: PrivatePostgres | undefined;
  let nats: PrivateNats | undefined;
  afterAll(async () => {
    await pgServer?.stop();
    await nats?.stop();
  });

  it('startPrivatePostgres: serves queries, survives crash + restart with committed data, stops by pid', async () => {
    pgServer = await startPrivatePostgres();
    const query = async (text: string): Promise<pg.QueryResult> => {
      const c = new pg.Client({ connectionString: pgServer!.url });
      await c.connect();
      try {
        return await c.query(text);
      } finally {
        await c.end();
      }
    };
    await query('create table kept (x int); insert into kept values (42)');
    const firstPid = pgServer.pid;
    expect(isProcessAlive(firstPid)).toBe(true);
    await pgServer.crash();
    expect(isProcessAlive(firstPid)).toBe(false);
    await pgServer.restart();
    expect(pgServer.pid).not.toBe(firstPid);
    expect((await query('select x from kept')).rows).toEqual([{ x: 42 }]);
    const pid = pgServer.pid;
    await stopPrivatePostgres(pgServer);
    pgServer = undefined;
    expect(isProcessAlive(pid)).toBe(false);
  });

  it('startPrivateNats: JetStream on a free port, restart and kill by pid', async () => {
    nats = await startPrivateNats();
    const info = await natsInfo(nats.port);
    expect(info['jetstream']).toBe(true);
    const firstPid = nats.pid;
    await nats.restart();
    expect(nats.pid).not.toBe(firstPid);
    expect(isProcessAlive(firstPid)).toBe(false);
    expect((await natsInfo(nats.port))['jetstream']).toBe(true);
    const pid = nats.pid;
    await nats.kill();
    expect(isProcessAlive(pid)).toBe(false);
    await nats.restart();
    expect(nats.pid).not.toBe(pid);
    expect(await canConnect('127.0.0.1', nats.port, 500)).toBe(true);
  });
});
