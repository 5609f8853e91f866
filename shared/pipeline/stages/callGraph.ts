import type { HttpResponseInit } from '@azure/functions';
import { FacadeError } from '../../errors';
import type { ExchangeProgress, GraphExchange, GraphResponse } from '../../graph/graphClient';
import { entityPathOf } from '../../graph/paths';
import { chosenEntityIdOf, graphAssignsId, isDuplicateAnswer, readBackOf } from '../../operations/operation';
import type { Attribution, OwnAttempt } from '../../recovery/attribution';
import { attemptsAnsweredByCreate, resolveConflict } from '../../recovery/conflict';
import { accountForEarlierAttempts } from '../../recovery/earlierAttempts';
import { askInFlightFailure, entityIdIn, graphFailureOf, idlessSuccessOf } from '../../recovery/graphFailure';
import { recoveryDependencies } from '../../runtime';
import { graphPathOf, requireInput, type GraphCall, type OperationContext, type Stage } from '../context';

/**
 * Terminal stage: sends the validated body to Graph and answers with what Graph made. Graph's 2xx
 * body comes back as 201; Graph's own errors keep Graph's status, code and message. Whether a
 * create whose answer was lost took place is for the lost-answer rules (shared/recovery): before
 * sending, what earlier requests with the same Idempotency-Key made; after a 409, whether the
 * entity is this ask's. An answer that may hide a create is marked, so the record says `unknown`.
 */
export const callGraph: Stage = async (context): Promise<HttpResponseInit> => {
  const own = ownAttemptOf(context);
  const deps = recoveryDependencies(context.runtime);

  const earlier = await accountForEarlierAttempts(deps, own, context.idempotencyClaim?.earlierAttempts ?? []);
  if (earlier.kind === 'answered') return answerWith(context, earlier.attribution);

  // Where Graph has no read of one entity, only a create's answer can settle earlier attempts at
  // it: they are read while Graph works, at no cost in time. (After a 409 they are read again:
  // what matters then is who may have made the entity before that answer.)
  const attempts = own.entity && !readBackOf(own.operation)
    ? deps.audit.openAttempts(own.operation.name, own.entityKey).catch(() => undefined)
    : undefined;
  const exchange = await send(context, own);
  const { response } = exchange;
  if (response.status >= 200 && response.status < 300) {
    const namesEntity = entityIdIn(response.body) !== undefined;
    if (!namesEntity && graphChoosesId(context)) throw idlessSuccessOf(response);
    const open = await attempts;
    if (open && open.length > 1) context.alsoSettles = await attemptsAnsweredByCreate(deps, own, open).catch(() => undefined);
    // Graph made the entity whose id the caller chose but its answer names nothing ({}, empty, not
    // JSON): the entity as sent names it, so a flow still reads the id it asked for.
    return created(namesEntity ? response : { requestId: response.requestId, body: own.body });
  }
  if (isDuplicateAnswer(own.operation, response) && own.entity) {
    const verdict = await resolveConflict(deps, own, exchange.earlierAttemptUncertain);
    if (verdict.kind === 'ours') return answerWith(context, verdict.attribution);
    if (verdict.kind === 'undecided') throw graphFailureOf(context.operation, response, true, verdict.reason);
    if (verdict.kind === 'inFlight') throw askInFlightFailure(response, verdict);
    throw graphFailureOf(context.operation, response, false);
  }
  throw graphFailureOf(context.operation, response, exchange.earlierAttemptUncertain);
};

function requireGraphCall(context: OperationContext): GraphCall {
  if (!context.graphCall) throw new Error(`${context.operation.name}: stage order: no Graph call was prepared`);
  return context.graphCall;
}

function ownAttemptOf(context: OperationContext): OwnAttempt {
  const { operation } = context;
  const call = requireGraphCall(context);
  const attempt = context.attempt;
  if (!attempt) throw new Error(`${operation.name}: stage order: the attempt is not recorded yet`);
  const entityId = chosenEntityIdOf(operation, requireInput(context).body);
  return {
    operation,
    rowKey: attempt.key.rowKey,
    askKey: attempt.askKey,
    entityKey: attempt.entityKey,
    graphPath: graphPathOf(call),
    body: call.body,
    ...(entityId === undefined ? {} : { entity: { id: entityId, path: entityPathOf(call.path, entityId) } }),
    headers: call.headers,
    deadlineAt: context.deadlineAt,
  };
}

const graphChoosesId = (context: OperationContext) => graphAssignsId(context.operation);

/**
 * The create, retried as Graph asks. An entity whose id Graph chooses is only sent again after an
 * answer that proves nothing was made (429, a refused connection): anything else could duplicate it.
 */
async function send(context: OperationContext, own: OwnAttempt): Promise<GraphExchange> {
  const progress: ExchangeProgress = { retries: 0, uncertain: false };
  try {
    const exchange = await context.runtime.graph.send(
      { method: 'POST', path: own.graphPath, body: own.body, headers: own.headers },
      {
        deadlineAt: context.deadlineAt,
        deadlineMs: context.runtime.settings.graphDeadlineMs,
        retryMode: graphChoosesId(context) ? 'throttlingOnly' : 'all',
        progress,
      },
    );
    context.graphResponse = exchange.response;
    context.graphRetries = exchange.retries;
    return exchange;
  } catch (error) {
    context.graphRetries = progress.retries;
    if (graphChoosesId(context) && error instanceof FacadeError && error.outcomeUnknown) {
      throw new FacadeError(
        error.status,
        'createOutcomeUnknown',
        `${error.message} The create may have happened; it was not sent again, so no duplicate is made. Its audit record is settled by reconciliation; an Idempotency-Key retry answers with what it made.`,
        { retryAfterSeconds: error.retryAfterSeconds ?? 5, outcomeUnknown: true, cause: error, headers: error.headers },
      );
    }
    throw error;
  }
}

function created(answer: Pick<GraphResponse, 'requestId' | 'body'>): HttpResponseInit {
  return {
    status: 201,
    headers: answer.requestId ? { 'graph-request-id': answer.requestId } : {},
    jsonBody: answer.body ?? {},
  };
}

function answerWith(context: OperationContext, attribution: Attribution): HttpResponseInit {
  context.attribution = attribution;
  return created({ requestId: attribution.graphRequestId, body: attribution.entity });
}
