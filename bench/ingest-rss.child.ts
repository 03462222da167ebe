/**
 * Child process of ingest-rss.bench: `ingest` boots the ingest service (bootstrapService, cluster profile) streaming
 * 50 synthetic symbols live on an accelerated market clock with JetStream publishing; `bare` boots the same
 * platform bootstrap (same env, DB schema, bus, cache, HTTP) with an empty module — the reference. Prints `ready`.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { bootstrapService, loadEnv } from '@noctria/platform';
import { AcceleratedClock, SyntheticProvider, createIngestModule, ingestEnvSchema, ingestMigrations, INGEST_SCHEMA, type IngestSettings, type SyntheticSymbolSpec } from '@noctria/ingest';

@Module({})
class EmptyModule {}

const mode = process.argv[2];
const speed = Number(process.env['BENCH_SPEED'] ?? 600);
const env = loadEnv(ingestEnvSchema, { exit: true });
const letters = (i: number) => String.fromCharCode(65 + Math.floor(i / 26)) + String.fromCharCode(65 + (i % 26));
const symbols: Record<string, SyntheticSymbolSpec> = {};
const pairs: { a: string; b: string; beta: number; kappaPerDay: number; sigmaDaily: number }[] = [];
for (let i = 0; i < 25; i++) {
  const a = `QA${letters(i)}USD`;
  const b = `QB${letters(i)}USD`;
  symbols[a] = { start: 1 + i / 100, decimals: 5, annualVol: 0.1, spread: 0.0001, assetClass: 'FX' };
  symbols[b] = { start: 1.2 + i / 100, decimals: 5, annualVol: 0.1, spread: 0.0001, assetClass: 'FX' };
  pairs.push({ a, b, beta: 0.9, kappaPerDay: 0.4, sigmaDaily: 0.005 });
}
const universe = Object.keys(symbols).sort();
const clock = new AcceleratedClock({ startMarketMs: Date.UTC(2024, 0, 8, 0, 5), speed });
const settings: IngestSettings = {
  timeframeAllowed: ['15m', '1h', '4h'],
  timeframes: ['15m', '1h'],
  historyLookbackMonths: 1,
  diffThresh: 0.003,
  outlierSigma: 8,
  spikeK: 12,
  missingFillMaxRun: 2,
  dqThresholds: { missing_rate: 0.05, outlier_rate: 0.08 },
  freshnessBudgetSeconds: { '15m': 60, '1h': 120, '4h': 180 },
  calendar: '24/5',
  universeSymbols: universe,
  retention: { canonicalMonths: 36, rawDays: 60, graceDays: 3 },
  dqContextBars: 400,
};
await bootstrapService({
  service: 'ingest',
  env,
  schema: INGEST_SCHEMA,
  migrations: ingestMigrations,
  port: 0,
  host: '127.0.0.1',
  module:
    mode === 'bare'
      ? EmptyModule
      : createIngestModule({
          settings,
          provider: new SyntheticProvider({ seed: 7, sourceId: 'synthetic', symbols, pairs, clock, originMs: Date.UTC(2023, 11, 4) }),
          busPrefix: `${env.NOCTRIA_BUS_PREFIX}.`,
          artifactDir: env.INGEST_ARTIFACT_DIR ?? '/tmp',
          relayPollMs: 200,
          now: () => Math.floor(clock.now()),
          live: { enabled: true, pollMs: 100 },
        }),
});
process.stdout.write('ready\n');
