import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { subjects } from '@noctria/contracts';
import { NoctriaError, reportError, type BusMessage, type ShutdownCoordinator } from '@noctria/platform';
import { FEATURES_ERROR } from '../errors.js';
import { fail, ok } from '../http/api-response.js';
import { statusReply, vectorsQuerySchema, vectorsReply } from '../http/schemas.js';
import type { FeaturesRuntime } from '../features.runtime.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * `rpc.features.*` request/reply (JSON in the ApiResponse wrapper): status (every series) and export (vectors of one
 * series for a period as rows). `rpc.features.snapshot` (dataset snapshots through the ArtifactStore) is not
 * served by this module. A bad request is answered with an error, never crashes the handler.
 */
export async function registerRpcHandlers(rt: FeaturesRuntime, shutdown: ShutdownCoordinator, prefix: string): Promise<void> {
  const s = subjects(prefix);
  const handle = (verb: string, fn: (body: unknown) => Promise<unknown>) =>
    shutdown.reply(
      s.rpc('features', verb),
      async (msg: BusMessage) => {
        const rid = msg.headers['x-request-id'] ?? randomUUID();
        try {
          const body: unknown = msg.data.length === 0 ? {} : JSON.parse(dec.decode(msg.data));
          return enc.encode(JSON.stringify(ok(await fn(body), rid)));
        } catch (err) {
          const e = reportError(err instanceof z.ZodError || err instanceof SyntaxError ? new NoctriaError(FEATURES_ERROR.BAD_REQUEST, err.message, { severity: 'INFO' }) : err, {
            logger: rt.logger,
            registry: rt.registry,
            fallbackId: FEATURES_ERROR.BAD_REQUEST,
            context: { event: 'rpc_failed', subject: msg.subject },
          });
          return enc.encode(JSON.stringify(fail(e.id, e.message, rid)));
        }
      },
      { queue: 'features' },
    );

  await handle('status', async () => statusReply(rt, (rt.options.now ?? Date.now)()));
  await handle('export', async (body) => vectorsReply(rt, vectorsQuerySchema.parse(body)));
}
