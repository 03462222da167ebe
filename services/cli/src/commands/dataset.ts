/**
 * `noctria dataset build`: a training dataset snapshot (features + AI1/AI2 labels + event metadata, one Parquet file
 * per pair and `manifest.json`).
 *
 * - offline (`--a/--b/--pair-id/--out`): from two canonical-bar CSV files, with the snapshot writer of the features
 *   service (`buildSnapshot`), so the files are byte-identical to what the service stores for the same bars,
 *   parameters and request.
 * - `--remote`: asks the running fleet's features service (`rpc.features.snapshot` over NATS, cluster profile),
 *   waits until the snapshot is ready, reads the manifest (and with `--out` every file) through the ArtifactStore,
 *   checking each sha256.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Calendar, Timeframe } from '@noctria/canonical-bar';
import { subjects } from '@noctria/contracts';
import { featureSchemaHash, FeatureError, type FeatureParams, type LabelParams } from '@noctria/features';
import { buildSnapshot, canonicalJson, codeVersion, sha256Hex, snapshotIdOf, SNAPSHOT_FORMAT, type SnapshotManifest, type SnapshotView } from '@noctria/features-service';
import { createArtifactStore, JetStreamBus, type ArtifactRef } from '@noctria/platform';
import type { CliEnv } from '../context.js';
import { argsError, CliError, CLI_ERROR, EXIT, type Output } from '../io.js';
import { featureErrorText, humanInput, inputSummary, readPair, type PairInput } from './features.js';

export interface OfflineDatasetRequest {
  a: string;
  b: string;
  pairId: string;
  legs: [string, string];
  out: string;
  timeframe: Timeframe;
  timeframeAllowed: readonly string[];
  fromMs?: number;
  toMs?: number;
  calendar: Calendar;
  dq: { missing_fill_max_run: number; outlier_sigma: number; dq_spike_k: number };
  featureParams: FeatureParams;
  labelParams: LabelParams;
  seed: number;
  /** Recorded in the manifest (default: codeVersion() of the process environment). */
  codeVersion?: string;
}

export interface DatasetResult {
  snapshotId: string;
  dir?: string;
  manifest: SnapshotManifest;
  files: { name: string; sha256: string; bytes: number }[];
  input?: PairInput;
  view?: SnapshotView;
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new CliError(CLI_ERROR.FILE, `${path}: ${(err as NodeJS.ErrnoException).code ?? 'cannot write'}`, EXIT.FAILED, { path });
  }
}

async function writeFiles(dir: string, files: readonly { name: string; bytes: Uint8Array }[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeAtomically(join(dir, f.name), f.bytes);
}

/** Offline build from two CSV files; the request is keyed like the service's, so equal requests get equal ids. */
export async function buildDatasetOffline(req: OfflineDatasetRequest): Promise<DatasetResult> {
  const input = await readPair(req.a, req.b, req.timeframe, req.timeframeAllowed);
  if (input.series.tsMs.length === 0) throw new CliError(CLI_ERROR.FILE, `${req.a} and ${req.b} have no bar time in common`, EXIT.FAILED);
  const tfMs = input.series.tsMs.length > 1 ? input.series.tsMs[1]! - input.series.tsMs[0]! : 0;
  const fromMs = req.fromMs ?? input.series.tsMs[0]!;
  const toMs = req.toMs ?? input.series.tsMs[input.series.tsMs.length - 1]! + Math.max(tfMs, 1);
  if (!(fromMs < toMs)) throw argsError('--from must be before --to', { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
  const dq = { ...req.dq, calendar: req.calendar };
  const canonical = {
    format: SNAPSHOT_FORMAT,
    timeframe: req.timeframe,
    pairs: [{ pair_id: req.pairId, legs: req.legs }],
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    feature_schema_hash: featureSchemaHash(req.featureParams),
    label_params: req.labelParams,
    dq,
    seed: req.seed,
  };
  const snapshotId = snapshotIdOf(sha256Hex(canonicalJson(canonical)));
  let built;
  try {
    built = buildSnapshot(snapshotId, [{ pairId: req.pairId, symbolA: req.legs[0], symbolB: req.legs[1], a: input.a.bars, b: input.b.bars }], {
      timeframe: req.timeframe,
      fromMs,
      toMs,
      featureParams: req.featureParams,
      labelParams: req.labelParams,
      dq,
      seed: req.seed,
      codeVersion: req.codeVersion ?? codeVersion(),
    });
  } catch (err) {
    if (err instanceof FeatureError) throw new CliError(err.id, featureErrorText(err), EXIT.FAILED);
    throw err;
  }
  if (built.manifest.rows === 0) {
    throw new CliError('DATA_FEATURES_NODATA', `no usable rows in [${canonical.from}, ${canonical.to}) (${built.manifest.pairs[0]?.input_bars ?? 0} aligned bars before the end; a segment needs the full warm-up)`, EXIT.FAILED);
  }
  await writeFiles(req.out, built.files);
  return { snapshotId, dir: req.out, manifest: built.manifest, files: built.files.map((f) => ({ name: f.name, sha256: f.sha256, bytes: f.bytes.byteLength })), input };
}

export interface RemoteDatasetRequest {
  body: { pairs?: string[]; timeframe: string; from: string; to: string; seed: number; label_params?: Record<string, number> };
  out?: string;
  timeoutMs: number;
  pollMs?: number;
}

type ApiReply = { status: 'ok' | 'error'; data: SnapshotView | null; error: { id: string; message: string } | null };

/** Asks the features service of the running fleet (cluster profile: NATS_URL) for a snapshot and waits for it. */
export async function buildDatasetRemote(env: CliEnv, req: RemoteDatasetRequest, note: (s: string) => void): Promise<DatasetResult> {
  if (!env.NATS_URL || env.NOCTRIA_PROFILE === 'embedded') {
    throw argsError('--remote needs the cluster profile (NATS_URL): the bus of the embedded fleet lives inside its `npm start` process; build offline with --a/--b instead');
  }
  const bus = await JetStreamBus.connect({ servers: env.NATS_URL.split(',').map((s) => s.trim()), name: 'noctria-cli-dataset' });
  try {
    const prefix = env.NOCTRIA_BUS_PREFIX ? `${env.NOCTRIA_BUS_PREFIX}.` : '';
    const subject = subjects(prefix).rpc('features', 'snapshot');
    const ask = async (body: unknown): Promise<SnapshotView> => {
      let r: ApiReply;
      try {
        const msg = await bus.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeoutMs: 30_000 });
        r = JSON.parse(new TextDecoder().decode(msg.data)) as ApiReply;
      } catch (err) {
        throw new CliError(CLI_ERROR.FAILED, `features service did not answer on ${subject}: ${(err as Error).message}`, EXIT.FAILED);
      }
      if (r.status !== 'ok' || r.data === null) throw new CliError(r.error?.id ?? CLI_ERROR.FAILED, r.error?.message ?? 'features service error', EXIT.FAILED);
      return r.data;
    };
    let view = await ask(req.body);
    const deadline = Date.now() + req.timeoutMs;
    if (view.status === 'building') note(`noctria: snapshot ${view.snapshot_id} is building…`);
    while (view.status === 'building') {
      if (Date.now() > deadline) throw new CliError(CLI_ERROR.FAILED, `snapshot ${view.snapshot_id} still building after ${req.timeoutMs} ms (ask again later: the same request returns it)`, EXIT.FAILED);
      await new Promise((r) => setTimeout(r, req.pollMs ?? 500));
      view = await ask({ snapshot_id: view.snapshot_id });
    }
    if (view.status === 'failed' || view.manifest === null) throw new CliError(view.error?.id ?? CLI_ERROR.FAILED, view.error?.message ?? 'snapshot failed', EXIT.FAILED);
    const store = await createArtifactStore({ ...env, NOCTRIA_PROFILE: 'cluster' }, bus);
    try {
      const read = async (ref: ArtifactRef) => {
        const bytes = await store.get(ref);
        if (sha256Hex(bytes) !== ref.sha256) throw new CliError(CLI_ERROR.FAILED, `${ref.name}: sha256 differs from the reference`, EXIT.FAILED);
        return bytes;
      };
      const manifestBytes = await read(view.manifest);
      const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as SnapshotManifest;
      const files = view.artifacts.map((a) => ({ name: a.name.split('/').pop()!, sha256: a.sha256, bytes: a.size }));
      if (req.out !== undefined) {
        const all = [];
        for (const ref of view.artifacts) all.push({ name: ref.name.split('/').pop()!, bytes: ref.sha256 === view.manifest.sha256 ? manifestBytes : await read(ref) });
        await writeFiles(req.out, all);
      }
      return { snapshotId: view.snapshot_id, ...(req.out !== undefined ? { dir: req.out } : {}), manifest, files, view };
    } finally {
      await store.close();
    }
  } finally {
    await bus.close();
  }
}

export function reportDataset(out: Output, r: DatasetResult): void {
  const m = r.manifest;
  out.record(
    'dataset',
    {
      snapshot_id: r.snapshotId,
      ...(r.dir !== undefined ? { dir: r.dir } : {}),
      files: r.files,
      ...(r.view ? { status: r.view.status, manifest_ref: r.view.manifest, integrity: r.view.integrity } : {}),
      ...(r.input ? inputSummary(r.input) : {}),
      manifest: m,
    },
    [
      ...(r.input ? humanInput(r.input) : []),
      `snapshot ${r.snapshotId}: ${m.rows} rows of ${m.pairs.map((p) => p.pair_id).join(', ')} ${m.timeframe} in [${m.period.from}, ${m.period.to})`,
      ...m.pairs.map((p) => `  ${p.pair_id}: ${p.rows} rows (${p.rows_features_complete} complete), ${p.ai1_events} AI1 events, ${p.ai1_trainable}/${p.ai2_trainable} trainable AI1/AI2, data ${p.data_hash.slice(0, 12)}…`),
      `feature schema ${m.feature_schema_hash.slice(0, 12)}…, data hash ${m.data_hash.slice(0, 12)}…, code ${m.code_version}`,
      ...r.files.map((f) => `  ${r.dir !== undefined ? join(r.dir, f.name) : f.name}  sha256 ${f.sha256}  ${f.bytes} bytes`),
    ],
  );
}
