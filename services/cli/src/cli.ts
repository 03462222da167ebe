/**
 * The `noctria` command. `run(argv, io)` is the whole program (tests call it in-process with captured streams);
 * `main.ts` only wires it to the process.
 *
 * Global options: --json (one JSON object per line on stdout, progress on stderr), --config-dir, --data-dir.
 * Exit codes: 0 ok, 1 command failed (e.g. a file could not be read at all), 2 bad arguments (`UI_CLI_ARGS`),
 * 78 invalid environment/configuration.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Timeframe } from '@noctria/canonical-bar';
import { classifyBarFileName } from '@noctria/ingest';
import { NoctriaError } from '@noctria/platform';
import { assertRange, parseChoice, parseDateOption, parseIntOption, parseSymbols, parseTimeframeOption, parseTimeZone } from './args.js';
import { exportBars, humanExport } from './commands/bars-export.js';
import { reportDemoData, writeDemoData } from './commands/demo-data.js';
import { computeFeaturesFromFiles, featureParamsFor, reportFeatures } from './commands/features.js';
import { computeLabelsFromFiles, labelParamsFor, reportLabels } from './commands/labels.js';
import { buildDatasetOffline, buildDatasetRemote, reportDataset } from './commands/dataset.js';
import { codeVersion } from '@noctria/features-service';
import { humanBackfill, runBackfill } from './commands/ingest-backfill.js';
import { humanImport, importBarFile, type ImportFileResult, type ImportFormat } from './commands/ingest-import.js';
import { ingestStatus } from './commands/ingest-status.js';
import { loadCliEnv, loadPolicies, openIngestContext, type GlobalOptions, type IngestContext } from './context.js';
import { argsError, CliError, CLI_ERROR, EXIT, Output, table, type CliIo } from './io.js';
import { Progress } from './progress.js';

interface State {
  io: CliIo;
  code: number;
}

function globalsOf(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as GlobalOptions;
  return { json: o.json === true, ...(o.configDir ? { configDir: o.configDir } : {}), ...(o.dataDir ? { dataDir: o.dataDir } : {}) };
}

function envOf(io: CliIo): Record<string, string | undefined> {
  return io.env ?? process.env;
}

async function withIngest<T>(cmd: Command, state: State, extraEnv: Record<string, string>, fn: (ctx: IngestContext, out: Output) => Promise<T>): Promise<T> {
  const globals = globalsOf(cmd);
  const out = new Output(state.io, globals.json === true);
  const ctx = await openIngestContext(globals, envOf(state.io), extraEnv);
  if (ctx.mode === 'embedded-attached') out.note(`noctria: using the embedded PostgreSQL of the running fleet (npm start) in ${ctx.env.NOCTRIA_DATA_DIR}`);
  try {
    return await fn(ctx, out);
  } finally {
    await ctx.close();
  }
}

function policiesFor(cmd: Command, state: State) {
  const globals = globalsOf(cmd);
  const env = loadCliEnv(globals, envOf(state.io));
  return { env, policies: loadPolicies(env.NOCTRIA_CONFIG_DIR) };
}

function utcMidnight(ms: number): number {
  return Math.floor(ms / 86_400_000) * 86_400_000;
}

function addMonthsUtc(ms: number, months: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, d.getUTCDate(), d.getUTCHours());
}

export function buildProgram(state: State): Command {
  const { io } = state;
  const program = new Command('noctria')
    .description('Noctria pairs-trading platform — data and research commands')
    .option('--json', 'machine-readable output: one JSON object per line on stdout (progress stays on stderr)')
    .option('--config-dir <dir>', 'policy directory (default: NOCTRIA_CONFIG_DIR or ./configs)')
    .option('--data-dir <dir>', 'local data directory of the embedded profile (default: NOCTRIA_DATA_DIR or ./.noctria)')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => undefined,
    });

  // ── demo-data ──────────────────────────────────────────────────────────────────
  program
    .command('demo-data')
    .description('write seeded synthetic bars as MT5 export files (or generic CSV) — one file per symbol')
    .requiredOption('--out <dir>', 'output directory')
    .option('--symbols <symbols...>', 'symbols (comma or space separated; default: every leg of configs/universe.yaml)')
    .option('--timeframe <tf>', 'bar timeframe (default: timeframe_default of pipeline_policy)')
    .option('--months <n>', 'months of history ending at --to', '24')
    .option('--to <date>', 'exclusive end, UTC date YYYY-MM-DD (default: today 00:00 UTC)')
    .option('--seed <n>', 'generator seed (the fleet\'s synthetic source uses 42)', '42')
    .addOption(new Option('--format <format>', 'file format').default('mt5'))
    .action(async (opts: { out: string; symbols?: string[]; timeframe?: string; months: string; to?: string; seed: string; format: string }, cmd: Command) => {
      const { policies } = policiesFor(cmd, state);
      const out = new Output(io, globalsOf(cmd).json === true);
      const pipeline = policies.pipeline_policy.values;
      const timeframe = parseTimeframeOption(opts.timeframe ?? pipeline.timeframe_default);
      const months = parseIntOption(opts.months, '--months', 1, 240);
      const seed = parseIntOption(opts.seed, '--seed', 0, 2 ** 31 - 1);
      const format = parseChoice(opts.format, '--format', ['mt5', 'csv'] as const);
      const toMs = opts.to ? parseDateOption(opts.to, '--to') : utcMidnight(Date.now());
      const fromMs = addMonthsUtc(toMs, -months);
      const symbols = parseSymbols(opts.symbols);
      const req = { outDir: opts.out, timeframe, fromMs, toMs, seed, format, ...(symbols ? { symbols } : {}) };
      const files = await writeDemoData(req, policies.universe.values, new Progress(io.stderr, 'demo-data'));
      reportDemoData(out, files, req);
    });

  // ── ingest ─────────────────────────────────────────────────────────────────────
  const ingest = program.command('ingest').description('market data ingestion (runs the ingest service in-process)');

  ingest
    .command('import')
    .description('import bar files (MT5 export, HistData ASCII, CSV); bad rows are reported with their line numbers')
    .argument('<files...>', 'bar files')
    .option('--symbol <symbol>', 'symbol of the bars (default: from the file name, e.g. XAUUSD_H1_….csv)')
    .option('--timeframe <tf>', 'timeframe of the bars (default: from the file name)')
    .addOption(new Option('--format <format>', 'file format').default('auto'))
    .option('--tz <zone>', 'time zone of the timestamps in the file: UTC, +02:00, or an IANA zone (default UTC; HistData: EST)')
    .option('--source-id <id>', 'source id written on the bars', 'file')
    .action(async (files: string[], opts: { symbol?: string; timeframe?: string; format: string; tz?: string; sourceId: string }, cmd: Command) => {
      const format = parseChoice(opts.format, '--format', ['auto', 'mt5', 'histdata', 'csv'] as const) as ImportFormat;
      const timeZone = opts.tz !== undefined ? parseTimeZone(opts.tz) : undefined;
      if (!/^[a-z0-9_-]{1,40}$/.test(opts.sourceId)) throw argsError(`--source-id must be lower-case letters, digits, "_" or "-", got ${JSON.stringify(opts.sourceId)}`);
      const symbol = opts.symbol !== undefined ? parseSymbols(opts.symbol, '--symbol')?.[0] : undefined;
      const { policies } = policiesFor(cmd, state);
      const allowed = policies.pipeline_policy.values.timeframe_allowed;
      const timeframe = opts.timeframe !== undefined ? parseTimeframeOption(opts.timeframe, allowed) : undefined;
      const jobs = files.map((path) => {
        const named = classifyBarFileName(path.split(/[\\/]/).pop() ?? path);
        const s = symbol ?? named?.symbol;
        const tf = timeframe ?? named?.timeframe;
        if (!s || !tf) throw argsError(`${path}: cannot tell the symbol/timeframe from the file name; pass --symbol and --timeframe`, { file: path });
        if (!allowed.includes(tf)) throw argsError(`${path}: timeframe ${tf} is not in timeframe_allowed (${allowed.join(', ')})`, { file: path });
        return { path, symbol: s, timeframe: tf as Timeframe };
      });
      await withIngest(cmd, state, {}, async (ctx, out) => {
        let unreadable = 0;
        const results: ImportFileResult[] = [];
        for (const job of jobs) {
          try {
            const r = await importBarFile(ctx.runtime, { ...job, format, sourceId: opts.sourceId, ...(timeZone ? { timeZone } : {}) });
            results.push(r);
            out.record('import', { ...r }, humanImport(r));
          } catch (err) {
            if (!(err instanceof CliError) || err.id !== CLI_ERROR.FILE) throw err;
            unreadable += 1;
            out.record('import', { file: job.path, status: 'failed', error_id: err.id, message: err.message }, `${job.path}: FAILED ${err.id}: ${err.message}`);
          }
        }
        out.record(
          'import_summary',
          {
            files: jobs.length,
            failed_files: unreadable,
            accepted: results.reduce((a, r) => a + r.accepted, 0),
            rejected: results.reduce((a, r) => a + r.rejected, 0),
            inserted: results.reduce((a, r) => a + r.inserted, 0),
            unchanged: results.reduce((a, r) => a + r.unchanged, 0),
          },
          jobs.length > 1 ? `${jobs.length} file(s): ${results.reduce((a, r) => a + r.accepted, 0)} accepted, ${results.reduce((a, r) => a + r.rejected, 0)} rejected, ${unreadable} unreadable` : undefined,
        );
        if (ctx.mode !== 'cluster') out.note('noctria: bus messages of these bars stay in the ingest outbox; the embedded fleet (npm start) publishes them');
        if (unreadable > 0) state.code = EXIT.FAILED;
      });
    });

  ingest
    .command('backfill')
    .description('backfill bars from a provider: from each watermark (or --from) to --to / now, with progress')
    .option('--symbols <symbols...>', 'symbols (default: every leg of configs/universe.yaml)')
    .option('--timeframe <tf>', 'timeframe (default: timeframe_default of pipeline_policy)')
    .option('--from <date>', 'inclusive start, UTC date YYYY-MM-DD (default: watermark + 1 bar, else now − history_lookback_months)')
    .option('--to <date>', 'exclusive end, UTC date (default: the open of the current bar)')
    .addOption(new Option('--source <id>', 'provider').default('synthetic'))
    .option('--chunk-bars <n>', 'bars per provider request / store transaction')
    .action(async (opts: { symbols?: string[]; timeframe?: string; from?: string; to?: string; source: string; chunkBars?: string }, cmd: Command) => {
      const source = parseChoice(opts.source, '--source', ['synthetic', 'twelvedata'] as const);
      const { policies } = policiesFor(cmd, state);
      const pipeline = policies.pipeline_policy.values;
      const timeframe = parseTimeframeOption(opts.timeframe ?? pipeline.timeframe_default, pipeline.timeframe_allowed);
      const symbols = parseSymbols(opts.symbols);
      const fromMs = opts.from !== undefined ? parseDateOption(opts.from, '--from') : undefined;
      const toMs = opts.to !== undefined ? parseDateOption(opts.to, '--to') : undefined;
      if (fromMs !== undefined && toMs !== undefined) assertRange(fromMs, toMs);
      const chunkBars = opts.chunkBars !== undefined ? parseIntOption(opts.chunkBars, '--chunk-bars', 10, 50_000) : undefined;
      await withIngest(cmd, state, { INGEST_SOURCES: source }, async (ctx, out) => {
        const report = await runBackfill(
          ctx.runtime,
          { timeframes: [timeframe], ...(symbols ? { symbols } : {}), ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}), ...(chunkBars ? { chunkBars } : {}) },
          { progress: new Progress(io.stderr, 'backfill'), ...(io.signal ? { signal: io.signal } : {}) },
        );
        out.record('backfill', { ...report }, humanBackfill(report));
        if (report.status === 'interrupted') state.code = 130;
        else if (report.status !== 'succeeded') state.code = EXIT.FAILED;
      });
    });

  ingest
    .command('status')
    .description('watermarks, recent runs, DQ counters, quarantined months, outbox backlog')
    .option('--runs <n>', 'recent runs to show', '10')
    .action(async (opts: { runs: string }, cmd: Command) => {
      const runs = parseIntOption(opts.runs, '--runs', 0, 1000);
      await withIngest(cmd, state, {}, async (ctx, out) => {
        const s = await ingestStatus(ctx.runtime, { runs });
        out.record('status', { profile: ctx.mode, ...s }, [
          `profile: ${ctx.mode}`,
          'watermarks:',
          ...table(s.watermarks, ['symbol', 'timeframe', 'last_ts', 'bars', 'source_id']),
          `runs (latest ${runs}):`,
          ...table(
            s.runs.map((r) => ({ ...r, counts: `fetched=${r.counts['fetched'] ?? 0} inserted=${r.counts['inserted'] ?? 0} rejected=${r.counts['rejected'] ?? 0}` })),
            ['id', 'kind', 'source', 'status', 'started_at', 'counts'],
          ),
          'DQ counters (all runs):',
          ...table(s.dq, ['symbol', 'timeframe', 'months', 'expected', 'received', 'missing', 'outliers', 'spikes', 'duplicates_dropped', 'rejected', 'filled']),
          'quarantined months:',
          ...table(s.quarantine, ['symbol', 'timeframe', 'month', 'reason', 'since']),
          `outbox pending: ${s.outbox_pending}`,
        ]);
      });
    });

  // ── bars ───────────────────────────────────────────────────────────────────────
  const bars = program.command('bars').description('canonical bars');
  bars
    .command('export')
    .description('export one series in the partition layout {tf}/{symbol}/{YYYY}/{YYYY-MM}/{symbol}_{YYYY-MM-DD}.{parquet|csv} with __meta.json')
    .requiredOption('--symbol <symbol>', 'symbol')
    .option('--timeframe <tf>', 'timeframe (default: timeframe_default of pipeline_policy)')
    .option('--from <date>', 'inclusive start, UTC date (default: the first stored bar)')
    .option('--to <date>', 'exclusive end, UTC date (default: after the last stored bar)')
    .addOption(new Option('--format <format>', 'file format').default('parquet'))
    .requiredOption('--out <dir>', 'output root directory')
    .option('--exclude-quarantined', 'leave out the bar files of quarantined months (markers are still written)')
    .action(async (opts: { symbol: string; timeframe?: string; from?: string; to?: string; format: string; out: string; excludeQuarantined?: boolean }, cmd: Command) => {
      const format = parseChoice(opts.format, '--format', ['csv', 'parquet'] as const);
      const symbol = parseSymbols(opts.symbol, '--symbol')?.[0] as string;
      const { policies } = policiesFor(cmd, state);
      const pipeline = policies.pipeline_policy.values;
      const timeframe = parseTimeframeOption(opts.timeframe ?? pipeline.timeframe_default, pipeline.timeframe_allowed);
      const fromMs = opts.from !== undefined ? parseDateOption(opts.from, '--from') : undefined;
      const toMs = opts.to !== undefined ? parseDateOption(opts.to, '--to') : undefined;
      if (fromMs !== undefined && toMs !== undefined) assertRange(fromMs, toMs);
      await withIngest(cmd, state, {}, async (ctx, out) => {
        const report = await exportBars(
          ctx.runtime,
          pipeline,
          { symbol, timeframe, ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}), format, outDir: opts.out, excludeQuarantined: opts.excludeQuarantined === true },
          new Progress(io.stderr, 'export'),
        );
        const lines = humanExport(report);
        for (const [i, m] of report.months.entries()) out.record('export_month', { symbol, timeframe, ...m }, [lines[i]!]);
        const { manifest: _manifest, months, ...summary } = report;
        out.record('export', { ...summary, months: months.length }, lines.slice(report.months.length));
      });
    });

  // ── features ───────────────────────────────────────────────────────────────────
  program
    .command('features')
    .description('pair features of "特徴量仕様 v1" (the batch path of @noctria/features)')
    .command('compute')
    .description('the 21 features of a pair from two canonical-bar CSV files (ts_utc,open,high,low,close[,volume]); bad rows are reported with their file line and left out; legs inner-joined on ts_utc')
    .requiredOption('--a <file>', 'leg A bars (CSV)')
    .requiredOption('--b <file>', 'leg B bars (CSV)')
    .requiredOption('--out <file>', 'output CSV: ts_utc + the 21 feature columns, empty cells during warm-up')
    .option('--timeframe <tf>', 'timeframe of the bars (default: timeframe_default of pipeline_policy)')
    .option('--param <key=value...>', 'override a feature parameter of pipeline_policy, e.g. --param betaWindow=240 zWindow=120')
    .action(async (opts: { a: string; b: string; out: string; timeframe?: string; param?: string[] }, cmd: Command) => {
      const { policies } = policiesFor(cmd, state);
      const out = new Output(io, globalsOf(cmd).json === true);
      const pipeline = policies.pipeline_policy.values;
      const timeframe = parseTimeframeOption(opts.timeframe ?? pipeline.timeframe_default, pipeline.timeframe_allowed);
      const params = featureParamsFor(pipeline, opts.param);
      const result = await computeFeaturesFromFiles({ a: opts.a, b: opts.b, out: opts.out, timeframe, timeframeAllowed: pipeline.timeframe_allowed, params });
      reportFeatures(out, result, timeframe);
    });

  // ── labels ─────────────────────────────────────────────────────────────────────
  program
    .command('labels')
    .description('labels of "ラベリング仕様 v1" (AI1 reversion events, AI2 risk) from the pair features')
    .command('compute')
    .description('AI1 events (and the per-bar AI2 risk label) of a pair from two canonical-bar CSV files; input handling as in features compute')
    .requiredOption('--a <file>', 'leg A bars (CSV)')
    .requiredOption('--b <file>', 'leg B bars (CSV)')
    .requiredOption('--out <file>', 'AI1 events CSV: ts_utc,direction,outcome,end_ts_utc,end_reason')
    .option('--risk-out <file>', 'AI2 risk CSV per bar: ts_utc,risk,defined,corr,vol,speed,dd')
    .option('--timeframe <tf>', 'timeframe of the bars (default: timeframe_default of pipeline_policy)')
    .addOption(new Option('--calendar <calendar>', 'trading calendar for the 60-business-day drawdown window (default: calendar of universe.yaml)').choices(['24/5', '24/7']))
    .option('--param <key=value...>', 'override a feature parameter of pipeline_policy, e.g. --param betaWindow=240')
    .option('--label-param <key=value...>', 'override a label parameter of core_policy, e.g. --label-param zEntry=2.5 horizonBars=24')
    .action(async (opts: { a: string; b: string; out: string; riskOut?: string; timeframe?: string; calendar?: '24/5' | '24/7'; param?: string[]; labelParam?: string[] }, cmd: Command) => {
      const { policies } = policiesFor(cmd, state);
      const out = new Output(io, globalsOf(cmd).json === true);
      const pipeline = policies.pipeline_policy.values;
      const timeframe = parseTimeframeOption(opts.timeframe ?? pipeline.timeframe_default, pipeline.timeframe_allowed);
      const featureParams = featureParamsFor(pipeline, opts.param);
      const labelParams = labelParamsFor(policies.core_policy.values, timeframe, opts.calendar ?? policies.universe.values.calendar, opts.labelParam);
      const result = await computeLabelsFromFiles({
        a: opts.a,
        b: opts.b,
        out: opts.out,
        ...(opts.riskOut !== undefined ? { riskOut: opts.riskOut } : {}),
        timeframe,
        timeframeAllowed: pipeline.timeframe_allowed,
        featureParams,
        labelParams,
      });
      reportLabels(out, result, timeframe, labelParams);
    });

  // ── dataset ────────────────────────────────────────────────────────────────────
  program
    .command('dataset')
    .description('training dataset snapshots (features + AI1/AI2 labels + event metadata; Parquet per pair + manifest.json)')
    .command('build')
    .description('offline from two canonical-bar CSV files (--a --b --pair-id --out), or --remote from the running fleet\'s features service (cluster profile)')
    .option('--a <file>', 'offline: leg A bars (CSV ts_utc,open,high,low,close[,volume])')
    .option('--b <file>', 'offline: leg B bars (CSV)')
    .option('--pair-id <id>', 'offline: pair id written in the snapshot (legs from configs/universe.yaml when listed there)')
    .option('--out <dir>', 'directory the snapshot files are written to (required offline; with --remote: download them)')
    .option('--remote', 'ask the features service of the running fleet over the bus (rpc.features.snapshot)')
    .option('--pairs <ids...>', 'remote: pair ids (default: every pair of the timeframe)')
    .option('--timeframe <tf>', 'timeframe (default: timeframe_default of pipeline_policy)')
    .option('--from <date>', 'inclusive start, UTC date or RFC3339 (offline default: the first bar; required with --remote)')
    .option('--to <date>', 'exclusive end, UTC date or RFC3339 (offline default: after the last bar; required with --remote)')
    .option('--seed <n>', 'seed recorded in the manifest (for the trainer\'s splits)', '0')
    .addOption(new Option('--calendar <calendar>', 'offline: trading calendar (default: calendar of universe.yaml)').choices(['24/5', '24/7']))
    .option('--param <key=value...>', 'offline: override a feature parameter of pipeline_policy')
    .option('--label-param <key=value...>', 'override a label parameter of core_policy, e.g. --label-param zEntry=2.5')
    .option('--timeout <seconds>', 'remote: how long to wait for the build', '600')
    .action(
      async (
        opts: { a?: string; b?: string; pairId?: string; out?: string; remote?: boolean; pairs?: string[]; timeframe?: string; from?: string; to?: string; seed: string; calendar?: '24/5' | '24/7'; param?: string[]; labelParam?: string[]; timeout: string },
        cmd: Command,
      ) => {
        const { env, policies } = policiesFor(cmd, state);
        const out = new Output(io, globalsOf(cmd).json === true);
        const pipeline = policies.pipeline_policy.values;
        const timeframe = parseTimeframeOption(opts.timeframe ?? pipeline.timeframe_default, pipeline.timeframe_allowed);
        const seed = parseIntOption(opts.seed, '--seed', 0, 2 ** 31 - 1);
        const fromMs = opts.from !== undefined ? parseDateOption(opts.from, '--from') : undefined;
        const toMs = opts.to !== undefined ? parseDateOption(opts.to, '--to') : undefined;
        if (fromMs !== undefined && toMs !== undefined) assertRange(fromMs, toMs);
        const calendar = opts.calendar ?? policies.universe.values.calendar;
        const labelParams = labelParamsFor(policies.core_policy.values, timeframe, calendar, opts.labelParam);
        if (opts.remote) {
          if (opts.a !== undefined || opts.b !== undefined || opts.pairId !== undefined || opts.param !== undefined) throw argsError('--remote takes --pairs, not --a/--b/--pair-id/--param (the service uses its stored bars and parameters)');
          if (fromMs === undefined || toMs === undefined) throw argsError('--remote needs --from and --to');
          const overrides: Record<string, number> = {};
          for (const kv of (opts.labelParam ?? []).flatMap((x) => x.split(',')).filter((x) => x.trim() !== '')) {
            const [k, v] = kv.split('=');
            overrides[k!.trim()] = Number(v);
          }
          const pairs = opts.pairs?.flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
          const result = await buildDatasetRemote(
            env,
            {
              body: { timeframe, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), seed, ...(pairs && pairs.length > 0 ? { pairs } : {}), ...(Object.keys(overrides).length > 0 ? { label_params: overrides } : {}) },
              ...(opts.out !== undefined ? { out: opts.out } : {}),
              timeoutMs: parseIntOption(opts.timeout, '--timeout', 1, 86_400) * 1000,
            },
            (s) => out.note(s),
          );
          reportDataset(out, result);
          return;
        }
        if (opts.a === undefined || opts.b === undefined || opts.pairId === undefined || opts.out === undefined) throw argsError('dataset build needs --a, --b, --pair-id and --out (or --remote)');
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.pairId)) throw argsError(`--pair-id must be [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(opts.pairId)}`);
        const listed = policies.universe.values.pairs.find((p) => p.pair_id === opts.pairId);
        const result = await buildDatasetOffline({
          a: opts.a,
          b: opts.b,
          pairId: opts.pairId,
          legs: listed ? [listed.leg_A.canonical_symbol, listed.leg_B.canonical_symbol] : ['A', 'B'],
          out: opts.out,
          timeframe,
          timeframeAllowed: pipeline.timeframe_allowed,
          ...(fromMs !== undefined ? { fromMs } : {}),
          ...(toMs !== undefined ? { toMs } : {}),
          calendar,
          dq: { missing_fill_max_run: pipeline.missing_fill_max_run, outlier_sigma: pipeline.outlier_sigma, dq_spike_k: pipeline.dq_spike_k },
          featureParams: featureParamsFor(pipeline, opts.param),
          labelParams,
          seed,
          codeVersion: codeVersion(envOf(io)),
        });
        reportDataset(out, result);
      },
    );

  // ── config ─────────────────────────────────────────────────────────────────────
  program
    .command('config')
    .description('policy files (configs/*.yaml)')
    .command('validate')
    .description('validate every policy file against its JSON Schema and the cross-rules (exit 78 with each problem when refused)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { env, policies } = policiesFor(cmd, state);
      const out = new Output(io, globalsOf(cmd).json === true);
      const files = Object.values(policies).map((p) => ({ policy: p.name, path: p.path, sha256: p.sha256 }));
      out.record('config_valid', { dir: env.NOCTRIA_CONFIG_DIR, files }, [
        `${files.length} policy files in ${env.NOCTRIA_CONFIG_DIR} are valid (schemas and cross-rules)`,
        ...table(files, ['policy', 'sha256']),
      ]);
    });

  return program;
}

/** Runs the CLI; resolves with the exit code. Never throws, never calls process.exit. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const state: State = { io, code: EXIT.OK };
  const program = buildProgram(state);
  const json = argv.includes('--json');
  const out = new Output(io, json);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ARGS;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return err.exitCode === 0 ? EXIT.OK : EXIT.ARGS;
      if (err.code === 'commander.executeSubCommandAsync') return EXIT.FAILED;
      const message = err.message.replace(/^error: /, '');
      out.error(CLI_ERROR.ARGS, message, { commander: err.code });
      return EXIT.ARGS;
    }
    if (err instanceof CliError) {
      out.error(err.id, err.message, err.details);
      return err.exitCode;
    }
    if (err instanceof NoctriaError) {
      out.error(err.id, err.message, err.details);
      return EXIT.FAILED;
    }
    const e = err as Error;
    out.error(CLI_ERROR.FAILED, e?.message ?? String(err));
    return EXIT.FAILED;
  }
}
