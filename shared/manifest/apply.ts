import { randomUUID } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { AuthenticatedCaller } from '../auth/caller';
import { findBulkJob, startBulkRequest } from '../bulk/job';
import type { Correlation } from '../errors';
import type { BulkOperationDefinition, OperationDefinition } from '../operations/operation';
import type { Runtime } from '../runtime';
import type { ConnectorManifest } from '../schemas/manifest';
import { runCreateStep, type CreateOutcome } from './createStep';
import { inParallel, manifestPaths, planManifest, type EntityPlan, type MadeBy, type ManifestPlan } from './plan';
import { findSchemaRegistration, registrationIsOver, startSchemaRegistration } from './schemaRegistration';

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

export interface MemberResult {
  id: string;
  outcome: 'created' | 'exists' | 'failed' | 'notAttempted';
  error?: { code: string; message: string; httpStatus: number };
}

export interface ApplyResults {
  outcome: 'succeeded' | 'failed';
  counts: Record<EntityOutcome, number>;
  connection: EntityResult & { id: string };
  schema?: EntityResult & { registrationId?: string };
  groups: (EntityResult & { id: string; members: MemberResult[]; memberJobId?: string })[];
  connectorGroups: (EntityResult & { name: string; id?: string })[];
}

/** What a run keeps for the next (in the apply's record). */
export interface ApplyState {
  schemaRegistrationId?: string;
  /** Member jobs queued by the bulk route, by group id. */
  memberJobs: Record<string, string>;
  /** Members already settled by an earlier run that the audit index does not show (already there elsewhere, failed). */
  memberOutcomes: Record<string, MemberResult[]>;
}

export const emptyApplyState = (): ApplyState => ({ memberJobs: {}, memberOutcomes: {} });

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
  invocation: InvocationContext;
  log: (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;
}

/** A fresh request id for each create, all sharing the apply's client-request-id. */
const correlationOf = (run: ApplyRun): Correlation => ({ requestId: randomUUID(), clientRequestId: run.clientRequestId });

const create = (run: ApplyRun, operation: OperationDefinition, params: Record<string, string>, body: Record<string, unknown>, entityKey: string) =>
  runCreateStep({
    runtime: run.runtime,
    operation,
    params,
    body,
    caller: run.caller,
    correlation: correlationOf(run),
    idempotencyKey: `manifest:${run.applyId}:${entityKey}`.slice(0, 255),
    deadlineAt: run.deadlineAt,
    invocation: run.invocation,
  });

/** What the plan says of an entity that is there already: `exists` or `differs`, with who made it. */
function fromPlan(plan: EntityPlan): EntityResult {
  return { outcome: plan.action === 'differs' ? 'differs' : 'exists', ...(plan.madeBy ? { madeBy: plan.madeBy } : {}), ...(plan.differences ? { differences: plan.differences } : {}) };
}

/** A create's outcome as the apply reports it; undefined when it must be tried again later. */
function fromCreate(outcome: CreateOutcome): EntityResult | undefined {
  switch (outcome.kind) {
    case 'created':
      return { outcome: 'created', ...(outcome.auditRecordId ? { auditRecordId: outcome.auditRecordId } : {}) };
    case 'exists':
      return { outcome: 'exists', error: outcome.error };
    case 'failed':
      return { outcome: 'failed', error: outcome.error };
    case 'retryLater':
      return undefined;
  }
}

const waiting = (run: ApplyRun, step: ApplyStep, reason: string, retryAfterSeconds: number): ApplyRunResult => ({ kind: 'waiting', step, reason, retryAfterSeconds, state: run.state });

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
    connection = fromPlan(plan.connection);
  }
  const connectionThere = connection.outcome !== 'failed';

  // schema: Graph provisions it in minutes; the apply waits for its operation to end
  let schema: ApplyResults['schema'];
  if (manifest.schema && plan.schema) {
    if (!connectionThere) schema = notAttempted();
    // Once this apply registered it, its registration says how it ended (the plan then finds it there).
    else if (plan.schema.action !== 'create' && !run.state.schemaRegistrationId) schema = fromPlan(plan.schema);
    else {
      const registration = run.state.schemaRegistrationId
        ? await findSchemaRegistration(run.runtime, run.state.schemaRegistrationId)
        : await startSchemaRegistration({
            runtime: run.runtime,
            caller: run.caller,
            correlation: correlationOf(run),
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
        if (!registrationIsOver(registration)) return waiting(run, 'schema', `Microsoft Graph is provisioning the schema (operation ${registration.operationStatus ?? 'not yet accepted'})`, 5);
        schema = registration.status === 'succeeded'
          ? { outcome: 'created', registrationId: registration.rowKey, auditRecordId: registration.rowKey }
          : { outcome: 'failed', registrationId: registration.rowKey, error: { code: registration.errorCode ?? 'schemaRegistrationFailed', message: registration.errorMessage ?? 'The schema registration failed.' } };
      }
    }
  }
  const schemaReady = !schema || schema.outcome !== 'failed' && schema.outcome !== 'notAttempted';

  // groups
  const groupResults = new Map<string, EntityResult>();
  let retryGroups: number | undefined;
  await inParallel(plan.groups, 4, async (groupPlan) => {
    if (!connectionThere || !schemaReady) return groupResults.set(groupPlan.id, notAttempted());
    if (groupPlan.action !== 'create') return groupResults.set(groupPlan.id, fromPlan(groupPlan));
    const body = manifest.groups!.find((group) => group.id === groupPlan.id)!;
    const { members: _members, ...groupBody } = body;
    const outcome = await create(run, operations.group, { version, connectionId }, groupBody, `group:${groupPlan.id}`);
    const result = fromCreate(outcome);
    if (result) groupResults.set(groupPlan.id, result);
    else retryGroups = Math.max(retryGroups ?? 0, retryOf(outcome));
    return undefined;
  });
  if (retryGroups !== undefined) return waiting(run, 'groups', 'Microsoft Graph asked to retry a group create later', retryGroups);

  // members, a bulk request per group through the bulk route's job
  const groups: ApplyResults['groups'] = [];
  for (const groupPlan of plan.groups) {
    const group = groupResults.get(groupPlan.id)!;
    const groupThere = group.outcome === 'created' || group.outcome === 'exists' || group.outcome === 'differs';
    const earlier = new Map((run.state.memberOutcomes[groupPlan.id] ?? []).map((member) => [member.id, member]));
    const members: MemberResult[] = groupPlan.members.map((member) =>
      !groupThere ? { id: member.id, outcome: 'notAttempted' } : member.action === 'exists' ? { id: member.id, outcome: 'exists' } : earlier.get(member.id) ?? { id: member.id, outcome: 'notAttempted' },
    );
    const toAdd = groupThere ? groupPlan.members.filter((member) => member.action === 'create' && !earlier.has(member.id)) : [];
    const jobId = run.state.memberJobs[groupPlan.id];
    if (jobId) {
      const job = await findBulkJob(run.runtime, [operations.members], jobId);
      if (job && job.status !== 'completed') return waiting(run, 'members', `the members of group ${groupPlan.id} are being added (job ${jobId})`, 2);
      delete run.state.memberJobs[groupPlan.id];
      // The job ended: what it added now shows in the audit index; a next run plans the rest afresh.
      if (toAdd.length > 0) return waiting(run, 'members', `the members of group ${groupPlan.id} were added; checking them`, 0);
    }
    if (toAdd.length > 0) {
      const bodies = manifest.groups!.find((candidate) => candidate.id === groupPlan.id)!.members!;
      const byId = new Map(bodies.map((member) => [String(member.id), member]));
      const receivedAt = new Date(run.runtime.clock.now());
      const answer = await startBulkRequest({
        runtime: run.runtime,
        operation: operations.members,
        caller: run.caller,
        correlation: correlationOf(run),
        receivedAt,
        deadlineAt: run.deadlineAt,
        version,
        collectionPath: manifestPaths.members(connectionId, groupPlan.id),
        items: toAdd.map((member) => byId.get(member.id)!),
        earlierAttempts: [],
        preferAsync: false,
        statusUrl: (id) => id,
        log: run.log,
      });
      if (answer.kind === 'accepted') {
        run.state.memberJobs[groupPlan.id] = answer.id;
        return waiting(run, 'members', `the members of group ${groupPlan.id} are being added (job ${answer.id})`, answer.retryAfterSeconds);
      }
      const settled: MemberResult[] = [];
      let retry = false;
      for (const item of answer.results.results) {
        const result: MemberResult = item.status === 'created'
          ? { id: item.id, outcome: 'created' }
          : item.status === 'alreadyMember'
            ? { id: item.id, outcome: 'exists' }
            : { id: item.id, outcome: 'failed', ...(item.error ? { error: item.error } : {}) };
        const transient = item.status === 'failed' && item.error && (item.error.httpStatus >= 500 || item.error.httpStatus === 429);
        if (transient) retry = true;
        else if (result.outcome !== 'created') settled.push(result);
        const index = members.findIndex((member) => member.id === item.id);
        if (index >= 0) members[index] = result;
      }
      run.state.memberOutcomes[groupPlan.id] = [...(run.state.memberOutcomes[groupPlan.id] ?? []), ...settled];
      if (retry) return waiting(run, 'members', `some members of group ${groupPlan.id} could not be added yet`, 5);
    }
    groups.push({ id: groupPlan.id, ...group, members });
  }

  // connector groups (beta; independent of the connection)
  const connectorGroups: ApplyResults['connectorGroups'] = [];
  let retryConnectorGroups: number | undefined;
  for (const groupPlan of plan.connectorGroups) {
    if (groupPlan.action !== 'create') {
      connectorGroups.push({ name: groupPlan.name, ...(groupPlan.id ? { id: groupPlan.id } : {}), ...fromPlan(groupPlan) });
      continue;
    }
    const body = manifest.connectorGroups!.find((group) => group.name === groupPlan.name)!;
    const outcome = await create(run, operations.connectorGroup, {}, body, `connectorGroup:${groupPlan.name}`);
    const result = fromCreate(outcome);
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

function retryOf(outcome: CreateOutcome): number {
  return outcome.kind === 'retryLater' ? Math.max(1, Math.min(60, outcome.retryAfterSeconds)) : 1;
}


