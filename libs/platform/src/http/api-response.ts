import { randomUUID } from 'node:crypto';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The seed's `ApiResponse` wrapper: `{ status, data, error, request_id }`. */
export interface ApiResponse<T> {
  status: 'ok' | 'error';
  data: T | null;
  error: { id: string; message: string } | null;
  request_id: string;
}

/**
 * The OpenAPI classes of the wrapper. Built per service because the error id shown as the example is the
 * service's own (each service's document keeps the example it had).
 */
export function createApiResponseDtos(errorIdExample: string) {
  class ApiErrorDto {
    @ApiProperty({ example: errorIdExample }) id!: string;
    @ApiProperty() message!: string;
  }

  class ApiResponseDto {
    @ApiProperty({ enum: ['ok', 'error'] }) status!: 'ok' | 'error';
    @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) data!: unknown;
    @ApiPropertyOptional({ type: ApiErrorDto, nullable: true }) error!: ApiErrorDto | null;
    @ApiProperty() request_id!: string;
  }

  return { ApiErrorDto, ApiResponseDto };
}

export function requestId(headers: Record<string, unknown> | undefined): string {
  const h = headers?.['x-request-id'];
  return typeof h === 'string' && h.length > 0 && h.length <= 128 ? h : randomUUID();
}

export function ok<T>(data: T, rid: string): ApiResponse<T> {
  return { status: 'ok', data, error: null, request_id: rid };
}

export function fail(id: string, message: string, rid: string): ApiResponse<never> {
  return { status: 'error', data: null, error: { id, message }, request_id: rid };
}
