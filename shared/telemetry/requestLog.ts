import type { NamedOperation } from '../operations/operation';
import type { RequestContext } from '../pipeline/context';
import type { StageTimingField, StageTimings } from './stageTimings';

/**
 * The one structured line each request writes, through the invocation context so the Functions
 * host sends it to Application Insights (`traces`, with the invocation's `operation_Id` and
 * `customDimensions.InvocationId`). `context.log` joins its arguments into one message string, so
 * the line is a JSON object: Kusto reads it with `parse_json(message)` (docs/operating.md "Telemetry").
 * It holds ids, timing and the outcome only: never a token, a header value other than the
 * correlation ids, or a request or response body.
 */

export const requestLogEvent = 'facade.request';

/** `created` a create's success, `read` a query's (the audit API). */
export type Outcome = 'created' | 'accepted' | 'read' | 'rejected' | 'denied' | 'graphError' | 'failed';

/** The correlation fields every log line of a request carries. */
export interface CorrelationFields {
  invocationId: string;
  operation: string;
  requestId: string;
  clientRequestId: string;
  graphRequestId: string | undefined;
  callerId: string | undefined;
  retries: number;
}

export interface RequestLogFields extends CorrelationFields, StageTimings {
  event: typeof requestLogEvent;
  outcome: Outcome;
  status: number;
  /** The error code answered, when not a success. */
  code: string | undefined;
  durationMs: number;
  /** From the request's arrival to this line, to the hundredth of a millisecond. */
  totalMs: number;
}

export interface FailureSummary {
  code: string;
  /** Why an unexpected failure happened (the cause's message), for 5xx answers only. */
  reason?: string;
}

export function correlationFields(context: RequestContext<NamedOperation>): CorrelationFields {
  return {
    invocationId: context.invocation.invocationId,
    operation: context.operation.name,
    requestId: context.correlation.requestId,
    clientRequestId: context.correlation.clientRequestId,
    graphRequestId: context.graphResponse?.requestId,
    callerId: context.caller?.id,
    retries: context.graphRetries ?? 0,
  };
}

/** What happened, for dashboards: refused before Graph, refused by Graph, or the facade failed. */
export function outcomeOf(status: number, graphAnswered: boolean, success: 'created' | 'read' = 'created'): Outcome {
  // A 202: a bulk request taken on to run from the queue (its job logs what it added).
  if (status === 202) return 'accepted';
  if (status >= 200 && status < 300) return success;
  if (status === 401 || status === 403) return 'denied';
  if (graphAnswered) return 'graphError';
  if (status >= 400 && status < 500) return 'rejected';
  return 'failed';
}

const hundredths = (ms: number) => Math.round(ms * 100) / 100;

function stageTimingsOf(context: RequestContext<NamedOperation>): StageTimings {
  const timings: StageTimings = {};
  for (const [field, ms] of Object.entries(context.timings ?? {}) as [StageTimingField, number][]) timings[field] = hundredths(ms);
  return timings;
}

export function requestLogFields(context: RequestContext<NamedOperation>, status: number, failure?: FailureSummary): RequestLogFields {
  const graphAnswered = context.graphResponse !== undefined && !(context.graphResponse.status >= 200 && context.graphResponse.status < 300);
  const durationMs = Date.now() - context.receivedAt.getTime();
  return {
    event: requestLogEvent,
    ...correlationFields(context),
    outcome: outcomeOf(status, graphAnswered, 'kind' in context.operation && context.operation.kind === 'query' ? 'read' : 'created'),
    status,
    code: failure?.code,
    durationMs,
    ...stageTimingsOf(context),
    totalMs: context.startedAt === undefined ? durationMs : hundredths(performance.now() - context.startedAt),
  };
}

const maxReasonLength = 300;

/** Writes the request's line: information for successes, warning for 4xx, error for 5xx. */
export function writeRequestLog(context: RequestContext<NamedOperation>, status: number, failure?: FailureSummary): RequestLogFields {
  const fields = requestLogFields(context, status, failure);
  const reason = status >= 500 && failure?.reason ? { reason: failure.reason.slice(0, maxReasonLength) } : {};
  const line = JSON.stringify({ ...fields, ...reason });
  if (status >= 500) context.invocation.error(line);
  else if (status >= 400) context.invocation.warn(line);
  else context.invocation.info(line);
  return fields;
}

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * Any other line a request writes (a denial, an audit write that failed…): the same JSON shape and
 * correlation fields as the request line, under its own `event` name.
 */
export function logEvent(context: RequestContext<NamedOperation>, level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  context.invocation[level](JSON.stringify({ event, ...correlationFields(context), ...fields }));
}
