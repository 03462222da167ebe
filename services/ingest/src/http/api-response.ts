import { createApiResponseDtos } from '@noctria/platform';

export { fail, ok, requestId, type ApiResponse } from '@noctria/platform';

const dtos = createApiResponseDtos('DATA_API_BADREQ');
export const ApiErrorDto = dtos.ApiErrorDto;
export const ApiResponseDto = dtos.ApiResponseDto;
