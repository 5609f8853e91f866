import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AuditKey } from '../audit/auditRecord';
import type { AuthenticatedCaller } from '../auth/caller';
import type { Correlation } from '../errors';
import type { GraphResponse } from '../graph/graphClient';
import type { NamedOperation, OperationDefinition, ServedOperation } from '../operations/operation';
import type { QueryDefinition, QueryInput, QueryScope } from '../operations/query';
import type { KeyScope } from '../idempotency/idempotencyStore';
import type { Attribution, SettledRecord } from '../recovery/attribution';
import type { Runtime } from '../runtime';
import type { StageTimings } from '../telemetry/stageTimings';

export interface ValidatedInput {
  params: Record<string, string>;
  body: Record<string, unknown>;
}

export interface GraphCall {
  version: string;
  /** Encoded path below the version: `/external/connections/c1/groups`. */
  path: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The Graph path a call goes to, version included: `/v1.0/external/connections/c1/groups`. */
export const graphPathOf = (call: GraphCall): string => `/${call.version}${call.path}`;

/**
 * What every request knows as it passes along its stages, a create, a bulk create or a query
 * alike: the stages every request takes (respond, authenticate, authorize) need no more than this.
 */
export interface RequestContext<Operation extends NamedOperation = ServedOperation> {
  operation: Operation;
  request: HttpRequest;
  invocation: InvocationContext;
  runtime: Runtime;
  correlation: Correlation;
  receivedAt: Date;
  /** `performance.now()` when the request arrived: the log line's `totalMs` counts from here. */
  startedAt?: number;
  /** Where the request's time went so far, by kind of stage (the pipeline runner fills it in). */
  timings?: StageTimings;
  caller?: AuthenticatedCaller;
  /** Graph's answer, when the request called Graph (the log line names its request id). */
  graphResponse?: GraphResponse;
  /** Graph attempts after the first (throttling, transient failures). */
  graphRetries?: number;
}

/**
 * One request's state as it passes along an operation's pipeline; each stage fills in its own part.
 * `Op` is what the stages of this pipeline need to know of the operation (a create, a bulk create, …).
 */
export interface OperationContext<Op extends NamedOperation = OperationDefinition> extends RequestContext<Op> {
  /** Epoch ms by which the Graph part of the request must be over (GRAPH_DEADLINE_MS; bulk: BULK_ASYNC_AFTER_SECONDS). */
  deadlineAt: number;
  /** The length of that deadline. */
  deadlineMs: number;
  rawBody?: unknown;
  input?: ValidatedInput;
  graphCall?: GraphCall;
  /** The Idempotency-Key this request holds, and the records of earlier requests that held it. */
  idempotencyClaim?: IdempotencyClaim;
  /** This request's attempt, recorded before Graph is called. */
  attempt?: RecordedAttempt;
  /** A success that Graph's answer to this request's own create did not prove alone. */
  attribution?: Attribution;
  /** Earlier records a success Graph answered settles too (they made nothing). */
  alsoSettles?: SettledRecord[];
  /**
   * For ids Graph generates: the ids with the same natural key that existed before the create;
   * absent when they could not be listed (or were too many to keep).
   */
  preexistingIds?: string[];
}

export interface IdempotencyClaim {
  scope: KeyScope;
  etag: string;
  /** Audit record row keys of earlier requests with the key, oldest first. */
  earlierAttempts: string[];
  /** The request's settlement stored the key's outcome too. */
  settled: boolean;
}

export interface RecordedAttempt {
  key: AuditKey;
  /** The intent's etag: an unknown outcome only replaces the record if nobody settled it meanwhile. */
  etag: string;
  askKey: string;
  entityKey: string;
}

/** One query's state: the read operation, what it reads across, and its parameters once validated. */
export interface QueryContext extends RequestContext<QueryDefinition> {
  scope: QueryScope;
  input?: QueryInput;
}

export type Next = () => Promise<HttpResponseInit>;

/**
 * A pipeline stage: does its one job, then hands on to the next stage (or answers itself). A stage
 * that needs less of the request (`Stage<RequestContext<NamedOperation>>`, `Stage<AnyContext>`) fits
 * every pipeline that gives it at least that.
 */
export type Stage<Context extends RequestContext<NamedOperation> = OperationContext> = (context: Context, next: Next) => Promise<HttpResponseInit>;

/** Any operation pipeline's context (a create, a bulk create), for what their shared stages read. */
export type AnyContext = OperationContext<NamedOperation>;

export function requireCaller(context: RequestContext<NamedOperation>): AuthenticatedCaller {
  if (!context.caller) throw new Error(`${context.operation.name}: stage order: the caller is not authenticated yet`);
  return context.caller;
}

export function requireInput(context: AnyContext): ValidatedInput {
  if (!context.input) throw new Error(`${context.operation.name}: stage order: input is not validated yet`);
  return context.input;
}
