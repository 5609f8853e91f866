import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { correlationFor } from '../http/correlation';
import type { OperationDefinition } from '../operations/operation';
import type { QueryDefinition, QueryScope } from '../operations/query';
import { getRuntime, type Runtime } from '../runtime';
import type { StageTimingField, StageTimings } from '../telemetry/requestLog';
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

/**
 * Which field of the request log line a stage's own time counts toward: its time until it hands on
 * to the next stage (`before`), and from the next stage's answer to its own (`after`; `before`'s
 * field when not named). Time in the stages after it is theirs. A stage not named here is not timed
 * (`respond` writes the line). A stage means the same in every pipeline it is part of.
 */
export const stageTimings: ReadonlyMap<Stage<never>, { before: StageTimingField; after?: StageTimingField }> = new Map<Stage<never>, { before: StageTimingField; after?: StageTimingField }>([
  [authenticate, { before: 'authMs' }],
  [authorize, { before: 'authMs' }],
  [readBody, { before: 'validateMs' }],
  [validate, { before: 'validateMs' }],
  [validateQuery, { before: 'validateMs' }],
  [idempotency, { before: 'idempotencyMs' }],
  [acquireToken, { before: 'tokenMs' }],
  [noteExisting, { before: 'graphMs' }],
  [auditTrail, { before: 'auditIntentMs', after: 'auditOutcomeMs' }],
  [callGraph, { before: 'graphMs' }],
  [answerQuery, { before: 'queryMs' }],
]);

function addTime(timings: StageTimings, field: StageTimingField, ms: number): void {
  timings[field] = (timings[field] ?? 0) + ms;
}

function run<Context extends RequestContext>(stages: readonly Stage<Context>[], context: Context, index = 0): ReturnType<Stage<Context>> {
  const stage = stages[index];
  if (!stage) throw new Error(`${context.operation.name}: the last stage must answer`);
  const timing = stageTimings.get(stage as Stage<never>);
  if (!timing) return stage(context, () => run(stages, context, index + 1));
  const started = performance.now();
  let handedOn: number | undefined;
  let answered: number | undefined;
  const next = () => {
    handedOn = performance.now();
    return run(stages, context, index + 1).finally(() => {
      answered = performance.now();
    });
  };
  return stage(context, next).finally(() => {
    const ended = performance.now();
    const timings = (context.timings ??= {});
    addTime(timings, timing.before, (handedOn ?? ended) - started);
    if (answered !== undefined) addTime(timings, timing.after ?? timing.before, ended - answered);
  });
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
    const startedAt = performance.now();
    const receivedAt = new Date(clockOf(runtimeOf).now());
    const context: OperationContext = {
      operation,
      request,
      invocation,
      startedAt,
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
    const startedAt = performance.now();
    const context: QueryContext = {
      operation: query,
      request,
      invocation,
      startedAt,
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
