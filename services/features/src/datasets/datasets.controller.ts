import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NoctriaError, reportError } from '@noctria/platform';
import { FEATURES_ERROR } from '../errors.js';
import { FeaturesRuntime } from '../features.runtime.js';
import { ApiResponseDto, fail, ok, requestId } from '../http/api-response.js';
import { DatasetService, snapshotQuerySchema } from './dataset.service.js';
import { DATASET_ERROR } from './errors.js';

const STATUS: Record<string, number> = {
  [FEATURES_ERROR.BAD_REQUEST]: 400,
  [FEATURES_ERROR.NOT_FOUND]: 404,
  [DATASET_ERROR.NODATA]: 422,
  [DATASET_ERROR.INTEGRITY]: 500,
};

/** Dataset snapshots over HTTP: build (or find) one, read one, list them. Same bodies as rpc.features.snapshot. */
@ApiTags('features')
@Controller('features/snapshots')
export class DatasetsController {
  constructor(
    @Inject(DatasetService) private readonly datasets: DatasetService,
    @Inject(FeaturesRuntime) private readonly rt: FeaturesRuntime,
  ) {}

  private async respond(req: FastifyRequest, reply: FastifyReply, fn: () => Promise<unknown>): Promise<void> {
    const rid = requestId(req.headers as Record<string, unknown>);
    try {
      await reply.status(200).header('x-request-id', rid).send(ok(await fn(), rid));
    } catch (err) {
      const wrapped = err instanceof z.ZodError ? new NoctriaError(FEATURES_ERROR.BAD_REQUEST, err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '), { severity: 'INFO' }) : err;
      const e = reportError(wrapped, { logger: this.rt.logger, registry: this.rt.registry, fallbackId: DATASET_ERROR.SNAPSHOT, context: { event: 'http_failed', url: req.url } });
      await reply.status(STATUS[e.id] ?? 500).header('x-request-id', rid).send(fail(e.id, e.message, rid));
    }
  }

  @Post()
  @ApiOperation({ summary: 'Build a training dataset snapshot (features + AI1/AI2 labels) of a pair set and period, or return the existing one of the same request; status building until ready' })
  @ApiBody({ schema: { type: 'object', example: { pairs: ['XAUUSD_XAGUSD'], timeframe: '1h', from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z', seed: 0 } } })
  @ApiOkResponse({ type: ApiResponseDto })
  async build(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.respond(req, reply, () => this.datasets.request(body ?? {}));
  }

  @Get()
  @ApiOperation({ summary: 'Dataset snapshots, newest first' })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000, default 100' })
  @ApiOkResponse({ type: ApiResponseDto })
  async list(@Query('limit') limit: string | undefined, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.respond(req, reply, async () => ({ snapshots: await this.datasets.list(z.coerce.number().int().min(1).max(1000).default(100).parse(limit)) }));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dataset snapshot: status, manifest reference and sha256, hashes' })
  @ApiParam({ name: 'id', example: 'ds-0123456789abcdef0123456789abcdef' })
  @ApiOkResponse({ type: ApiResponseDto })
  async get(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.respond(req, reply, () => this.datasets.get(snapshotQuerySchema.parse({ snapshot_id: id }).snapshot_id));
  }
}
