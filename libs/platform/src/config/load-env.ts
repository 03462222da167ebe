import { z } from 'zod';
import { NoctriaError } from '../errors/noctria-error.js';
import { INFRA_URL_KEYS, type Profile } from './env-schemas.js';

/** sysexits.h EX_CONFIG: the process exits with it when its environment is invalid. */
export const ENV_EXIT_CODE = 78;
export const ENV_ERROR_ID = 'OPS_CONFIG_ENV';

export interface EnvProblem {
  variable: string;
  reason: string;
}

export interface LoadEnvOptions {
  env?: NodeJS.ProcessEnv | Record<string, string | undefined>;
  /** true (default): print the problems and exit with {@link ENV_EXIT_CODE}; false: throw `OPS_CONFIG_ENV`. */
  exit?: boolean;
  /** Where problem lines go when exiting (default: stderr). */
  write?: (line: string) => void;
}

/** `z.output<S>` with `NOCTRIA_PROFILE` resolved when the schema carries the base keys. */
export type LoadedEnv<S extends z.ZodObject> =
  z.output<S> extends { NOCTRIA_PROFILE?: unknown }
    ? Omit<z.output<S>, 'NOCTRIA_PROFILE'> & { NOCTRIA_PROFILE: Profile }
    : z.output<S>;

/** Seed names accepted as aliases of our variables (`seeds/003` 環境変数一覧 uses POSTGRES_URL). */
export const ENV_ALIASES: Readonly<Record<string, string>> = { DATABASE_URL: 'POSTGRES_URL' };

/**
 * Validates the environment against `schema`. Every problem becomes one line
 * `ENV_INVALID <VARIABLE>: <reason>`; then the process exits with 78 (or, with `exit: false`, a
 * NoctriaError `OPS_CONFIG_ENV` carrying `details.problems` is thrown).
 *
 * Empty values count as unset. When the schema contains the base keys, `NOCTRIA_PROFILE` is resolved:
 * `embedded` when DATABASE_URL, NATS_URL and REDIS_URL are all unset, `cluster` when all are set;
 * a partial set (or an explicit `cluster` missing some) is a problem naming each missing variable.
 */
export function loadEnv<S extends z.ZodObject>(schema: S, options: LoadEnvOptions = {}): LoadedEnv<S> {
  const source = options.env ?? process.env;
  const shape = schema.shape as Record<string, unknown>;
  const input: Record<string, string | undefined> = {};
  const aliasUsed = new Map<string, string>();
  for (const key of Object.keys(shape)) {
    let value = nonEmpty(source[key]);
    const alias = ENV_ALIASES[key];
    if (value === undefined && alias !== undefined && nonEmpty(source[alias]) !== undefined) {
      value = nonEmpty(source[alias]);
      aliasUsed.set(key, alias);
    }
    input[key] = value;
  }

  const problems: EnvProblem[] = [];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
      const alias = key ? aliasUsed.get(key) : undefined;
      const variable = key === undefined ? '(environment)' : alias ? `${alias} (as ${key})` : key;
      const missing = key !== undefined && input[key] === undefined && issue.code === 'invalid_type';
      problems.push({ variable, reason: missing ? 'required but not set' : issue.message });
    }
  }

  let profile: Profile | undefined;
  if ('NOCTRIA_PROFILE' in shape) {
    const resolved = resolveProfile(input);
    profile = resolved.profile;
    problems.push(...resolved.problems);
  }

  if (problems.length > 0 || !parsed.success) {
    const lines = problems.map((p) => `ENV_INVALID ${p.variable}: ${p.reason}`);
    if (options.exit ?? true) {
      const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
      for (const line of lines) write(line);
      process.exit(ENV_EXIT_CODE);
    }
    throw new NoctriaError(ENV_ERROR_ID, lines.join('\n'), { severity: 'CRITICAL', details: { problems } });
  }

  const out = { ...(parsed.data as Record<string, unknown>) };
  if (profile !== undefined) out['NOCTRIA_PROFILE'] = profile;
  return out as LoadedEnv<S>;
}

function resolveProfile(input: Record<string, string | undefined>): { profile?: Profile; problems: EnvProblem[] } {
  const explicit = input['NOCTRIA_PROFILE'];
  const set = INFRA_URL_KEYS.filter((k) => input[k] !== undefined);
  const unset = INFRA_URL_KEYS.filter((k) => input[k] === undefined);
  if (explicit === 'embedded') return { profile: 'embedded', problems: [] };
  if (explicit !== undefined && explicit !== 'cluster') return { problems: [] }; // reported by the schema
  if (unset.length === 0) return { profile: 'cluster', problems: [] };
  if (explicit === undefined && set.length === 0) return { profile: 'embedded', problems: [] };
  const why =
    explicit === 'cluster'
      ? 'required by NOCTRIA_PROFILE=cluster'
      : `required in the cluster profile (${set.join(', ')} set); set all of ${INFRA_URL_KEYS.join(', ')} for cluster or none for embedded`;
  return { problems: unset.map((variable) => ({ variable, reason: why })) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
