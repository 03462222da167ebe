import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { subjects } from '@noctria/contracts';
import { NoctriaError, reportError, type BusMessage, type ShutdownCoordinator } from '@noctria/platform';
import { INGEST_ERROR } from '../errors.js';
import { fail, ok } from '../http/api-response.js';
import type { IngestRuntime } from '../ingest.runtime.js';
import { backfillBodySchema, exportBodySchema, exportReply, toBackfillRequest, toExportRequest } from '../http/schemas.js';

const statusSchema = z.object({ run_id: z.string().min(1).max(100) });
const filterSchema = z.object({ symbol: z.string().optional(), timeframe: z.string().optional() }).default({});

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * `rpc.ingest.*` request/reply (JSON in the ApiResponse wrapper): backfill (starts a run, replies with its id),
 * status (a run), watermarks, quarantine, export (writes the partition layout under the artefact root, replies with
 * the manifest reference and sha256 — see ExportService). A bad request is answered with an error, never crashes
 * the handler.
 */
export async function registerRpcHandlers(rt: IngestRuntime, shutdown: ShutdownCoordinator, prefix: string): Promise<void> {
  const s = subjects(prefix);
  const handle = (verb: string, fn: (body: unknown) => Promise<unknown>) =>
    shutdown.reply(s.rpc('ingest', verb), async (msg: BusMessage) => {
      const rid = msg.headers['x-request-id'] ?? randomUUID();
      try {
        const body: unknown = msg.data.length === 0 ? {} : JSON.parse(dec.decode(msg.data));
        return enc.encode(JSON.stringify(ok(await fn(body), rid)));
      } catch (err) {
        const e = reportError(err instanceof z.ZodError || err instanceof SyntaxError ? new NoctriaError(INGEST_ERROR.BAD_REQUEST, err.message, { severity: 'INFO' }) : err, {
          logger: rt.logger,
          registry: rt.registry,
          fallbackId: INGEST_ERROR.BAD_REQUEST,
          context: { event: 'rpc_failed', subject: msg.subject },
        });
        return enc.encode(JSON.stringify(fail(e.id, e.message, rid)));
      }
    }, { queue: 'ingest' });

  await handle('backfill', async (body) => {
    const req = toBackfillRequest(backfillBodySchema.parse(body));
    const { runId } = await rt.backfill.start(req);
    return { run_id: runId };
  });
  await handle('status', async (body) => {
    const { run_id } = statusSchema.parse(body);
    const run = await rt.pipeline.runs.get(run_id);
    if (!run) throw new NoctriaError(INGEST_ERROR.NOT_FOUND, `run ${run_id} not found`, { severity: 'INFO' });
    return run;
  });
  await handle('watermarks', async (body) => rt.pipeline.watermarks.list(filterSchema.parse(body)));
  await handle('quarantine', async (body) => rt.quarantine.list({ ...filterSchema.parse(body), activeOnly: true }));
  await handle('export', async (body) => exportReply(await rt.exports.export(toExportRequest(exportBodySchema.parse(body)))));
}
