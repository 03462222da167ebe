import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createRedisMock } from '../../src/cache/index.js';
import { InProcessBus, type Bus } from '../../src/bus/index.js';
import { checkReadiness, readinessChecks } from '../../src/health/index.js';

describe('readiness checks', () => {
  it('reports each target up or down; a hanging probe is down after the timeout; absent targets are not checked', async () => {
    const cache = createRedisMock({ namespace: randomUUID() });
    const bus = new InProcessBus();
    const up = await checkReadiness(readinessChecks({ bus, cache }, 200));
    expect(up).toEqual({ ready: true, checks: { bus: 'up', cache: 'up' } });

    const hanging = { ping: () => new Promise<boolean>(() => undefined) } as unknown as Bus;
    const failing = { ping: () => Promise.reject(new Error('closed')) } as unknown as Bus;
    expect(await checkReadiness(readinessChecks({ bus: hanging, cache }, 50))).toEqual({ ready: false, checks: { bus: 'down', cache: 'up' } });
    expect(await checkReadiness(readinessChecks({ bus: failing }, 50))).toEqual({ ready: false, checks: { bus: 'down' } });
    await bus.close();
    cache.disconnect();
  });
});
