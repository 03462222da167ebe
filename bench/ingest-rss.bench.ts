/**
 * RSS of the ingest service streaming 50 synthetic symbols live (15m + 1h, accelerated market clock, outbox →
 * JetStream), sampled from /proc/<pid>/status every 200 ms for BENCH_RSS_SECONDS (default 50) of real time, next to
 * the RSS of a bare Node process running the same platform bootstrap with an empty module (the reference), in
 * the same run. Peak and steady (median of the last third of the samples) in MB; target ≤ 200 MB.
 * Children are dist/bench/ingest-rss.child.js; throwaway databases; the shared NATS/Redis (or *_URL).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

const here = dirname(fileURLToPath(import.meta.url));

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function measure(mode: 'ingest' | 'bare', env: Record<string, string>, seconds: number, dbUrl: string) {
  const child = spawn(process.execPath, [join(here, 'ingest-rss.child.js'), mode], { env: { ...process.env, ...env, DATABASE_URL: dbUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    void exited.then((code) => reject(new Error(`${mode} child exited ${code} before ready: ${stderr.slice(-2000)}`)));
  });
  const samples: number[] = [];
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const v = child.pid ? rssMb(child.pid) : undefined;
      if (v !== undefined) samples.push(v);
      if (Date.now() - started >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 200);
  });
  const bars = mode === 'ingest' ? await countBars(dbUrl) : 0;
  child.kill('SIGTERM');
  await exited;
  const tail = samples.slice(Math.floor((samples.length * 2) / 3)).sort((a, b) => a - b);
  return {
    peakMb: Number(Math.max(...samples).toFixed(1)),
    steadyMb: Number((tail[Math.floor(tail.length / 2)] ?? 0).toFixed(1)),
    samples: samples.length,
    ...(mode === 'ingest' ? { barsStored: bars } : {}),
  };
}

async function countBars(dbUrl: string): Promise<number> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>('select count(*) as n from ingest.canonical_bars')).rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env['BENCH_RSS_SECONDS'] ?? 50);
  const speed = Number(process.env['BENCH_SPEED'] ?? 600);
  const serverUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  const dbs: string[] = [];
  const prefixes: string[] = [];
  const dbUrl = async () => {
    const name = `noctria_bench_rss_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    dbs.push(name);
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const baseEnv = () => {
    const prefix = `b${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    return {
      NATS_URL: natsUrl,
      REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      NOCTRIA_PROFILE: 'cluster',
      NOCTRIA_BUS_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      BENCH_SPEED: String(speed),
    };
  };
  try {
    const reference = await measure('bare', baseEnv(), seconds, await dbUrl());
    const ingest = await measure('ingest', baseEnv(), seconds, await dbUrl());
    return {
      symbols: 50,
      timeframes: ['15m', '1h'],
      clockSpeed: speed,
      realSeconds: seconds,
      marketMinutes: Math.round((seconds * speed) / 60),
      reference_bareBootstrap: reference,
      ingest,
      overheadSteadyMb: Number((ingest.steadyMb - reference.steadyMb).toFixed(1)),
      target: 'ingest peak RSS ≤ 200 MB',
    };
  } finally {
    for (const name of dbs) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    const nc = await connect({ servers: natsUrl }).catch(() => undefined);
    if (nc) {
      const jsm = await jetstreamManager(nc);
      for (const p of prefixes) for (const s of ['MD']) await jsm.streams.delete(`${p.toUpperCase()}_${s}`).catch(() => false);
      await nc.close();
    }
  }
}
