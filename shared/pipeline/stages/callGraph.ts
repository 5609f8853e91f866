import type { HttpResponseInit } from '@azure/functions';
import { FacadeError, parseGraphError, type GraphErrorDetail } from '../../errors';
import type { OperationContext, Stage } from '../context';

function graphDetails(body: unknown): GraphErrorDetail[] {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  return Array.isArray(details)
    ? details.filter((detail): detail is GraphErrorDetail => typeof detail?.code === 'string')
    : [];
}

function requireGraphCall(context: OperationContext) {
  if (!context.graphCall) throw new Error(`${context.operation.name}: stage order: no Graph call was prepared`);
  return context.graphCall;
}

/**
 * Terminal stage: sends the validated body to Graph. Graph's 2xx body comes back as 201; Graph's
 * own errors keep Graph's status, code and message.
 */
export const callGraph: Stage = async (context): Promise<HttpResponseInit> => {
  const call = requireGraphCall(context);
  const response = await context.runtime.graph.send({
    method: 'POST',
    path: `/${call.version}${call.path}`,
    body: call.body,
    headers: call.headers,
  });
  context.graphResponse = response;
  const graphHeaders: Record<string, string> = response.requestId ? { 'graph-request-id': response.requestId } : {};
  if (response.status >= 200 && response.status < 300) {
    return { status: 201, headers: graphHeaders, jsonBody: response.body ?? {} };
  }
  const error = parseGraphError(response.body) ?? {
    code: 'generalException',
    message: `Microsoft Graph answered ${response.status}.`,
  };
  throw new FacadeError(response.status, error.code, error.message, {
    details: graphDetails(response.body),
    headers: {
      ...graphHeaders,
      ...(response.retryAfter ? { 'retry-after': response.retryAfter } : {}),
    },
  });
};
