import { describe, expect, it } from '@jest/globals';
import {
  createMetricsRegistry,
  getOrCreateCounter,
  getOrCreateGauge,
  getOrCreateHistogram,
} from '../../src/metrics/index.js';

describe('metrics registry', () => {
  it('collects default metrics and labels every series with the service', async () => {
    const registry = createMetricsRegistry({ service: 'svc-a' });
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="svc-a"\} /m);
    expect(text).toMatch(/^nodejs_heap_size_total_bytes\{service="svc-a"\} /m);
    const bare = createMetricsRegistry({ service: 'svc-b', defaultMetrics: false });
    expect((await bare.metrics()).trim()).toBe('');
  });

  it('getOrCreate* returns the already-registered metric instead of throwing', async () => {
    const registry = createMetricsRegistry({ service: 'svc', defaultMetrics: false });
    const a = getOrCreateCounter(registry, { name: 'jobs_total', help: 'jobs', labelNames: ['kind'] as const });
    const b = getOrCreateCounter(registry, { name: 'jobs_total', help: 'jobs', labelNames: ['kind'] as const });
    expect(b).toBe(a);
    a.inc({ kind: 'x' });
    b.inc({ kind: 'x' }, 2);
    expect(await registry.metrics()).toContain('jobs_total{kind="x",service="svc"} 3');
    const g = getOrCreateGauge(registry, { name: 'lag', help: 'lag' });
    expect(getOrCreateGauge(registry, { name: 'lag', help: 'lag' })).toBe(g);
    const h = getOrCreateHistogram(registry, { name: 'dur_seconds', help: 'd', buckets: [1] });
    expect(getOrCreateHistogram(registry, { name: 'dur_seconds', help: 'd' })).toBe(h);
    expect(() => getOrCreateGauge(registry, { name: 'jobs_total', help: 'jobs' })).toThrow(/another type/);
    const other = createMetricsRegistry({ service: 'svc2', defaultMetrics: false });
    expect(getOrCreateCounter(other, { name: 'jobs_total', help: 'jobs' })).not.toBe(a);
  });
});
