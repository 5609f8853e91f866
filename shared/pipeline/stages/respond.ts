import type { HttpResponseInit } from '@azure/functions';
import { FacadeError, graphErrorBody } from '../../errors';
import { correlationHeaders } from '../../http/correlation';
import { writeRequestLog } from '../../telemetry/requestLog';
import type { NamedOperation } from '../../operations/operation';
import type { RequestContext, Stage } from '../context';

function asFacadeError(error: unknown): FacadeError {
  if (error instanceof FacadeError) return error;
  return new FacadeError(500, 'generalException', 'The facade failed unexpectedly; the request id identifies it in the logs.', {
    cause: error,
  });
}

export function errorResponse(error: FacadeError, context: RequestContext<NamedOperation>): HttpResponseInit {
  return {
    status: error.status,
    headers: {
      ...error.headers,
      ...(error.retryAfterSeconds === undefined ? {} : { 'retry-after': String(error.retryAfterSeconds) }),
    },
    jsonBody: graphErrorBody(error, context.correlation),
  };
}

/**
 * Outermost stage: every answer carries the correlation headers, and every failure, expected or
 * not, becomes a Graph-shaped error body. One structured log line per request (shared/telemetry).
 */
export const respond: Stage<RequestContext<NamedOperation>> = async (context, next) => {
  let response: HttpResponseInit;
  let failure: FacadeError | undefined;
  try {
    response = await next();
  } catch (error) {
    failure = asFacadeError(error);
    response = errorResponse(failure, context);
  }
  const status = response.status ?? 200;
  writeRequestLog(context, status, failure && {
    code: failure.code,
    ...(failure.cause instanceof Error ? { reason: failure.cause.message } : {}),
  });
  return {
    ...response,
    headers: { ...(response.headers as Record<string, string> | undefined), ...correlationHeaders(context.correlation) },
  };
};
