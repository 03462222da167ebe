import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NoctriaError, reportError } from '@noctria/platform';
import { INGEST_ERROR } from '../errors.js';
import { IngestRuntime } from '../ingest.runtime.js';
import { rowToBar } from '../repositories/bars.repository.js';
import { DqRepository } from '../repositories/dq.repository.js';
import { ApiResponseDto, fail, ok, requestId } from './api-response.js';
import {
  BackfillBodyDto,
  ExportBodyDto,
  ImportBodyDto,
  backfillBodySchema,
  barsQuerySchema,
  exportBodySchema,
  exportReply,
  importBodySchema,
  importReply,
  toBackfillRequest,
  toExportRequest,
  toImportRequest,
} from './schemas.js';

const STATUS: Record<string, number> = { [INGEST_ERROR.BAD_REQUEST]: 400, [INGEST_ERROR.NOT_FOUND]: 404, [INGEST_ERROR.IMPORT]: 422 };

/** Runs `fn` and answers in the ApiResponse wrapper; errors are reported and mapped to a status code. */
async function respond(rt: IngestRuntime, req: FastifyRequest, reply: FastifyReply, fn: () => Promise<unknown>, okStatus = 200): Promise<void> {
  const rid = requestId(req.headers as Record<string, unknown>);
  try {
    const data = await fn();
    await reply.status(okStatus).header('x-request-id', rid).send(ok(data, rid));
  } catch (err) {
    const wrapped = err instanceof z.ZodError ? new NoctriaError(INGEST_ERROR.BAD_REQUEST, err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '), { severity: 'INFO' }) : err;
    const e = reportError(wrapped, { logger: rt.logger, registry: rt.registry, fallbackId: INGEST_ERROR.STORE, context: { event: 'http_failed', url: req.url } });
    await reply.status(STATUS[e.id] ?? 500).header('x-request-id', rid).send(fail(e.id, e.message, rid));
  }
}

@ApiTags('ingest')
@Controller()
export class IngestController {
  constructor(@Inject(IngestRuntime) private readonly rt: IngestRuntime) {}

  @Post('ingest/backfill')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a backfill run (async); returns its run id' })
  @ApiBody({ type: BackfillBodyDto })
  @ApiOkResponse({ type: ApiResponseDto })
  async backfill(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => {
      const { runId } = await this.rt.backfill.start(toBackfillRequest(backfillBodySchema.parse(body ?? {})));
      return { run_id: runId };
    }, 202);
  }

  @Get('ingest/runs/:id')
  @ApiOperation({ summary: 'One ingest run (status, counts, error)' })
  @ApiOkResponse({ type: ApiResponseDto })
  async run(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => {
      const run = await this.rt.pipeline.runs.get(id);
      if (!run) throw new NoctriaError(INGEST_ERROR.NOT_FOUND, `run ${id} not found`, { severity: 'INFO' });
      return run;
    });
  }

  @Get('ingest/watermarks')
  @ApiOperation({ summary: 'Watermarks (last stored bar) per symbol × timeframe' })
  @ApiQuery({ name: 'symbol', required: false })
  @ApiQuery({ name: 'timeframe', required: false })
  @ApiOkResponse({ type: ApiResponseDto })
  async watermarks(@Query() q: Record<string, string>, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, () => this.rt.pipeline.watermarks.list({ ...(q['symbol'] ? { symbol: q['symbol'] } : {}), ...(q['timeframe'] ? { timeframe: q['timeframe'] } : {}) }));
  }

  @Get('ingest/dq')
  @ApiOperation({ summary: 'DQ counters per run × symbol × timeframe × month' })
  @ApiQuery({ name: 'run_id', required: false })
  @ApiQuery({ name: 'symbol', required: false })
  @ApiQuery({ name: 'timeframe', required: false })
  @ApiQuery({ name: 'month', required: false, description: 'YYYY-MM-01' })
  @ApiOkResponse({ type: ApiResponseDto })
  async dq(@Query() q: Record<string, string>, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, () => this.dqList(q));
  }

  private async dqList(q: Record<string, string>) {
    const month = q['month'];
    if (month !== undefined && !/^\d{4}-\d{2}-01$/.test(month)) throw new NoctriaError(INGEST_ERROR.BAD_REQUEST, 'month must be YYYY-MM-01', { severity: 'INFO' });
    return new DqRepository(this.rt.db).list({
      ...(q['run_id'] ? { runId: q['run_id'] } : {}),
      ...(q['symbol'] ? { symbol: q['symbol'] } : {}),
      ...(q['timeframe'] ? { timeframe: q['timeframe'] } : {}),
      ...(month ? { month } : {}),
    });
  }

  @Get('ingest/quarantine')
  @ApiOperation({ summary: 'Quarantined months (active by default; all=true for history)' })
  @ApiQuery({ name: 'all', required: false })
  @ApiOkResponse({ type: ApiResponseDto })
  async quarantine(@Query() q: Record<string, string>, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, () =>
      this.rt.quarantine.list({
        ...(q['symbol'] ? { symbol: q['symbol'] } : {}),
        ...(q['timeframe'] ? { timeframe: q['timeframe'] } : {}),
        activeOnly: q['all'] !== 'true',
      }),
    );
  }

  @Post('ingest/import')
  @ApiOperation({ summary: 'Import a server-side bar file (MT5 / HistData / CSV); rejected rows are kept with line numbers' })
  @ApiBody({ type: ImportBodyDto })
  @ApiOkResponse({ type: ApiResponseDto })
  async import(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => {
      return importReply(await this.rt.imports.importFile(toImportRequest(importBodySchema.parse(body ?? {}))));
    });
  }

  @Post('ingest/export')
  @ApiOperation({
    summary: 'Export one series in the partition layout {tf}/{symbol}/{YYYY}/{YYYY-MM}/{symbol}_{YYYY-MM-DD}.{parquet|csv} (+ __meta.json, __quarantine.json) under the artefact root; replies with the manifest reference and sha256',
  })
  @ApiBody({ type: ExportBodyDto })
  @ApiOkResponse({ type: ApiResponseDto })
  async export(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => exportReply(await this.rt.exports.export(toExportRequest(exportBodySchema.parse(body ?? {})))));
  }

  @Get('bars')
  @ApiOperation({ summary: 'Canonical bars of one series, paginated by cursor (ts_utc of the last bar)' })
  @ApiQuery({ name: 'symbol' })
  @ApiQuery({ name: 'timeframe' })
  @ApiQuery({ name: 'from', required: false })
  @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ type: ApiResponseDto })
  async bars(@Query() q: Record<string, string>, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await respond(this.rt, req, reply, async () => {
      const p = barsQuerySchema.parse(q);
      const rows = await this.rt.pipeline.bars.query({
        symbol: p.symbol,
        timeframe: p.timeframe,
        limit: p.limit + 1,
        ...(p.from ? { fromMs: Date.parse(p.from) } : {}),
        ...(p.to ? { toMs: Date.parse(p.to) } : {}),
        ...(p.cursor ? { afterMs: Date.parse(p.cursor) } : {}),
      });
      const page = rows.slice(0, p.limit);
      const more = rows.length > p.limit;
      return {
        bars: page.map((r) => ({ ...rowToBar(r), checksum: r.checksum, revision: r.revision })),
        next_cursor: more && page.length > 0 ? page[page.length - 1]!.ts_utc.toISOString() : null,
      };
    });
  }
}
