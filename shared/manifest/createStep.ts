import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { HttpRequest } from '../azureFunctions';
import type { AuthenticatedCaller } from '../auth/caller';
import { FacadeError, type Correlation } from '../errors';
import type { OperationDefinition } from '../operations/operation';
import type { OperationContext, Stage } from '../pipeline/context';
import { acquireToken } from '../pipeline/stages/acquireToken';
import { auditTrail } from '../pipeline/stages/auditTrail';
import { callGraph } from '../pipeline/stages/callGraph';
import { idempotency } from '../pipeline/stages/idempotency';
import { noteExisting } from '../pipeline/stages/noteExisting';
import { graphCallFor } from '../pipeline/stages/validate';
import type { Runtime } from '../runtime';

/**
 * One create of a manifest, carried out by the very stages a single create request passes after
 * its checks: its Idempotency-Key (one per apply and entity, so a later run of the same apply
 * accounts for what an earlier one may have made, as a keyed retry does), the token, the note of
 * existing entities (ids Graph chooses), its own audit record and the lost-answer rules around the
 * Graph call. The manifest was validated as a whole with the same joi rules before.
 */
export const createStepStages: readonly Stage[] = [idempotency, acquireToken, noteExisting, auditTrail, callGraph];

export type CreateOutcome =
  /** `madeBy`: the record of another request of the same ask whose attempt made it, when this create was answered with what that one made. */
  | { kind: 'created'; entity: Record<string, unknown>; auditRecordId?: string; madeBy?: string }
  /** Graph says it exists already (409) and the lost-answer rules found it is not this apply's. */
  | { kind: 'exists'; error?: { code: string; message: string }; madeBy?: { operation: string; auditRecordId: string } }
  | { kind: 'failed'; error: { code: string; message: string; httpStatus: number } }
  /** Not settled now (throttled, Graph unavailable, an earlier run still holds the key): a later run tries again. */
  | { kind: 'retryLater'; retryAfterSeconds: number; error: { code: string; message: string; httpStatus: number } };

export interface CreateStep {
  runtime: Runtime;
  operation: OperationDefinition;
  params: Record<string, string>;
  body: Record<string, unknown>;
  caller: AuthenticatedCaller;
  /** The create's own request id (its audit record's); the apply's client-request-id links them. */
  correlation: Correlation;
  /** Idempotency-Key of this create: the apply's id and the entity. */
  idempotencyKey: string;
  deadlineAt: number;
  /** When the create was made: its audit record's row key follows from it and the request id. */
  receivedAt: Date;
  invocation: InvocationContext;
}

function outcomeOfError(error: unknown): CreateOutcome {
  if (!(error instanceof FacadeError)) throw error;
  const detail = { code: error.code, message: error.message, httpStatus: error.status };
  // A 409 that says "retry later" (an earlier attempt under the create's key not settled yet, or
  // the key in use) is no answer about the entity: the apply waits on it, never reports `exists`.
  if (error.outcomeUnknown || error.code === 'createOutcomeUnknown' || error.code === 'idempotencyKeyInUse' || error.status >= 500 || error.status === 429 || error.status === 408) {
    return { kind: 'retryLater', retryAfterSeconds: error.retryAfterSeconds ?? 5, error: detail };
  }
  if (error.status === 409) return { kind: 'exists', error: { code: error.code, message: error.message } };
  return { kind: 'failed', error: detail };
}

export async function runCreateStep(step: CreateStep): Promise<CreateOutcome> {
  const { operation, runtime } = step;
  const { receivedAt } = step;
  const headers = { 'client-request-id': step.correlation.clientRequestId, 'idempotency-key': step.idempotencyKey };
  const context: OperationContext = {
    operation,
    request: new HttpRequest({ method: 'POST', url: `http://manifest.invalid/api${operation.graphPath}`, headers, params: step.params }),
    invocation: step.invocation,
    runtime,
    correlation: step.correlation,
    receivedAt,
    caller: step.caller,
    deadlineAt: Math.min(step.deadlineAt, receivedAt.getTime() + runtime.settings.graphDeadlineMs),
    deadlineMs: runtime.settings.graphDeadlineMs,
    input: { params: step.params, body: step.body },
    graphCall: graphCallFor(operation, step.params, step.body, { 'client-request-id': step.correlation.clientRequestId }),
  };
  const run = (index: number): Promise<HttpResponseInit> => {
    const stage = createStepStages[index];
    if (!stage) throw new Error(`${operation.name}: the last stage must answer`);
    return stage(context, () => run(index + 1));
  };
  try {
    const response = await run(0);
    const madeBy = context.attribution?.madeBy;
    return {
      kind: 'created',
      entity: (response.jsonBody ?? {}) as Record<string, unknown>,
      ...(context.attempt ? { auditRecordId: context.attempt.key.rowKey } : {}),
      ...(madeBy ? { madeBy } : {}),
    };
  } catch (error) {
    return outcomeOfError(error);
  }
}
