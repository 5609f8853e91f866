import { FacadeError } from '../errors';
import type { GraphClient, GraphResponse } from './graphClient';

/**
 * Microsoft Graph JSON batching (`POST /{version}/$batch`, docs/graph-facts.md §7): up to 20
 * requests in one HTTP call, answered 200 with each step's own status, headers and body, in any
 * order (matched by `id`). Each step is throttled on its own and nothing retries it for us: the
 * caller decides, step by step. The envelope is sent once (no retry here).
 */

/** Graph's limit of steps in one batch. */
export const maxBatchSteps = 20;

export interface BatchStep {
  id: string;
  method: 'POST';
  /** Relative to the version: `/external/connections/c1/groups/g1/members`. */
  url: string;
  body: unknown;
}

export type BatchOutcome =
  /** The batch was answered: each step's response by its id (a step missing from the answer is absent). */
  | { kind: 'answered'; envelope: GraphResponse; steps: Map<string, GraphResponse> }
  /** The batch itself was refused (throttled, unavailable, malformed, unauthorized): no step's answer. */
  | { kind: 'refused'; envelope: GraphResponse }
  /**
   * No answer (a reset, a timeout, bytes that are not HTTP), or none could be asked for (no token,
   * no time left). `uncertain`: the steps may have been carried out.
   */
  | { kind: 'lost'; error: FacadeError; uncertain: boolean };

const headerOf = (headers: unknown, name: string): string | undefined => {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  return typeof entry?.[1] === 'string' ? entry[1] : entry?.[1] === undefined ? undefined : String(entry[1]);
};

export async function sendBatch(
  graph: GraphClient,
  version: string,
  steps: readonly BatchStep[],
  options: { deadlineAt: number; deadlineMs?: number; headers: Record<string, string> },
): Promise<BatchOutcome> {
  if (steps.length === 0 || steps.length > maxBatchSteps) throw new Error(`a batch holds 1 to ${maxBatchSteps} steps, not ${steps.length}`);
  const progress = { retries: 0, uncertain: false };
  // Each step carries its own Content-Type (Graph refuses a step with a body without one) and the
  // caller's client-request-id, which Graph echoes per step.
  const clientRequestId = options.headers['client-request-id'];
  const requests = steps.map((step) => ({
    id: step.id,
    method: step.method,
    url: step.url,
    headers: { 'Content-Type': 'application/json', ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}) },
    body: step.body,
  }));
  let envelope: GraphResponse;
  try {
    ({ response: envelope } = await graph.send(
      { method: 'POST', path: `/${version}/$batch`, body: { requests }, headers: options.headers },
      { deadlineAt: options.deadlineAt, retryMode: 'all', maxRetries: 0, progress, ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }) },
    ));
  } catch (error) {
    if (!(error instanceof FacadeError)) throw error;
    return { kind: 'lost', error, uncertain: progress.uncertain || error.outcomeUnknown };
  }
  if (envelope.status !== 200) return { kind: 'refused', envelope };
  const answered = (envelope.body as { responses?: unknown } | undefined)?.responses;
  const byId = new Map<string, GraphResponse>();
  for (const response of Array.isArray(answered) ? answered : []) {
    const { id, status, headers, body } = (response ?? {}) as { id?: unknown; status?: unknown; headers?: unknown; body?: unknown };
    if (typeof id !== 'string' || typeof status !== 'number') continue;
    byId.set(id, { status, body, requestId: headerOf(headers, 'request-id') ?? envelope.requestId, retryAfter: headerOf(headers, 'retry-after') });
  }
  return { kind: 'answered', envelope, steps: byId };
}
