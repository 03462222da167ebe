import { z } from 'zod';
import { baseEnvShape, envBoolean, envInt, envPort } from '@noctria/platform';

/**
 * Ingest environment: the platform base keys plus the ingest ones. `TWELVEDATA_API_KEY` is required only
 * when the TwelveData provider is enabled (`INGEST_SOURCES` lists it); it is a secret and never logged.
 */
export const ingestEnvSchema = z
  .object({
    ...baseEnvShape,
    INGEST_HTTP_PORT: envPort(8081),
    /** Comma-separated source ids in priority order (must exist in configs/sources.yaml, or `synthetic`). */
    INGEST_SOURCES: z
      .string()
      .regex(/^[a-z0-9_-]+(,[a-z0-9_-]+)*$/, 'expected comma-separated source ids, e.g. twelvedata,synthetic')
      .default('synthetic'),
    TWELVEDATA_API_KEY: z.string().min(8, 'expected the TwelveData API key').optional(),
    /** Clock multiplier of the live loop on the synthetic provider (1 = real time). */
    INGEST_LIVE_SPEED: envInt(1, { min: 1, max: 1_000_000 }),
    /** Start the live loop at boot. */
    INGEST_LIVE_ENABLED: envBoolean(false),
    /**
     * Live path: `poll` (fetch newly closed bars) or `stream` (aggregate the WebSocket quote stream into bars, REST
     * re-sync after reconnects). Unset: `stream` when a TwelveData source is enabled, else `poll`.
     */
    INGEST_LIVE_MODE: z.enum(['poll', 'stream']).optional(),
    /** Where bar exports are written (ArtifactStore local directory in `embedded`). */
    INGEST_ARTIFACT_DIR: z.string().min(1).optional(),
    /** Bars per provider request / store transaction during backfill. */
    INGEST_CHUNK_BARS: envInt(2000, { min: 10, max: 50_000 }),
    /** Seed of the synthetic provider. */
    INGEST_SYNTHETIC_SEED: envInt(42, { min: 0 }),
  })
  .superRefine((env, ctx) => {
    const sources = env.INGEST_SOURCES.split(',');
    if (sources.includes('twelvedata') && !env.TWELVEDATA_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['TWELVEDATA_API_KEY'], message: 'required when INGEST_SOURCES includes twelvedata' });
    }
  });

export type IngestEnv = z.output<typeof ingestEnvSchema>;
