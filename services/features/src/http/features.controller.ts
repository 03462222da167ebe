import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NoctriaError, reportError } from '@noctria/platform';
import { FEATURES_ERROR } from '../errors.js';
import { FeaturesRuntime } from '../features.runtime.js';
import { ApiResponseDto, fail, ok, requestId } from './api-response.js';
import { statusReply, vectorsQuerySchema, vectorsReply } from './schemas.js';

const STATUS: Record<string, number> = { [FEATURES_ERROR.BAD_REQUEST]: 400, [FEATURES_ERROR.NOT_FOUND]: 404 };

/** Runs `fn` and answers in the ApiResponse wrapper; errors are reported and mapped to a status code. */
async function respond(rt: FeaturesRuntime, req: FastifyRequest, reply: FastifyReply, fn: () => Promise<unknown>): Promise<void> {
  const rid = requestId(req.headers as Record<string, unknown>);
  try {
    const data = await fn();
    await reply.status(200).header('x-request-id', rid).send(ok(data, rid));
  } catch (err) {
    const wrapped = err instanceof z.ZodError ? new NoctriaError(FEATURES_ERROR.BAD_REQUEST, err.issues.map((i) => `${i.path.join('.') || '(query)'}: ${i.message}`).join('; '), { severity: 'INFO' }) : err;
    const e = reportError(wrapped, { logger: rt.logger, registry: rt.registry, fallbackId: FEATURES_ERROR.STORE, context: { event: 'http_failed', url: req.url } });
    await reply.status(STATUS[e.id] ?? 500).header('x-request-id', rid).send(fail(e.id, e.message, rid));
  }
}

@ApiTags('features')
@Controller()
export class FeaturesController {
  constructor(@Inject(FeaturesRuntime) private readonly rt: FeaturesRuntime) {}

  @Get('features/status')
  @ApiOperation({ summary: 'Per pair × timeframe: bars seen, newest bar, lag, warm-up state, last quality flag and z' })
  @ApiOkResponse({ type: ApiResponseDto })
  async status(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => statusReply(this.rt, (this.rt.options.now ?? Date.now)()));
  }

  @Get('features/vectors')
  @ApiOperation({ summary: 'Stored feature vectors of one pair × timeframe for a period, as rows keyed by feature name (null = warm-up), paginated by cursor' })
  @ApiQuery({ name: 'pair_id', example: 'XAUUSD_XAGUSD' })
  @ApiQuery({ name: 'timeframe', example: '1h' })
  @ApiQuery({ name: 'from', required: false, description: 'inclusive, RFC3339' })
  @ApiQuery({ name: 'to', required: false, description: 'exclusive, RFC3339' })
  @ApiQuery({ name: 'limit', required: false, description: '1–10000, default 1000' })
  @ApiQuery({ name: 'cursor', required: false, description: 'next_cursor of the previous page' })
  @ApiQuery({ name: 'complete_only', required: false, description: 'true: leave warm-up vectors out' })
  @ApiQuery({ name: 'schema_hash', required: false, description: 'another feature schema hash (default: the active one)' })
  @ApiOkResponse({ type: ApiResponseDto })
  async vectors(@Query() q: Record<string, string>, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => vectorsReply(this.rt, vectorsQuerySchema.parse(q)));
  }
}
