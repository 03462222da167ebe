/**
 * One `providers.<id>` entry of sources.yaml (seed 003, データソース抽象化レイヤ v1), plus the helpers every
 * adapter uses to answer getCapabilities()/getRateLimit() from it. Keys are kept in the seed's snake_case.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Timeframe } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS } from './errors.js';
import type { ProviderCapabilities, RateLimitInfo } from './market-data-provider.port.js';
import { isTimeframe } from './internal/timeframe.js';

const timeframeSchema = z.string().refine(isTimeframe, { message: 'unknown timeframe' });

export const sourceConfigSchema = z.object({
  type: z.string(),
  base_url: z.string().optional(),
  ws_url: z.string().optional(),
  /** `ENV:NAME`, `FILE:/path` or `VAULT:path` — never a literal key. */
  api_key_ref: z
    .string()
    .regex(/^(ENV|FILE|VAULT):.+$/, 'api_key_ref must be ENV:, FILE: or VAULT: (plain keys are forbidden)')
    .optional(),
  timeframes: z.array(timeframeSchema).min(1),
  assets: z.array(z.string()).default([]),
  priority: z.number().int(),
  rate_limits: z
    .object({
      rest_qps: z.number().positive().optional(),
      ws_channels: z.number().int().nonnegative().optional(),
      burst: z.number().int().positive().optional(),
      policy: z.string().optional(),
    })
    .default({}),
  cost_tier: z.string().optional(),
  max_bars_per_request: z.number().int().positive().optional(),
  latency_profile: z.enum(['realtime', 'delayed', 'batch']).optional(),
  symbols: z.array(z.string()).optional(),
  symbol_map: z.record(z.string(), z.string()).optional(),
});

export type SourceConfigInput = z.input<typeof sourceConfigSchema>;
export type SourceConfig = z.output<typeof sourceConfigSchema> & { id: string; timeframes: Timeframe[] };

/** Parses the `providers:` map of a sources.yaml document (YAML text or an already-parsed object). */
export function parseSourcesConfig(doc: string | unknown): SourceConfig[] {
  const obj: unknown = typeof doc === 'string' ? parseYaml(doc) : doc;
  const providers = z.object({ providers: z.record(z.string(), z.unknown()) }).safeParse(obj);
  if (!providers.success) {
    throw new ProviderError(PROVIDER_ERROR_IDS.configInvalid, `sources config: ${providers.error.message}`, { retryable: false });
  }
  const out: SourceConfig[] = [];
  for (const [id, raw] of Object.entries(providers.data.providers)) {
    const parsed = sourceConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new ProviderError(PROVIDER_ERROR_IDS.configInvalid, `sources config provider '${id}': ${issues}`, { retryable: false });
    }
    out.push({ ...parsed.data, id, timeframes: parsed.data.timeframes as Timeframe[] });
  }
  return out.sort((a, b) => a.priority - b.priority);
}

/** Builds a SourceConfig in code (tests, demos) with the same defaults the schema applies. */
export function sourceConfig(id: string, input: SourceConfigInput): SourceConfig {
  const parsed = sourceConfigSchema.parse(input);
  return { ...parsed, id, timeframes: parsed.timeframes as Timeframe[] };
}

export function capabilitiesFromConfig(
  cfg: SourceConfig,
  defaults: { maxBarsPerRequest: number; latencyProfile: ProviderCapabilities['latencyProfile'] },
): ProviderCapabilities {
  return {
    timeframes: [...cfg.timeframes],
    assets: [...cfg.assets],
    limits: { maxBarsPerRequest: Math.min(cfg.max_bars_per_request ?? defaults.maxBarsPerRequest, defaults.maxBarsPerRequest) },
    latencyProfile: cfg.latency_profile ?? defaults.latencyProfile,
  };
}

export function rateLimitFromConfig(
  cfg: SourceConfig,
  defaults: { restQps: number; wsChannels: number; policy: string },
): RateLimitInfo {
  const restQps = cfg.rate_limits.rest_qps ?? defaults.restQps;
  return {
    restQps,
    wsChannels: cfg.rate_limits.ws_channels ?? defaults.wsChannels,
    burst: cfg.rate_limits.burst ?? Math.max(1, Math.ceil(restQps)),
    policy: cfg.rate_limits.policy ?? defaults.policy,
  };
}

export type KeyResolver = () => Promise<string>;

/**
 * Resolves an API key from the environment or a secrets file, never from configuration text.
 * `ENV:NAME` reads `env[NAME]`; `FILE:/path` reads the file (trimmed). `VAULT:` refs are resolved by the
 * platform's secret mount, which materialises them as files — pass the file path through `*_FILE` instead.
 */
export function keyResolverFromRef(ref: string, env: NodeJS.ProcessEnv = process.env): KeyResolver {
  return async () => {
    const [kind, ...rest] = ref.split(':');
    const target = rest.join(':');
    if (kind === 'ENV') {
      const v = env[target]?.trim();
      if (!v) throw new ProviderError(PROVIDER_ERROR_IDS.keyMissing, `environment variable ${target} is not set`, { retryable: false });
      return v;
    }
    if (kind === 'FILE') return readKeyFile(target);
    throw new ProviderError(PROVIDER_ERROR_IDS.keyMissing, `api_key_ref kind '${kind}' cannot be resolved in-process`, { retryable: false });
  };
}

/** `NAME` from the environment, else the file named by `NAME_FILE` (Kubernetes secret mount). */
export function envKeyResolver(name: string, env: NodeJS.ProcessEnv = process.env): KeyResolver {
  return async () => {
    const direct = env[name]?.trim();
    if (direct) return direct;
    const file = env[`${name}_FILE`]?.trim();
    if (file) return readKeyFile(file);
    throw new ProviderError(PROVIDER_ERROR_IDS.keyMissing, `neither ${name} nor ${name}_FILE is set`, { retryable: false });
  };
}

async function readKeyFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ProviderError(PROVIDER_ERROR_IDS.keyMissing, `cannot read API key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      retryable: false,
    });
  }
  const key = text.trim();
  if (!key) throw new ProviderError(PROVIDER_ERROR_IDS.keyMissing, `API key file ${path} is empty`, { retryable: false });
  return key;
}
