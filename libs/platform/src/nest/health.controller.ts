import { Controller, Get, Header, Inject, Optional } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ApiExcludeEndpoint, ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Kysely } from 'kysely';
import { Registry } from 'prom-client';
import type { Bus } from '../bus/bus.port.js';
import type { Cache } from '../cache/cache.js';
import { readinessChecks, type ReadinessCheck } from '../health/readiness.js';
import { BUS, CACHE, KYSELY, METRICS_REGISTRY, SERVICE_NAME } from './tokens.js';

/** Probe timeout of each /readyz check. */
export const READINESS_TIMEOUT_MS = 2_000;

@ApiTags('health')
@Controller()
export class HealthController {
  private readonly checks: ReadinessCheck[];

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(BUS) bus: Bus,
    @Inject(CACHE) cache: Cache,
    @Optional() @Inject(KYSELY) db?: Kysely<unknown>,
  ) {
    this.checks = readinessChecks({ db, bus, cache }, READINESS_TIMEOUT_MS);
  }

  /** Liveness: the process is up and its event loop answers. */
  @Get('healthz')
  @ApiOkResponse({ description: 'process is alive' })
  healthz(): { status: 'ok'; service: string; uptime_s: number } {
    return { status: 'ok', service: this.service, uptime_s: Math.round(process.uptime()) };
  }

  /** Readiness: database `select 1`, bus ping and cache PING; 503 naming the failed ones. */
  @Get('readyz')
  @HealthCheck()
  @ApiOkResponse({ description: 'database, bus and cache reachable' })
  @ApiServiceUnavailableResponse({ description: '`error` names the unreachable dependency' })
  readyz() {
    return this.health.check(
      this.checks.map((check) => async (): Promise<HealthIndicatorResult> => {
        const session = this.indicators.check(check.name);
        return (await check.probe()) ? session.up() : session.down({ message: `${check.name} unreachable` });
      }),
    );
  }

  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  async metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
