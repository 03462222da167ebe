import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { subjects } from '@noctria/contracts';
import { NoctriaError, reportError, type BusMessage, type Logger, type ShutdownCoordinator } from '@noctria/platform';
import type { Registry } from 'prom-client';
import { FEATURES_ERROR } from '../errors.js';
import { fail, ok } from '../http/api-response.js';
import type { DatasetService } from './dataset.service.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * `rpc.features.snapshot` (JSON in the ApiResponse wrapper): a build request {pairs?, timeframe, from, to,
 * label_params?, seed?} → the snapshot (status building | ready, manifest ref + sha256), or `{snapshot_id}` → its
 * current state. Errors are answered with their id, never crash the handler.
 */
export async function registerDatasetRpc(datasets: DatasetService, deps: { shutdown: ShutdownCoordinator; logger: Logger; registry: Registry; prefix: string }): Promise<void> {
  await deps.shutdown.reply(
    subjects(deps.prefix).rpc('features', 'snapshot'),
    async (msg: BusMessage) => {
      const rid = msg.headers['x-request-id'] ?? randomUUID();
      try {
        const body: unknown = msg.data.length === 0 ? {} : JSON.parse(dec.decode(msg.data));
        return enc.encode(JSON.stringify(ok(await datasets.handle(body), rid)));
      } catch (err) {
        const wrapped =
          err instanceof z.ZodError
            ? new NoctriaError(FEATURES_ERROR.BAD_REQUEST, err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '), { severity: 'INFO' })
            : err instanceof SyntaxError
              ? new NoctriaError(FEATURES_ERROR.BAD_REQUEST, err.message, { severity: 'INFO' })
              : err;
        const e = reportError(wrapped, { logger: deps.logger, registry: deps.registry, fallbackId: FEATURES_ERROR.BAD_REQUEST, context: { event: 'rpc_failed', subject: msg.subject } });
        return enc.encode(JSON.stringify(fail(e.id, e.message, rid)));
      }
    },
    { queue: 'features' },
  );
}
