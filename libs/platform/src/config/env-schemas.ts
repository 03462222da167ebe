import { z } from 'zod';

/** A URL whose protocol is one of `protocols` (e.g. `['nats:']`); `list` accepts a comma-separated list. */
export function envUrl(protocols: readonly string[], message: string, options: { list?: boolean } = {}) {
  return z.string().refine((value) => {
    const items = options.list ? value.split(',').map((s) => s.trim()) : [value];
    return items.length > 0 && items.every((item) => hasProtocol(item, protocols));
  }, message);
}

function hasProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.host !== '';
  } catch {
    return false;
  }
}

/** A TCP port (0 allowed: pick a free one). */
export function envPort(defaultPort: number) {
  const message = 'expected an integer port between 0 and 65535';
  return z
    .string()
    .regex(/^\d{1,5}$/, message)
    .transform(Number)
    .refine((n) => n >= 0 && n <= 65535, message)
    .optional()
    .transform((n) => n ?? defaultPort);
}

/** A positive integer with a default. */
export function envInt(defaultValue: number, options: { min?: number; max?: number } = {}) {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const message = `expected an integer between ${min} and ${max}`;
  return z
    .string()
    .regex(/^-?\d+$/, message)
    .transform(Number)
    .refine((n) => n >= min && n <= max, message)
    .optional()
    .transform((n) => n ?? defaultValue);
}

/** true/false/1/0/yes/no, any case. */
export function envBoolean(defaultValue: boolean) {
  return z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'expected true|false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .optional()
    .transform((v) => v ?? defaultValue);
}

export const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof PINO_LEVELS)[number];

const LEVEL_ALIASES: Record<string, LogLevel> = { warning: 'warn', err: 'error', critical: 'fatal' };

/** Seed values INFO|DEBUG|WARN|ERROR (any case) plus pino's own level names → pino level. */
export const logLevelSchema = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .refine(
    (v) => (PINO_LEVELS as readonly string[]).includes(v) || v in LEVEL_ALIASES,
    'expected one of INFO|DEBUG|WARN|ERROR (or trace|fatal|silent)',
  )
  .transform((v) => (LEVEL_ALIASES[v] ?? v) as LogLevel)
  .optional()
  .transform((v): LogLevel => v ?? 'info');

export const PROFILES = ['cluster', 'embedded'] as const;
export type Profile = (typeof PROFILES)[number];

/** The profile-defining infrastructure URLs. */
export const INFRA_URL_KEYS = ['DATABASE_URL', 'NATS_URL', 'REDIS_URL'] as const;

/**
 * Keys every service reads. Extend with `baseEnvSchema.extend({ ... })` (or spread `baseEnvShape`).
 * Cross-field rules (profile resolution, `POSTGRES_URL` alias) are applied by `loadEnv`, so that the
 * schema stays a plain, extendable zod object.
 */
export const baseEnvShape = {
  SERVICE_ENV: z.enum(['dev', 'stg', 'prod'], { error: 'expected dev|stg|prod' }).default('dev'),
  LOG_LEVEL: logLevelSchema,
  TZ: z
    .string()
    .refine((v) => v === 'UTC' || v === 'Etc/UTC', 'must be UTC (timestamps are UTC everywhere)')
    .optional(),
  HTTP_PORT: envPort(8080),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  NOCTRIA_PROFILE: z.enum(PROFILES, { error: 'expected cluster|embedded' }).optional(),
  DATABASE_URL: envUrl(['postgres:', 'postgresql:'], 'expected a postgres:// URL').optional(),
  NATS_URL: envUrl(['nats:', 'tls:'], 'expected a nats:// URL', { list: true }).optional(),
  REDIS_URL: envUrl(['redis:', 'rediss:'], 'expected a redis:// URL').optional(),
  NOCTRIA_BUS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'expected letters, digits, "_" or "-"')
    .default(''),
  NOCTRIA_DATA_DIR: z.string().min(1).default('.noctria'),
  /** Embedded artefact store root (default `<NOCTRIA_DATA_DIR>/artifacts/store`, see artifactRoot). */
  NOCTRIA_ARTIFACT_DIR: z.string().min(1).optional(),
  /** Stream replicas of new JetStream artefact buckets (cluster). */
  NOCTRIA_ARTIFACT_REPLICAS: z.string().regex(/^[1-5]$/, 'expected an integer between 1 and 5').transform(Number).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: envUrl(['http:', 'https:'], 'expected an http(s):// URL').optional(),
  NOCTRIA_CONFIG_DIR: z.string().min(1).default('configs'),
};

export const baseEnvSchema = z.object(baseEnvShape);

export type BaseEnvInput = z.input<typeof baseEnvSchema>;
/** The base environment after `loadEnv` (profile resolved). */
export type BaseEnv = Omit<z.output<typeof baseEnvSchema>, 'NOCTRIA_PROFILE'> & { NOCTRIA_PROFILE: Profile };
