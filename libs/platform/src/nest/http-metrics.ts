import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { getOrCreateHistogram } from '../metrics/registry.js';

export const HTTP_DURATION_METRIC = 'noctria_http_request_duration_seconds';

/** Request duration histogram by method, route pattern (never the raw URL) and status code. */
export function installHttpMetrics(fastify: FastifyInstance, registry: Registry): void {
  const histogram = getOrCreateHistogram(registry, {
    name: HTTP_DURATION_METRIC,
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  fastify.addHook('onResponse', async (request, reply) => {
    histogram.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
}
