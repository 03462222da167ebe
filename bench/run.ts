/**
 * `npm run bench`: runs every `bench/*.bench.ts` (compiled to dist/bench) in sequence and prints one JSON
 * document. Each benchmark measures its subject next to a reference in the same run, so figures are
 * comparable on whatever machine runs them. `BENCH_ONLY=name1,name2` narrows the set.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';

interface BenchModule {
  run: () => Promise<Record<string, unknown>>;
}

const here = dirname(fileURLToPath(import.meta.url));
const only = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim()).filter(Boolean);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => !only || only.includes(f.replace(/\.bench\.js$/, '')))
  .sort();

const results: Record<string, unknown> = {};
for (const file of files) {
  const name = file.replace(/\.bench\.js$/, '');
  process.stderr.write(`bench: ${name}…\n`);
  const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
  const started = process.hrtime.bigint();
  try {
    results[name] = await mod.run();
  } catch (err) {
    results[name] = { error: err instanceof Error ? err.message : String(err) };
  }
  process.stderr.write(`bench: ${name} done in ${Number(process.hrtime.bigint() - started) / 1e9}s\n`);
}

process.stdout.write(
  JSON.stringify(
    {
      machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30) },
      at: new Date().toISOString(),
      results,
    },
    null,
    2,
  ) + '\n',
);
process.exit(Object.values(results).some((r) => typeof r === 'object' && r !== null && 'error' in r) ? 1 : 0);
