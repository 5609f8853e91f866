import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { correlationFor } from '../http/correlation';
import type { AnyOperation, BulkOperationDefinition, NamedOperation, OperationDefinition } from '../operations/operation';
import type { QueryDefinition, QueryScope } from '../operations/query';
import { getRuntime, type Runtime } from '../runtime';
import type { StageTimingField, StageTimings } from '../telemetry/stageTimings';
import { systemClock, type Clock } from '../time/clock';
import type { OperationContext, QueryContext, RequestContext, Stage } from './context';
import { answerQuery } from './stages/answerQuery';
import { auditTrail } from './stages/auditTrail';
import { acquireToken } from './stages/acquireToken';
import { authenticate } from './stages/authenticate';
import { authorize } from './stages/authorize';
import { bulkRequest } from './stages/bulkRequest';
import { callGraph } from './stages/callGraph';
import { idempotency } from './stages/idempotency';
import { noteExisting } from './stages/noteExisting';
import { readBody } from './stages/readBody';
import { respond } from './stages/respond';
import { validate } from './stages/validate';
import { validateQuery } from './stages/validateQuery';

/**
 * What every request of an operation goes through first, whatever it creates: the answer's shape,
 * the caller, the body, the Idempotency-Key and the Graph token.
 */
const requestChecks = [
  respond,
  // Callers are checked before their body is read: an unauthenticated caller learns nothing and costs little.
  authenticate,
  authorize,
  readBody,
  validate,
  idempotency,
  acquireToken,
] as const;

/** The order every create request takes; see docs/design.md "How the code is laid out". */
export const createStages: readonly Stage[] = [...requestChecks, noteExisting, auditTrail, callGraph];

/**
 * A bulk request: the same checks, then its items are carried out as creates of the item
 * operation, each with its own audit record (bulkRequest, shared/bulk).
 */
export const bulkStages: readonly Stage<OperationContext<BulkOperationDefinition>>[] = [...requestChecks, bulkRequest];

/** How long an operation's Graph work may take: a create's GRAPH_DEADLINE_MS, a synchronous bulk request's BULK_ASYNC_AFTER_SECONDS. */
export function deadlineMsOf(operation: NamedOperation & { kind?: string }, settings: Runtime['settings']): number {
  // A manifest apply carries out its members as a bulk request does.
  return operation.kind === 'bulk' || operation.kind === 'manifest' ? settings.bulkAsyncAfterMs : settings.graphDeadlineMs;
}

function stagesOf<Op extends AnyOperation>(operation: Op): readonly Stage<OperationContext<Op>>[] {
  return (operation.kind === 'bulk' ? bulkStages : createStages) as readonly Stage<OperationContext<Op>>[];
}

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

function run<Context extends RequestContext<NamedOperation>>(stages: readonly Stage<Context>[], context: Context, index = 0): ReturnType<Stage<Context>> {
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

export function createOperationHandler<Op extends AnyOperation = OperationDefinition>(
  operation: Op,
  stages: readonly Stage<OperationContext<Op>>[] = stagesOf(operation),
  runtimeOf: () => Runtime = getRuntime,
): (request: HttpRequest, invocation: InvocationContext) => Promise<HttpResponseInit> {
  return createHandler(operation, stages, runtimeOf);
}

/** A handler running `stages` for any function the pipeline serves (an operation, a bulk request's status). */
export function createHandler<Op extends NamedOperation & { kind?: string }>(
  operation: Op,
  stages: readonly Stage<OperationContext<Op>>[],
  runtimeOf: () => Runtime = getRuntime,
): (request: HttpRequest, invocation: InvocationContext) => Promise<HttpResponseInit> {
  return async (request: HttpRequest, invocation: InvocationContext) => {
    const startedAt = performance.now();
    const receivedAt = new Date(clockOf(runtimeOf).now());
    const context: OperationContext<Op> = {
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
      get deadlineMs() {
        return deadlineMsOf(operation, runtimeOf().settings);
      },
      get deadlineAt() {
        return graphDeadlineAt(receivedAt, deadlineMsOf(operation, runtimeOf().settings));
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
