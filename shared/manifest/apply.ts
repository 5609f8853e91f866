import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { AuthenticatedCaller } from '../auth/caller';
import { keptJson, recordRowKey } from '../audit/auditRecord';
import type { StoredAuditRecord } from '../audit/auditStore';
import { fromChunks, type BulkEntity, type BulkItemResult, type BulkResults } from '../bulk/bulkRecord';
import { startBulkRequest } from '../bulk/job';
import type { Correlation } from '../errors';
import type { BulkOperationDefinition, OperationDefinition } from '../operations/operation';
import { entityKeyFor } from '../audit/settlement';
import { graphCallFor } from '../pipeline/stages/validate';
import { mayHaveMadeIt } from '../recovery/attribution';
import type { Runtime } from '../runtime';
import type { ConnectorManifest } from '../schemas/manifest';
import { runCreateStep, type CreateOutcome } from './createStep';
import { inParallel, manifestPaths, planManifest, type EntityPlan, type GroupPlan, type MadeBy, type ManifestPlan } from './plan';
import { findSchemaRegistration, operationAgeOf, pollDelaySeconds, registrationIsOver, resumeRegistrationIfAbandoned, startSchemaRegistration, type StoredSchemaRegistration } from './schemaRegistration';

/**
 * Applying a manifest: what the plan says is missing is created, in dependency order —
 * connection → schema (Graph's operation followed until it ends) → groups → members (through the
 * bulk route's job, `startBulkRequest`) → connector groups — each create with its own audit record,
 * Idempotency-Key and the lost-answer rules (createStep.ts). A run reads before it writes, so a
 * run that starts over (a retry, the queue taking over from a dead instance) creates only what is
 * still missing. A run either ends the apply (`done`) or says what it waits on (`waiting`): Graph
 * still provisioning the schema, a member job on the queue, or a create Graph asked to retry later.
 *
 *   connection ─▶ schema ─▶ groups ─▶ members ─▶ connectorGroups ─▶ done
 *        └─ failed: what depends on it is notAttempted ─────────────────▶ done
 */

export type ApplyStep = 'connection' | 'schema' | 'groups' | 'members' | 'connectorGroups';

export type EntityOutcome = 'created' | 'exists' | 'differs' | 'failed' | 'notAttempted';

export interface EntityResult {
  outcome: EntityOutcome;
  madeBy?: MadeBy;
  /** The audit record of the create this apply made. */
  auditRecordId?: string;
  differences?: string[];
  error?: { code: string; message: string; httpStatus?: number };
}

/** Why an entity failed: Graph's (or the facade's) error code and message, and the HTTP status it came with. */
export type EntityError = { code: string; message: string; httpStatus: number };

export interface MemberResult {
  id: string;
  outcome: 'created' | 'exists' | 'failed' | 'notAttempted';
  error?: EntityError;
}

export interface ApplyResults {
  outcome: 'succeeded' | 'failed';
  counts: Record<EntityOutcome, number>;
  connection: EntityResult & { id: string };
  schema?: EntityResult & { registrationId?: string };
  groups: (EntityResult & { id: string; members: MemberResult[] })[];
  connectorGroups: (EntityResult & { name: string; id?: string })[];
}

/** What a run keeps for the next (in the apply's record). */
export interface ApplyState {
  schemaRegistrationId?: string;
  /**
   * The bulk requests this apply made for each group's members (their record row keys, oldest
   * first), written before each starts: a later run reads how they ended, or takes over one that
   * died with the same items, so its records line up with the earlier ones (a keyed retry's rules).
   */
  memberRuns: Record<string, string[]>;
  /**
   * Entity key → since when (ms) its create has been answered "an earlier attempt under this key
   * may have made it; retry once it is settled" (`createOutcomeUnknown`). Reconciliation settles
   * such an attempt after the reconcile age; one it cannot settle (two creates of one connector
   * group name, either may have made it) would hold the apply for good, so past twice that age the
   * entity ends `failed` with that reason.
   */
  unsettledSince?: Record<string, number>;
  /**
   * Entity key → the audit records (row keys) of this apply's creates of it whose outcome is not
   * known yet: noted before each is sent, dropped once one is answered. A later run of the apply
   * accounts for them under the create's Idempotency-Key; past the key's retention only this list
   * still says that one of them may have made the entity.
   */
  creates?: Record<string, string[]>;
}

export const emptyApplyState = (): ApplyState => ({ memberRuns: {} });

export type ApplyRunResult =
  | { kind: 'done'; results: ApplyResults; state: ApplyState }
  | { kind: 'waiting'; step: ApplyStep; reason: string; retryAfterSeconds: number; state: ApplyState };

/** The create operations a manifest is made of (registered by their function files). */
export interface ManifestOperations {
  connection: OperationDefinition;
  group: OperationDefinition;
  connectorGroup: OperationDefinition;
  members: BulkOperationDefinition;
}

export interface ApplyRun {
  runtime: Runtime;
  operations: ManifestOperations;
  /** The apply's record row key: its id, and the stem of its creates' Idempotency-Keys. */
  applyId: string;
  version: string;
  manifest: ConnectorManifest;
  caller: AuthenticatedCaller;
  clientRequestId: string;
  /** Nothing is sent after this. */
  deadlineAt: number;
  state: ApplyState;
  /** Keeps the state in the apply's record before a step that must be found again by a later run. */
  checkpoint: (state: ApplyState) => Promise<void>;
  /** Says in the apply's record what the run waits on while it waits in place (its status shows it). */
  report: (step: ApplyStep, waitingOn: string) => Promise<void>;
  invocation: InvocationContext;
  log: (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;
}

/**
 * The request id of an apply's create of one entity: the same in every run of the apply (a GUID
 * made from the apply's id and the entity), so a later run tells what an earlier one made — its
 * audit record's row key ends with it — from what others made. All share the apply's client-request-id.
 */
export function requestIdOf(applyId: string, entityKey: string): string {
  const hex = createHash('sha256').update(`${applyId}\u0000${entityKey}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

const correlationOf = (run: ApplyRun, entityKey: string): Correlation => ({ requestId: requestIdOf(run.applyId, entityKey), clientRequestId: run.clientRequestId });

/** Whether an audit record (its row key) is of this apply's create of the entity, made by this run or an earlier one. */
const madeByThisApply = (run: ApplyRun, entityKey: string, auditRowKey: string | undefined) =>
  auditRowKey !== undefined && auditRowKey.includes(`_${requestIdOf(run.applyId, entityKey)}`);

/** How long an apply waits on an earlier attempt of one of its creates being settled: twice the reconcile age. */
export const unsettledWaitMs = (runtime: Runtime) => 2 * runtime.settings.reconcileAfterMinutes * 60_000;

async function create(run: ApplyRun, operation: OperationDefinition, params: Record<string, string>, body: Record<string, unknown>, entityKey: string): Promise<CreateOutcome> {
  const receivedAt = new Date(run.runtime.clock.now());
  const rowKey = recordRowKey(receivedAt, requestIdOf(run.applyId, entityKey));
  // Noted before it is sent: a run that dies with it leaves the next one a record to look at.
  const earlier = run.state.creates?.[entityKey] ?? [];
  run.state.creates = { ...run.state.creates, [entityKey]: [...earlier, rowKey] };
  await run.checkpoint(run.state);
  const answered = await sendCreate(run, operation, params, body, entityKey, receivedAt);
  const outcome = await asThisApplySees(run, operation, entityKey, answered);
  if (outcome.kind !== 'retryLater') {
    const { [entityKey]: _answered, ...others } = run.state.creates;
    run.state.creates = others;
  }
  const unsettled = { ...run.state.unsettledSince };
  delete unsettled[entityKey];
  if (outcome.kind !== 'retryLater' || outcome.error.code !== 'createOutcomeUnknown') {
    if (run.state.unsettledSince?.[entityKey] !== undefined) run.state.unsettledSince = unsettled;
    return outcome;
  }
  const now = run.runtime.clock.now();
  const since = run.state.unsettledSince?.[entityKey] ?? now;
  if (now - since < unsettledWaitMs(run.runtime)) {
    run.state.unsettledSince = { ...unsettled, [entityKey]: since };
    return outcome;
  }
  run.state.unsettledSince = unsettled;
  return {
    kind: 'failed',
    error: { ...outcome.error, message: `${outcome.error.message} The apply waited ${Math.round((now - since) / 60_000)} minutes for it; apply the manifest again once that attempt's audit record is settled.` },
  };
}

/**
 * A create's outcome as the apply sees it. An entity another request of the same ask made (the
 * caller's own single create of it, say) was not made by this apply: `exists`, with who made it.
 * Graph's 409 while an earlier create of this apply may have made the entity is no `exists`
 * either: which made it cannot be told (`ownCreateUndecided`).
 */
async function asThisApplySees(run: ApplyRun, operation: OperationDefinition, entityKey: string, outcome: CreateOutcome): Promise<CreateOutcome> {
  if (outcome.kind === 'created' && outcome.madeBy && !madeByThisApply(run, entityKey, outcome.madeBy)) {
    return { kind: 'exists', madeBy: { operation: operation.name, auditRecordId: outcome.madeBy } };
  }
  if (outcome.kind !== 'exists') return outcome;
  const undecided = await ownCreateUndecided(run, operation, entityKey);
  return undecided ? { kind: 'failed', error: undecided } : outcome;
}

/**
 * This apply's earlier create of the entity whose answer was lost and that nothing settled since
 * (reconciliation could not tell it from another request's, or it is still open past its key's
 * retention): it may have made the entity, and another request may have. Never `exists` by guess.
 */
async function ownCreateUndecided(run: ApplyRun, operation: OperationDefinition, entityKey: string): Promise<EntityError | undefined> {
  for (const rowKey of run.state.creates?.[entityKey] ?? []) {
    const record = await run.runtime.audit.get({ partitionKey: operation.name, rowKey });
    if (!record || !mayHaveMadeIt(record)) continue;
    return madeByThisApplyPerhaps(`it (audit record ${rowKey}, ${record.status})`, record.reason);
  }
  return undefined;
}

/**
 * Graph has the entity now, and an earlier create of it by this apply lost its answer: that create
 * may have made it (then it is this apply's), or another request's may have. Never `exists`
 * (another's), never `created` by guess: failed, with the outcome unknown.
 */
function madeByThisApplyPerhaps(what: string, why?: string): EntityError {
  return {
    code: 'createOutcomeUnknown',
    message: `An earlier create of ${what} by this apply lost its answer, and Microsoft Graph has it now: whether this apply or another request made it cannot be told.${why ? ` ${why}` : ''}`.slice(0, 1_000),
    httpStatus: 502,
  };
}

const sendCreate = (run: ApplyRun, operation: OperationDefinition, params: Record<string, string>, body: Record<string, unknown>, entityKey: string, receivedAt: Date) =>
  runCreateStep({
    runtime: run.runtime,
    operation,
    params,
    body,
    caller: run.caller,
    correlation: correlationOf(run, entityKey),
    idempotencyKey: `manifest:${run.applyId}:${entityKey}`.slice(0, 255),
    deadlineAt: run.deadlineAt,
    receivedAt,
    invocation: run.invocation,
  });

/**
 * What the plan says of an entity that is there already: `created` when an earlier run of this
 * apply made it, else `exists` or `differs`, with who made it.
 */
function fromPlan(run: ApplyRun, entityKey: string, plan: EntityPlan): EntityResult {
  if (madeByThisApply(run, entityKey, plan.madeBy?.auditRecordId)) return { outcome: 'created', auditRecordId: plan.madeBy!.auditRecordId };
  return { outcome: plan.action === 'differs' ? 'differs' : 'exists', ...(plan.madeBy ? { madeBy: plan.madeBy } : {}), ...(plan.differences ? { differences: plan.differences } : {}) };
}

/**
 * An entity the plan finds there, as this apply reports it. When no audit record names its maker
 * and this apply's own create of it is still open (an earlier run's attempt whose answer was lost,
 * or Graph's 5xx after carrying it out), the entity may be the one that attempt made, and no read
 * can say (a connector group's id is Graph's): the create runs again under the same key, which
 * accounts for the open attempt before anything is sent (it answers with what that attempt made,
 * or says to wait until it is settled). Else what the plan says (`fromPlan`).
 */
async function foundByPlan(
  run: ApplyRun,
  operation: OperationDefinition,
  params: Record<string, string>,
  body: Record<string, unknown>,
  entityKey: string,
  plan: EntityPlan,
): Promise<{ result: EntityResult; outcome?: CreateOutcome } | { retry: CreateOutcome }> {
  if (!plan.madeBy) {
    const open = await run.runtime.audit.openAttempts(operation.name, entityKeyFor(operation, graphCallFor(operation, params, body, {})));
    if (open.some((attempt) => attempt.recordRowKey.endsWith(`_${requestIdOf(run.applyId, entityKey)}`))) {
      const outcome = await create(run, operation, params, body, entityKey);
      const result = fromCreate(outcome);
      return result ? { result, outcome } : { retry: outcome };
    }
    const undecided = await ownCreateUndecided(run, operation, entityKey);
    if (undecided) return { result: { outcome: 'failed', error: undecided } };
  }
  return { result: fromPlan(run, entityKey, plan) };
}

/** A create's outcome as the apply reports it; undefined when it must be tried again later. */
function fromCreate(outcome: CreateOutcome): EntityResult | undefined {
  switch (outcome.kind) {
    case 'created':
      return { outcome: 'created', ...(outcome.auditRecordId ? { auditRecordId: outcome.auditRecordId } : {}) };
    case 'exists':
      return { outcome: 'exists', ...(outcome.madeBy ? { madeBy: outcome.madeBy } : {}), ...(outcome.error ? { error: outcome.error } : {}) };
    case 'failed':
      return { outcome: 'failed', error: outcome.error };
    case 'retryLater':
      return undefined;
  }
}

type Waiting = Extract<ApplyRunResult, { kind: 'waiting' }>;

/** Groups whose members are added at once: each bulk request keeps BULK_BATCHES_IN_FLIGHT batches out. */
const groupsInFlight = 4;

const waiting = (run: ApplyRun, step: ApplyStep, reason: string, retryAfterSeconds: number): Waiting => ({ kind: 'waiting', step, reason, retryAfterSeconds, state: run.state });

const notAttempted = (): EntityResult => ({ outcome: 'notAttempted' });

export async function runApply(run: ApplyRun): Promise<ApplyRunResult> {
  const { manifest, version, operations } = run;
  const connectionId = manifest.connection.id;
  const plan: ManifestPlan = await planManifest({ runtime: run.runtime, version, manifest, clientRequestId: run.clientRequestId, deadlineAt: run.deadlineAt });

  // connection
  let connection: EntityResult;
  if (plan.connection.action === 'create') {
    const outcome = await create(run, operations.connection, { version }, manifest.connection, 'connection');
    const result = fromCreate(outcome);
    if (!result) return waiting(run, 'connection', outcome.kind === 'retryLater' ? outcome.error.message : '', retryOf(outcome));
    connection = result;
  } else {
    const found = await foundByPlan(run, operations.connection, { version }, manifest.connection, 'connection', plan.connection);
    if ('retry' in found) return waiting(run, 'connection', found.retry.kind === 'retryLater' ? found.retry.error.message : '', retryOf(found.retry));
    connection = found.result;
  }
  const connectionThere = connection.outcome !== 'failed';

  // schema: Graph provisions it in minutes; the apply waits for its operation to end
  let schema: ApplyResults['schema'];
  if (manifest.schema && plan.schema) {
    if (!connectionThere) schema = notAttempted();
    // Once this apply registered it, its registration says how it ended (the plan then finds it there).
    else if (plan.schema.action !== 'create' && !run.state.schemaRegistrationId) schema = fromPlan(run, 'schema', plan.schema);
    else {
      let registration = run.state.schemaRegistrationId
        ? await findSchemaRegistration(run.runtime, run.state.schemaRegistrationId)
        : await startSchemaRegistration({
            runtime: run.runtime,
            caller: run.caller,
            correlation: correlationOf(run, 'schema'),
            receivedAt: new Date(run.runtime.clock.now()),
            version,
            connectionId,
            schema: manifest.schema,
            deadlineAt: Math.min(run.deadlineAt, run.runtime.clock.now() + run.runtime.settings.graphDeadlineMs),
            parentRowKey: run.applyId,
          }).catch((error: unknown) => ({ failure: error }));
      if (registration && 'failure' in registration) {
        const error = registration.failure as { code?: string; message?: string; status?: number };
        schema = { outcome: 'failed', error: { code: error.code ?? 'generalException', message: error.message ?? 'The schema registration failed.', ...(error.status ? { httpStatus: error.status } : {}) } };
      } else if (!registration) {
        // The registration record is gone (should not happen): register again.
        run.state.schemaRegistrationId = undefined;
        return waiting(run, 'schema', 'the schema registration is registered again', 1);
      } else {
        run.state.schemaRegistrationId = registration.rowKey;
        if (!registrationIsOver(registration)) {
          if (await resumeRegistrationIfAbandoned(run.runtime, registration)) run.log('warn', 'schema registration looked at by no run for long; queued again', { id: registration.rowKey });
          await run.report('schema', schemaWaitOf(registration)).catch(() => undefined);
          registration = await waitInPlace(run, registration);
        }
        if (!registrationIsOver(registration)) {
          // Looked at as often as the registration's own job looks at Graph's operation.
          return waiting(run, 'schema', schemaWaitOf(registration), pollDelaySeconds(operationAgeOf(registration, run.runtime.clock.now())));
        }
        schema = registration.status === 'succeeded'
          ? { outcome: 'created', registrationId: registration.rowKey, auditRecordId: registration.rowKey }
          : { outcome: 'failed', registrationId: registration.rowKey, error: { code: registration.errorCode ?? 'schemaRegistrationFailed', message: registration.errorMessage ?? 'The schema registration failed.' } };
      }
    }
  }
  const schemaReady = !schema || schema.outcome !== 'failed' && schema.outcome !== 'notAttempted';

  // groups, a few at a time; each group's members (a bulk request per group through the bulk
  // route's job) follow as soon as it and the manifest's groups among its members are there
  const groupCreates = new Map(plan.groups.map((groupPlan) => [groupPlan.id, settledLater<EntityResult | Waiting>()]));
  const creatingGroups = inParallel(plan.groups, groupsInFlight, async (groupPlan) => {
    const created = groupCreates.get(groupPlan.id)!;
    await applyGroup(run, groupPlan, connectionThere && schemaReady).then(created.resolve, created.reject);
  });
  const addingMembers = inParallel(plan.groups, groupsInFlight, async (groupPlan) => {
    const group = await groupCreates.get(groupPlan.id)!.promise;
    if ('kind' in group) return group;
    const groupThere = group.outcome === 'created' || group.outcome === 'exists' || group.outcome === 'differs';
    if (!groupThere) return { id: groupPlan.id, ...group, members: groupPlan.members.map((member): MemberResult => ({ id: member.id, outcome: 'notAttempted' })) };
    await Promise.all(memberGroupsOf(run.manifest, groupPlan.id).map((id) => groupCreates.get(id)?.promise));
    const members = await applyMembers(run, groupPlan);
    return 'kind' in members ? members : { id: groupPlan.id, ...group, members: members.results };
  });
  const [groupOutcomes] = await Promise.all([addingMembers, creatingGroups]);
  const waitingOnGroups = groupOutcomes.filter((outcome): outcome is Waiting => 'kind' in outcome);
  if (waitingOnGroups.length > 0) {
    const first = waitingOnGroups.find((outcome) => outcome.step === 'groups') ?? waitingOnGroups[0]!;
    return { ...first, retryAfterSeconds: Math.min(...waitingOnGroups.map((outcome) => outcome.retryAfterSeconds)) };
  }
  const groups: ApplyResults['groups'] = groupOutcomes.filter((outcome): outcome is Exclude<typeof outcome, Waiting> => !('kind' in outcome));
  // connector groups (beta; independent of the connection)
  const connectorGroups: ApplyResults['connectorGroups'] = [];
  let retryConnectorGroups: number | undefined;
  for (const groupPlan of plan.connectorGroups) {
    const body = manifest.connectorGroups!.find((group) => group.name === groupPlan.name)!;
    let outcome: CreateOutcome;
    let result: EntityResult | undefined;
    if (groupPlan.action !== 'create') {
      const found = await foundByPlan(run, operations.connectorGroup, {}, body, `connectorGroup:${groupPlan.name}`, groupPlan);
      if ('result' in found && !found.outcome) {
        if (found.result.outcome === 'created' && found.result.auditRecordId && !(await adoptOrphan(run, operations.connectorGroup, found.result.auditRecordId))) {
          // Its record must agree before the results name it: the next run tries again.
          retryConnectorGroups = Math.max(retryConnectorGroups ?? 0, 5);
          continue;
        }
        connectorGroups.push({ name: groupPlan.name, ...(groupPlan.id ? { id: groupPlan.id } : {}), ...found.result });
        continue;
      }
      outcome = 'retry' in found ? found.retry : found.outcome!;
      result = 'result' in found ? found.result : undefined;
    } else {
      outcome = await create(run, operations.connectorGroup, {}, body, `connectorGroup:${groupPlan.name}`);
      result = fromCreate(outcome);
    }
    if (!result) {
      retryConnectorGroups = Math.max(retryConnectorGroups ?? 0, retryOf(outcome));
      continue;
    }
    const id = outcome.kind === 'created' ? String(outcome.entity.id ?? '') : undefined;
    connectorGroups.push({ name: groupPlan.name, ...(id ? { id } : {}), ...result });
  }
  if (retryConnectorGroups !== undefined) return waiting(run, 'connectorGroups', 'Microsoft Graph asked to retry a connector group create later', retryConnectorGroups);

  const results: ApplyResults = {
    outcome: 'succeeded',
    counts: { created: 0, exists: 0, differs: 0, failed: 0, notAttempted: 0 },
    connection: { id: connectionId, ...connection },
    ...(schema ? { schema } : {}),
    groups,
    connectorGroups,
  };
  const tally = (outcome: EntityOutcome) => {
    results.counts[outcome] += 1;
  };
  tally(connection.outcome);
  if (schema) tally(schema.outcome);
  for (const group of groups) {
    tally(group.outcome);
    for (const member of group.members) tally(member.outcome);
  }
  for (const group of connectorGroups) tally(group.outcome);
  if (results.counts.failed > 0 || results.counts.notAttempted > 0) results.outcome = 'failed';
  return { kind: 'done', results, state: run.state };
}

/**
 * A connector group an earlier run of this apply made, found there now: its id reaches the apply's
 * caller in these results, so a record reconciliation settled `orphaned` meanwhile (its id had
 * reached nobody) says `succeeded` from now on, as a keyed retry's answer does for its key's record.
 * False when the record could not be read or written: the results do not name the group until it is.
 */
async function adoptOrphan(run: ApplyRun, operation: OperationDefinition, rowKey: string): Promise<boolean> {
  const { runtime } = run;
  let record: StoredAuditRecord | undefined;
  try {
    record = await runtime.audit.get({ partitionKey: operation.name, rowKey });
  } catch {
    return false;
  }
  if (record?.status !== 'orphaned' || !record.entityId) return true;
  const now = new Date(runtime.clock.now());
  const outcome = {
    status: 'succeeded' as const,
    entityId: record.entityId,
    recovery: 'laterRequest' as const,
    reason: 'a later run of the manifest apply that made it was answered with it',
    httpStatus: record.httpStatus ?? 0,
    completedAt: now,
    responseBody: keptJson(record.responseBody) ?? null,
  };
  try {
    await runtime.audit.settle({ partitionKey: operation.name, changes: [{ record, etag: record.etag, outcome }] }, now);
    return true;
  } catch (error) {
    // A write whose answer was lost may have landed: the next run reads the record again.
    run.log('warn', 'an orphaned connector group this apply made is still recorded orphaned; tried again', { rowKey, reason: String(error) });
    return false;
  }
}


/** A promise with its settling functions, for work another pool waits on. */
function settledLater<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  // Awaited by the members' pool, or not at all when it stopped first: never an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The manifest's other groups that are members of this one (type externalGroup): they are created before its members are added. */
function memberGroupsOf(manifest: ConnectorManifest, groupId: string): string[] {
  const ids = new Set((manifest.groups ?? []).map((group) => String(group.id)));
  const members = manifest.groups?.find((group) => group.id === groupId)?.members ?? [];
  return members.filter((member) => member.type === 'externalGroup' && ids.has(String(member.id)) && member.id !== groupId).map((member) => String(member.id));
}

/** One group of the manifest: created when the plan says so (once what it depends on is there), else as the plan found it. */
async function applyGroup(run: ApplyRun, groupPlan: GroupPlan, dependenciesThere: boolean): Promise<EntityResult | Waiting> {
  if (!dependenciesThere) return notAttempted();
  const { members: _members, ...groupBody } = run.manifest.groups!.find((group) => group.id === groupPlan.id)!;
  const params = { version: run.version, connectionId: run.manifest.connection.id };
  const entityKey = `group:${groupPlan.id}`;
  const later = (outcome: CreateOutcome) => waiting(run, 'groups', 'Microsoft Graph asked to retry a group create later', retryOf(outcome));
  if (groupPlan.action !== 'create') {
    const found = await foundByPlan(run, run.operations.group, params, groupBody, entityKey, groupPlan);
    return 'result' in found ? found.result : later(found.retry);
  }
  const outcome = await create(run, run.operations.group, params, groupBody, entityKey);
  return fromCreate(outcome) ?? later(outcome);
}

/**
 * How long a run waits in place for a schema registration before it hands the wait to the queue:
 * Graph provisions a schema in minutes, but a run that finds it nearly done saves the queue's round
 * trip and a new plan. Read as often as the registration's own job looks at Graph's operation.
 */
const schemaWaitInPlaceMs = 20_000;

async function waitInPlace(run: ApplyRun, registration: StoredSchemaRegistration): Promise<StoredSchemaRegistration> {
  const { runtime } = run;
  let current = registration;
  // Bounded by reads as well as by the clock: the run's deadline is on the runtime's clock, the waits are real.
  for (let reads = 0; reads < schemaWaitInPlaceMs / schemaReadEveryMs && !registrationIsOver(current); reads += 1) {
    if (runtime.clock.now() + schemaReadEveryMs >= run.deadlineAt) break;
    await new Promise((resolve) => setTimeout(resolve, schemaReadEveryMs));
    // A read the table does not answer ends the wait: the queue looks again.
    const read = await findSchemaRegistration(runtime, current.rowKey).catch(() => undefined);
    if (!read) break;
    current = read;
  }
  return current;
}

const schemaReadEveryMs = 250;

const schemaWaitOf = (registration: StoredSchemaRegistration) => `Microsoft Graph is provisioning the schema (operation ${registration.operationStatus ?? 'not yet accepted'})`;

function retryOf(outcome: CreateOutcome): number {
  return outcome.kind === 'retryLater' ? Math.max(1, Math.min(60, outcome.retryAfterSeconds)) : 1;
}



const isTransient = (result: BulkItemResult) => result.status === 'failed' && result.error !== undefined && (result.error.httpStatus >= 500 || result.error.httpStatus === 429);

/**
 * A member whose add by an earlier run of this apply was left open, and whose add now is undecided
 * again (Graph has it, and another request's add may have made it): members have no read, so no
 * later run can settle it either; the apply reports it, rather than wait for ever.
 */
const undecidedAgain = (item: BulkItemResult, uncertain: ReadonlySet<string>) => item.status === 'failed' && item.error?.code === 'createOutcomeUnknown' && uncertain.has(item.id);

/** A member Graph has whose earlier add by this apply lost its answer (members have no read to tell). */
const addedByThisApplyPerhaps = (id: string): MemberResult => ({ id, outcome: 'failed', error: madeByThisApplyPerhaps('this member') });

/**
 * An item's result as the apply reports it, given the members an earlier run of it left open. A
 * member another request of the same ask added (the caller's own single add of it, say), which the
 * add was answered with, was not added by this apply: `exists`.
 */
function memberResultAfter(run: ApplyRun, groupId: string, item: BulkItemResult, uncertain: ReadonlySet<string>): MemberResult {
  if (undecidedAgain(item, uncertain) || (item.status === 'alreadyMember' && uncertain.has(item.id))) return addedByThisApplyPerhaps(item.id);
  if (item.status === 'created' && item.madeBy && !madeByThisApply(run, `members:${groupId}`, item.madeBy)) return { id: item.id, outcome: 'exists' };
  return memberResultOf(item);
}

function memberResultOf(item: BulkItemResult): MemberResult {
  if (item.status === 'created') return { id: item.id, outcome: 'created' };
  if (item.status === 'alreadyMember') return { id: item.id, outcome: 'exists' };
  return { id: item.id, outcome: 'failed', ...(item.error ? { error: item.error } : {}) };
}

/**
 * One group's members. What the audit index shows is there (this apply's adds count as created);
 * what this apply's earlier bulk requests settled is taken from their results; a bulk request of
 * this apply still running on the queue is waited for; one that died within a run is taken over
 * with the same items and its record as an earlier attempt; the rest are added now.
 */
async function applyMembers(run: ApplyRun, groupPlan: GroupPlan): Promise<{ results: MemberResult[] } | Waiting> {
  const { runtime, operations } = run;
  const groupId = groupPlan.id;
  const entityKey = `members:${groupId}`;
  const partitionKey = operations.members.item.name;
  const earlierRuns = run.state.memberRuns[groupId] ?? [];
  const settled = new Map<string, MemberResult>();
  /** Members an earlier run of this apply may have added, their answers lost. */
  const uncertain = new Set<string>();
  let takeOver: { items: Record<string, unknown>[] } | undefined;
  for (const [position, rowKey] of earlierRuns.entries()) {
    const job = await runtime.audit.getRow<BulkEntity>({ partitionKey, rowKey });
    if (job?.kind !== 'bulk') continue; // it died before its record was written: nothing of it was sent
    if (job.status === 'completed') {
      const itemResults = fromChunks<BulkResults>(job, 'results')?.results ?? [];
      for (const item of itemResults) {
        if (isTransient(item) && !undecidedAgain(item, uncertain)) uncertain.add(item.id);
        else settled.set(item.id, memberResultAfter(run, groupId, item, uncertain));
      }
      // Some of the last run's adds were left open (their answers lost): the next run sends the same
      // items with the earlier runs as its earlier attempts, so an add one of them made is this
      // apply's (a keyed retry's rules), never "already there, added by another request".
      if (position === earlierRuns.length - 1 && itemResults.some(isTransient)) takeOver = { items: fromChunks<Record<string, unknown>[]>(job, 'items') ?? [] };
      continue;
    }
    if (position !== earlierRuns.length - 1) continue;
    // A queued bulk job carries itself on; one run within an earlier run of this apply died with
    // it (this run holds the apply's lease, so no earlier run of it is still at work).
    if (job.async) {
      return waiting(run, 'members', `the members of group ${groupId} are being added (job ${rowKey})`, 2);
    }
    takeOver = { items: fromChunks<Record<string, unknown>[]>(job, 'items') ?? [] };
  }

  const results: MemberResult[] = groupPlan.members.map((member) => {
    if (member.action === 'exists') return { id: member.id, outcome: madeByThisApply(run, entityKey, member.auditRecordId) ? 'created' : 'exists' };
    return settled.get(member.id) ?? { id: member.id, outcome: 'notAttempted' };
  });
  const open = groupPlan.members.filter((member) => member.action === 'create' && !settled.has(member.id));
  if (open.length === 0) return { results };

  const bodies = new Map((run.manifest.groups!.find((candidate) => candidate.id === groupId)!.members ?? []).map((member) => [String(member.id), member]));
  const items = takeOver?.items ?? open.map((member) => bodies.get(member.id)!);
  const receivedAt = new Date(runtime.clock.now());
  const correlation = correlationOf(run, entityKey);
  run.state.memberRuns[groupId] = [...earlierRuns, recordRowKey(receivedAt, correlation.requestId)];
  await run.checkpoint(run.state);
  const answer = await startBulkRequest({
    runtime,
    operation: operations.members,
    caller: run.caller,
    correlation,
    receivedAt,
    deadlineAt: run.deadlineAt,
    version: run.version,
    collectionPath: manifestPaths.members(run.manifest.connection.id, groupId),
    items,
    earlierAttempts: takeOver ? earlierRuns : [],
    preferAsync: false,
    statusUrl: (id) => id,
    log: run.log,
  });
  if (answer.kind === 'accepted') return waiting(run, 'members', `the members of group ${groupId} are being added (job ${answer.id})`, answer.retryAfterSeconds);
  let transient = false;
  for (const item of answer.results.results) {
    const index = results.findIndex((member) => member.id === item.id);
    if (isTransient(item) && !undecidedAgain(item, uncertain)) transient = true;
    if (index >= 0) results[index] = memberResultAfter(run, groupId, item, uncertain);
  }
  if (transient) return waiting(run, 'members', `some members of group ${groupId} could not be added yet`, 5);
  return { results };
}
