/** Runs the CLI in-process (`run(argv, io)`) against a fresh test database in the cluster profile. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDatabase, type Database } from '@noctria/platform';
import { INGEST_SCHEMA, ingestMigrations, type IngestDB } from '@noctria/ingest';
import { createTestDatabase, natsUrl, redisUrl, uniquePrefix, type TestDatabase } from '@noctria/testing';
import { run } from '../src/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines (when --json). */
  records: Record<string, unknown>[];
}

export interface CliHarness {
  env: Record<string, string>;
  test: TestDatabase;
  database: Database<IngestDB>;
  workDir: string;
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  close(): Promise<void>;
}

export async function openCliHarness(): Promise<CliHarness> {
  const test = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
  const workDir = mkdtempSync(join(tmpdir(), 'noctria-cli-test-'));
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    DATABASE_URL: test.connectionString,
    NATS_URL: await natsUrl(),
    REDIS_URL: await redisUrl(),
    NOCTRIA_BUS_PREFIX: uniquePrefix(''),
    NOCTRIA_DATA_DIR: join(workDir, 'data'),
    NOCTRIA_CONFIG_DIR: resolve('configs'),
    LOG_LEVEL: 'info',
  };
  const database = createDatabase<IngestDB>({ connectionString: test.connectionString, schema: INGEST_SCHEMA, poolMax: 3 });
  return {
    env,
    test,
    database,
    workDir,
    async cli(args, extra = {}) {
      let stdout = '';
      let stderr = '';
      const code = await run(args, {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        env: { ...env, ...extra },
      });
      const records = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return { code, stdout, stderr, records };
    },
    async close() {
      await database.close();
      await test.drop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export function recordsOf(r: CliResult, type: string): Record<string, unknown>[] {
  return r.records.filter((x) => x['type'] === type);
}
