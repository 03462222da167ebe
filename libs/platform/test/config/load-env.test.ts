import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ENV_EXIT_CODE, baseEnvSchema, loadEnv, type EnvProblem } from '../../src/config/index.js';
import { NoctriaError } from '../../src/errors/index.js';
import { compileForChild } from '@noctria/testing';

const CLUSTER = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/noctria',
  NATS_URL: 'nats://127.0.0.1:4222',
  REDIS_URL: 'redis://127.0.0.1:6379/0',
};

function problemsOf(fn: () => unknown): EnvProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NoctriaError);
    const e = err as NoctriaError;
    expect(e.id).toBe('OPS_CONFIG_ENV');
    const problems = e.details['problems'] as EnvProblem[];
    expect(e.message.split('\n')).toEqual(problems.map((p) => `ENV_INVALID ${p.variable}: ${p.reason}`));
    return problems;
  }
  throw new Error('expected loadEnv to throw');
}

describe('loadEnv (exit: false)', () => {
  it('applies defaults and resolves the embedded profile when no infrastructure URL is set', () => {
    const env = loadEnv(baseEnvSchema, { env: {}, exit: false });
    expect(env).toEqual({
      SERVICE_ENV: 'dev',
      LOG_LEVEL: 'info',
      HTTP_PORT: 8080,
      HTTP_HOST: '0.0.0.0',
      NOCTRIA_PROFILE: 'embedded',
      NOCTRIA_BUS_PREFIX: '',
      NOCTRIA_DATA_DIR: '.noctria',
      NOCTRIA_CONFIG_DIR: 'configs',
    });
  });

  it('resolves the cluster profile when all three URLs are set, and accepts POSTGRES_URL as alias', () => {
    const env = loadEnv(baseEnvSchema, { env: { ...CLUSTER, SERVICE_ENV: 'prod', HTTP_PORT: '0', TZ: 'UTC' }, exit: false });
    expect(env).toMatchObject({ ...CLUSTER, NOCTRIA_PROFILE: 'cluster', SERVICE_ENV: 'prod', HTTP_PORT: 0, TZ: 'UTC' });
    const { DATABASE_URL, ...rest } = CLUSTER;
    const aliased = loadEnv(baseEnvSchema, { env: { ...rest, POSTGRES_URL: DATABASE_URL }, exit: false });
    expect(aliased.DATABASE_URL).toBe(DATABASE_URL);
    expect(aliased.NOCTRIA_PROFILE).toBe('cluster');
    expect(problemsOf(() => loadEnv(baseEnvSchema, { env: { ...rest, POSTGRES_URL: 'mysql://x' }, exit: false }))).toEqual([
      { variable: 'POSTGRES_URL (as DATABASE_URL)', reason: 'expected a postgres:// URL' },
    ]);
  });

  it.each([
    ['INFO', 'info'],
    ['debug', 'debug'],
    ['Warn', 'warn'],
    ['WARNING', 'warn'],
    ['ERROR', 'error'],
    ['trace', 'trace'],
  ])('maps LOG_LEVEL=%s to pino level %s', (input, expected) => {
    expect(loadEnv(baseEnvSchema, { env: { LOG_LEVEL: input }, exit: false }).LOG_LEVEL).toBe(expected);
  });

  it('names each malformed variable with its reason', () => {
    const problems = problemsOf(() =>
      loadEnv(baseEnvSchema, {
        env: { ...CLUSTER, NATS_URL: 'http://127.0.0.1:4222', LOG_LEVEL: 'LOUD', TZ: 'Asia/Tokyo', HTTP_PORT: '70000', SERVICE_ENV: 'qa' },
        exit: false,
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        { variable: 'NATS_URL', reason: 'expected a nats:// URL' },
        { variable: 'LOG_LEVEL', reason: expect.stringContaining('INFO|DEBUG|WARN|ERROR') },
        { variable: 'TZ', reason: expect.stringContaining('must be UTC') },
        { variable: 'HTTP_PORT', reason: expect.stringContaining('port') },
        { variable: 'SERVICE_ENV', reason: 'expected dev|stg|prod' },
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it('a partial infrastructure set names each missing variable', () => {
    const problems = problemsOf(() => loadEnv(baseEnvSchema, { env: { NATS_URL: CLUSTER.NATS_URL }, exit: false }));
    expect(problems.map((p) => p.variable)).toEqual(['DATABASE_URL', 'REDIS_URL']);
    expect(problems[0]?.reason).toMatch(/cluster profile.*NATS_URL set/);
    const explicit = problemsOf(() => loadEnv(baseEnvSchema, { env: { NOCTRIA_PROFILE: 'cluster', REDIS_URL: CLUSTER.REDIS_URL }, exit: false }));
    expect(explicit.map((p) => p.variable)).toEqual(['DATABASE_URL', 'NATS_URL']);
    expect(loadEnv(baseEnvSchema, { env: { NOCTRIA_PROFILE: 'embedded', NATS_URL: CLUSTER.NATS_URL }, exit: false }).NOCTRIA_PROFILE).toBe('embedded');
  });

  it('services extend the base schema; a missing required key is "required but not set"; empty counts as unset', () => {
    const schema = baseEnvSchema.extend({ TWELVEDATA_API_KEY: z.string().min(1), RETRY_MAX: z.coerce.number().int().default(3) });
    const problems = problemsOf(() => loadEnv(schema, { env: { TWELVEDATA_API_KEY: '  ' }, exit: false }));
    expect(problems).toEqual([{ variable: 'TWELVEDATA_API_KEY', reason: 'required but not set' }]);
    const env = loadEnv(schema, { env: { TWELVEDATA_API_KEY: 'k' }, exit: false });
    expect(env.TWELVEDATA_API_KEY).toBe('k');
    expect(env.RETRY_MAX).toBe(3);
    expect(env.NOCTRIA_PROFILE).toBe('embedded');
  });

  it('a schema without the base keys gets no profile resolution', () => {
    const env = loadEnv(z.object({ A: z.string() }), { env: { A: 'x', NATS_URL: 'nats://h:1' }, exit: false });
    expect(env).toEqual({ A: 'x' });
  });
});

describe('loadEnv exit path (child process)', () => {
  let outRoot: string;
  let script: string;

  beforeAll(async () => {
    outRoot = (await compileForChild(['libs/platform/src/config', 'libs/platform/src/errors'])).root;
    script = path.join(outRoot, 'load-env-main.mjs');
    writeFileSync(
      script,
      [
        "import { baseEnvSchema, loadEnv } from './libs/platform/src/config/index.js';",
        'const env = loadEnv(baseEnvSchema);',
        "process.stdout.write(JSON.stringify(env) + '\\n');",
      ].join('\n'),
    );
  });

  afterAll(() => {
    if (outRoot) rmSync(outRoot, { recursive: true, force: true });
  });

  function run(env: Record<string, string>) {
    return spawnSync(process.execPath, [script], { env: { PATH: process.env['PATH'] ?? '', ...env }, encoding: 'utf8' });
  }

  it('prints one ENV_INVALID line per problem and exits 78', () => {
    const result = run({ NATS_URL: 'http://nope', DATABASE_URL: CLUSTER.DATABASE_URL, TZ: 'Asia/Tokyo' });
    expect(result.status).toBe(ENV_EXIT_CODE);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n').sort();
    expect(lines).toEqual(
      [
        'ENV_INVALID NATS_URL: expected a nats:// URL',
        expect.stringMatching(/^ENV_INVALID REDIS_URL: required in the cluster profile/),
        expect.stringMatching(/^ENV_INVALID TZ: must be UTC/),
      ],
    );
  });

  it('starts normally with a valid environment', () => {
    const result = run({ ...CLUSTER, LOG_LEVEL: 'DEBUG' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ NOCTRIA_PROFILE: 'cluster', LOG_LEVEL: 'debug', ...CLUSTER });
  });
});
