import type { TransactionAction } from '@azure/data-tables';
import type { Caller } from '../auth/caller';
import { FacadeError, type Correlation } from '../errors';
import type { GraphResponse } from '../graph/graphClient';
import { entityPathOf, identityOf } from '../graph/paths';
import { fingerprintOf } from '../idempotency/idempotencyStore';
import { chosenEntityIdOf, graphAssignsId, naturalKeyOf, type OperationDefinition } from '../operations/operation';
import type { Attribution, SettledRecord } from '../recovery/attribution';
import { askKeyOf, cappedJson, type AuditEntity, type AuditIntent, type AuditKey, type AuditOutcome } from './auditRecord';
import type { RecordChange, Settlement } from './auditStore';

/**
 * What the audit table says about one create, from its intent to its settlement: the same for a
 * single create (the pipeline's auditTrail stage) and for each item of a bulk request.
 */

/** One create as it is sent: its version, path below the version and body. */
export interface CreateCall {
  version: string;
  /** `/external/connections/c1/groups` */
  path: string;
  body: Record<string, unknown>;
}

/**
 * What identifies the entity before it exists (its path for ids the caller chooses, the collection
 * and natural key otherwise), so later requests for the same entity find this attempt: in the
 * spelling-blind form, so an attempt at another spelling Graph may count as the same entity is
 * found too (as another ask's: the ask keeps the spelling).
 */
export function entityKeyFor(operation: OperationDefinition, call: Pick<CreateCall, 'path' | 'body'>): string {
  if (graphAssignsId(operation)) {
    const naturalKey = naturalKeyOf(operation) ?? 'id';
    return identityOf(`${call.path.replace(/^\/+/, '')}?${naturalKey}=${JSON.stringify(call.body[naturalKey] ?? null)}`);
  }
  return identityOf(entityPathOf(call.path, chosenEntityIdOf(operation, call.body) ?? ''));
}

export interface IntentInput {
  operation: OperationDefinition;
  call: CreateCall;
  caller: Caller;
  correlation: Correlation;
  requestedAt: Date;
  deadlineAt: number;
  /** Ids Graph chooses: the same-named entities that existed before the create. */
  preexistingIds?: string[];
}

export function auditIntentFor({ operation, call, caller, correlation, requestedAt, deadlineAt, preexistingIds }: IntentInput): AuditIntent {
  const graphPath = `/${call.version}${call.path}`;
  return {
    operation: operation.name,
    entityType: operation.entityType,
    entityId: chosenEntityIdOf(operation, call.body) ?? '',
    graphPath,
    graphVersion: call.version,
    requestId: correlation.requestId,
    clientRequestId: correlation.clientRequestId,
    callerId: caller.id,
    ...(caller.appId ? { callerAppId: caller.appId } : {}),
    ...(caller.name ? { callerName: caller.name } : {}),
    ...(caller.tenantId ? { callerTenantId: caller.tenantId } : {}),
    ...(preexistingIds ? { preexistingIds: JSON.stringify(preexistingIds) } : {}),
    requestedAt,
    deadlineAt: new Date(deadlineAt),
    requestBody: call.body,
    entityKey: entityKeyFor(operation, call),
    askKey: askKeyOf(caller.id, graphPath, fingerprintOf(call.body)),
  };
}

/** What the caller was answered with for a create that succeeded: Graph's (or a recovery's) entity. */
export interface CreatedAnswer {
  status: number;
  body: unknown;
}

export interface OutcomeInput {
  intent: AuditIntent;
  /** The success answered; absent when the create failed. */
  created?: CreatedAnswer | undefined;
  /** Why it failed, when it did. */
  failure?: unknown;
  /** Graph's last answer to the create itself. */
  graph?: GraphResponse | undefined;
  attribution?: Attribution | undefined;
  retries: number;
  completedAt: Date;
}

export function createdEntityId(intent: AuditIntent, body: unknown): string {
  const id = (body as { id?: unknown } | undefined)?.id;
  return intent.entityId || (typeof id === 'string' ? id : '');
}

/** The record's new state: `succeeded` with what was made, else `failed`, or `unknown` when the answer may hide a create. */
export function auditOutcomeOf({ intent, created, failure, graph, attribution, retries, completedAt }: OutcomeInput): AuditOutcome {
  if (created) {
    return {
      status: 'succeeded',
      httpStatus: attribution ? created.status : (graph?.status ?? created.status),
      entityId: createdEntityId(intent, created.body),
      graphRequestId: attribution ? attribution.graphRequestId : graph?.requestId,
      completedAt,
      responseBody: created.body,
      retries,
      ...(attribution
        ? {
            recovery: attribution.recovery,
            ...(attribution.madeBy ? { madeBy: attribution.madeBy } : {}),
            reason: attribution.madeBy
              ? 'answered with the entity an earlier request of the same ask made'
              : 'Graph’s answer to this request was lost; a later look found the entity it asked for',
          }
        : {}),
    };
  }
  const error = failure instanceof FacadeError ? failure : undefined;
  return {
    status: error?.outcomeUnknown ? 'unknown' : 'failed',
    retries,
    httpStatus: error?.status ?? graph?.status ?? 500,
    graphRequestId: graph?.requestId,
    errorCode: error?.code ?? 'generalException',
    ...(error?.outcomeUnknown || error?.reason ? { reason: error.reason ?? error.message } : {}),
    completedAt,
    responseBody: graph?.body ?? { error: { code: error?.code, message: error?.message } },
  };
}

export interface SettlementInput {
  /** The request's record, as written with its intent. */
  key: AuditKey;
  /** The intent's etag: an unknown outcome only replaces the record if nobody settled it meanwhile. */
  etag: string;
  intent: AuditIntent;
  outcome: AuditOutcome;
  /** The collection the create went to, below the version (`/external/connections/c1/groups`). */
  collectionPath: string;
  created?: CreatedAnswer | undefined;
  attribution?: Attribution | undefined;
  /** Earlier records a success Graph answered settles too (they made nothing). */
  alsoSettles?: SettledRecord[] | undefined;
  /** Other rows of the partition to write with it (an Idempotency-Key's answer). */
  extra?: TransactionAction[] | undefined;
}

/**
 * Everything a create's answer settles, written as one transaction: its own record (and attempt),
 * the earlier records a recovery accounted for, and the entity index.
 */
export function settlementFor({ key, etag, intent, outcome, collectionPath, created, attribution, alsoSettles, extra }: SettlementInput): Settlement {
  const { requestBody, ...fields } = intent;
  const sent = cappedJson(requestBody);
  const record: Omit<AuditEntity, 'status' | 'reconcileAfter'> = { ...key, ...fields, kind: 'record', requestBody: sent.json, requestBodyTruncated: sent.truncated };
  const stillOpen = outcome.status === 'unknown';
  const own: RecordChange = {
    record,
    outcome,
    // An unknown outcome gives way to whoever settled the record meanwhile; Graph's own answer does not.
    ...(stillOpen ? { etag, stillOpenUntil: intent.requestedAt } : {}),
  };
  const others: RecordChange[] = (attribution?.settles ?? alsoSettles ?? []).map(({ record: earlier, outcome: settled }) => ({
    record: earlier,
    etag: earlier.etag,
    outcome: {
      ...settled,
      httpStatus: earlier.httpStatus ?? 0,
      completedAt: outcome.completedAt,
      responseBody: settled.status === 'succeeded' ? created?.body : null,
      settledBy: key.rowKey,
    },
  }));
  const entityId = created ? createdEntityId(intent, created.body) : '';
  const index = entityId
    ? { entityPath: entityPathOf(collectionPath, entityId), auditRowKey: attribution?.madeBy ?? key.rowKey, proof: attribution ? ('attributed' as const) : ('answered' as const) }
    : undefined;
  return { partitionKey: key.partitionKey, changes: [own, ...others], ...(index ? { index } : {}), ...(extra ? { extra } : {}) };
}

/** Delays before a refused settlement is written again: a record left pending costs a reconciliation, and its answer may already stand. */
export const settlementRetryDelaysMs = [200, 800];

/**
 * Writes a settlement (or a transaction of them), again after each delay while the store refuses
 * it; an error `isFinal` says will not change (a condition that no longer holds) ends it at once.
 */
export async function writeSettling<T>(write: () => Promise<T>, isFinal: (error: unknown) => boolean = () => false): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      const delay = settlementRetryDelaysMs[attempt];
      if (delay === undefined || isFinal(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
