import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { correlationFor } from '../http/correlation';
import type { OperationDefinition } from '../operations/operation';
import type { QueryDefinition, QueryScope } from '../operations/query';
import { getRuntime, type Runtime } from '../runtime';
import { systemClock, type Clock } from '../time/clock';
import type { OperationContext, QueryContext, RequestContext, Stage } from './context';
import { answerQuery } from './stages/answerQuery';
import { auditTrail } from './stages/auditTrail';
import { acquireToken } from './stages/acquireToken';
import { authenticate } from './stages/authenticate';
import { authorize } from './stages/authorize';
import { callGraph } from './stages/callGraph';
import { idempotency } from './stages/idempotency';
import { noteExisting } from './stages/noteExisting';
import { readBody } from './stages/readBody';
import { respond } from './stages/respond';
import { validate } from './stages/validate';
import { validateQuery } from './stages/validateQuery';

/** The order every create request takes; see README "How a request is handled". */
export const createStages: readonly Stage[] = [
  respond,
  // Callers are checked before their body is read: an unauthenticated caller learns nothing and costs little.
  authenticate,
  authorize,
  readBody,
  validate,
  idempotency,
  acquireToken,
  noteExisting,
  auditTrail,
  callGraph,
];

/**
 * The order every query of the audit trail takes: who is calling and whether they hold the
 * query's role, as for a create, then its parameters, then its answer. Nothing is read before the
 * caller is known to hold the role.
 */
export const queryStages: readonly Stage<QueryContext>[] = [respond, authenticate, authorize, validateQuery, answerQuery];

function run<Context extends RequestContext>(stages: readonly Stage<Context>[], context: Context, index = 0): ReturnType<Stage<Context>> {
  const stage = stages[index];
  if (!stage) throw new Error(`${context.operation.name}: the last stage must answer`);
  return stage(context, () => run(stages, context, index + 1));
}

/**
 * Graph must be done a little before the request's deadline, so the answer leaves in time; the
 * audit outcome write follows (with retries of its own when storage falters).
 */
export function graphDeadlineAt(receivedAt: Date, deadlineMs: number): number {
  return receivedAt.getTime() + deadlineMs - Math.min(1_000, deadlineMs / 10);
}

/** The runtime's clock; the system clock when the runtime cannot be built (the stages then answer why). */
function clockOf(runtimeOf: () => Runtime): Clock {
  try {
    return runtimeOf().clock;
  } catch {
    return systemClock;
  }
}

export function createOperationHandler(
  operation: OperationDefinition,
  stages: readonly Stage[] = createStages,
  runtimeOf: () => Runtime = getRuntime,
): (request: HttpRequest, invocation: InvocationContext) => Promise<HttpResponseInit> {
  return async (request: HttpRequest, invocation: InvocationContext) => {
    const receivedAt = new Date(clockOf(runtimeOf).now());
    const context: OperationContext = {
      operation,
      request,
      invocation,
      // Read on first use, inside the stages, so a configuration error is answered Graph-shaped too.
      get runtime() {
        return runtimeOf();
      },
      correlation: correlationFor(request),
      receivedAt,
      get deadlineAt() {
        return graphDeadlineAt(receivedAt, runtimeOf().settings.graphDeadlineMs);
      },
    };
    return run(stages, context);
  };
}

/** The handler of a query: `queryStages` over what the query reads across (`scope`). */
export function createQueryHandler(
  query: QueryDefinition,
  scope: () => QueryScope,
  stages: readonly Stage<QueryContext>[] = queryStages,
  runtimeOf: () => Runtime = getRuntime,
): (request: HttpRequest, invocation: InvocationContext) => Promise<HttpResponseInit> {
  return async (request: HttpRequest, invocation: InvocationContext) => {
    const context: QueryContext = {
      operation: query,
      request,
      invocation,
      get runtime() {
        return runtimeOf();
      },
      scope: scope(),
      correlation: correlationFor(request),
      receivedAt: new Date(clockOf(runtimeOf).now()),
    };
    return run(stages, context);
  };
}
