import Joi from 'joi';
import type { AuditStatus } from '../audit/auditRecord';
import type { OperationDefinition } from '../operations/operation';
import { auditWindow, maxPageSize, defaultPageSize } from '../audit/auditQuery';

/**
 * The audit query API's parameters and answers (docs/integrating.md "Audit query API"): joi rules the pipeline
 * validates with and the OpenAPI documents are generated from.
 */

export const auditStatuses: readonly AuditStatus[] = ['pending', 'succeeded', 'failed', 'alreadyExisted', 'unknown', 'orphaned', 'unresolved'];

const windowed = `Limited to a time window (from, to) of at most ${auditWindow.maxDays} days; without from, the last ${auditWindow.defaultDays} days.`;

/** An operation's name, one of those the app serves (each has its own audit partition). */
export const operationName = (operations: readonly string[]) =>
  (operations.length > 0 ? Joi.string().valid(...operations) : Joi.string())
    .description('The create operation, e.g. createExternalGroup.');

/** A date-time with its time zone (RFC 3339): without one, a time would mean the server's local time. */
const instantMessage = '{{#label}} must be a date-time with its time zone (ISO 8601), e.g. 2026-11-01T00:00:00Z';
/** One problem, one detail: a value that breaks the shape is not also reported as no ISO date. */
const instant = (description: string) =>
  Joi.string()
    .pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, 'a date-time with its time zone')
    .isoDate()
    .prefs({ abortEarly: true })
    .messages({ 'string.pattern.name': instantMessage, 'string.isoDate': instantMessage })
    .description(description);

export const timeWindowParameters = {
  from: instant('Only records requested at or after this time, ISO 8601 with a time zone, e.g. 2026-11-01T00:00:00Z.'),
  to: instant('Only records requested before this time, ISO 8601 with a time zone; default now.'),
};

const statusList = new RegExp(`^(${auditStatuses.join('|')})(,(${auditStatuses.join('|')}))*$`);

export const auditListParameters = (operations: readonly string[]) => ({
  operation: operationName(operations).description(
    'Only the records of this operation, e.g. createExternalGroup, or applyConnectorManifest for manifest applies; without it, the records of every operation, newest first.',
  ),
  status: Joi.string().pattern(statusList, 'a list of audit states')
    .messages({ 'string.pattern.name': `{{#label}} must be one or more audit states separated by commas: ${auditStatuses.join(', ')}` }).description(
    `Only records in these states, comma-separated: ${auditStatuses.join(', ')}. ${windowed}`,
  ),
  entityId: Joi.string().min(1).max(256).description(`Only the records of the entity with this id. ${windowed}`),
  callerId: Joi.string().min(1).max(128).description(`Only the records of this caller: the object id (oid) of the user or of the app's service principal. ${windowed}`),
  clientRequestId: Joi.string().min(1).max(256).description(
    `Only the records of requests sent with this client-request-id: a manifest apply's record and the records of every create it made share the apply's. ${windowed}`,
  ),
  ...timeWindowParameters,
  $top: Joi.number().integer().min(1).max(maxPageSize).description(`Records per page, 1 to ${maxPageSize}; default ${defaultPageSize}.`),
  $skiptoken: Joi.string().max(2048).description('Where the next page starts: the value @odata.nextLink carries, never written by hand.'),
});

/** Path parameters of one entity's records. */
export const entityAuditPathParameters = (operations: readonly string[]) => ({
  operation: operationName(operations).description('The create operation that made (or tried to make) the entity, e.g. createExternalGroup.'),
  entityId: Joi.string().min(1).max(256).description(
    'The entity\'s id: the id sent in the create (connections, groups, members), or the one Microsoft Graph gave a connector group.',
  ),
});

/** The states of a bulk request's own record (shared/bulk/bulkRecord.ts). */
const bulkStatuses = ['accepted', 'running', 'completed'] as const;

const text = (description: string) => Joi.string().description(description);
const time = (description: string) => Joi.date().iso().description(description);
const count = (description: string) => Joi.number().integer().min(0).description(description);

/** What the list shows of a record: who asked what, what became of it and when; never the bodies. */
const recordFields = {
  requestId: text('Id of the request at the facade (the request-id header it answered with): identifies the record.'),
  operation: text('The create operation, e.g. createExternalGroup.'),
  entityType: text('The entity type, e.g. externalGroup.'),
  entityId: text('The entity\'s id; for a connector group, the id Microsoft Graph gave it, once known.'),
  graphPath: text('The Microsoft Graph call, e.g. /v1.0/external/connections/contosohr/groups.'),
  graphVersion: text('The Microsoft Graph version called: v1.0 or beta.'),
  status: Joi.string().valid(...auditStatuses, ...bulkStatuses).description(
    'What became of the request: pending (not recorded yet), succeeded, failed, alreadyExisted (the entity was there already, made by another request: this one made nothing, and its caller was told so as an outcome, e.g. a bulk member answered alreadyMember; not a failure), unknown (the answer was lost; the entity may exist), orphaned (made, but its id never reached the caller) or unresolved (still unknown when the retention ended). A bulk request\'s own record (operation addExternalGroupMembersInBulk, no entityId): accepted, running, completed, or failed (nothing could be added: the group or connection does not exist; errorCode says why). A manifest apply\'s record (operation applyConnectorManifest): accepted, running or completed, with its outcome. A schema registration\'s record (operation registerConnectionSchema): pending, running (Graph provisions the schema), succeeded or failed.',
  ),
  httpStatus: count('The HTTP status Microsoft Graph answered (0 when it did not answer).'),
  errorCode: text('Microsoft Graph\'s error code, or the facade\'s, when the request did not succeed.'),
  reason: text('Why the record says what it says when Graph\'s answer alone does not: lost answers, recoveries, unresolved outcomes.'),
  recovery: Joi.string().valid('readBack', 'createConflict', 'earlierAttempt', 'laterRequest', 'reconciliation').description(
    'How a lost answer was settled: readBack, createConflict, earlierAttempt, laterRequest or reconciliation.',
  ),
  madeBy: text('Request id of the request whose attempt made the entity, when not this one.'),
  settledBy: text('Request id of the later request whose answer settled this record.'),
  retries: count('Microsoft Graph attempts after the first.'),
  callerId: text('Who asked: the object id (oid) of the user or of the app\'s service principal.'),
  callerAppId: text('The client application the caller used (azp or appid of the token).'),
  callerName: text('A user\'s sign-in name; absent for apps.'),
  callerTenantId: text('The caller\'s tenant (tid of the token).'),
  clientRequestId: text('The caller\'s client-request-id.'),
  graphRequestId: text('The request-id Microsoft Graph gave its answer.'),
  requestedAt: time('When the request was received (UTC).'),
  completedAt: time('When its outcome was recorded (UTC).'),
  durationMs: count('Milliseconds from request to recorded outcome.'),
  reconciledAt: time('When reconciliation settled the record (UTC).'),
  reconcileAttempts: count('Reconciliation runs that could not settle the record yet.'),
  reconcileError: text('Why the last reconciliation run could not settle it.'),
  total: count('A bulk request\'s record: how many items it holds (each has a record of its own).'),
  created: count('A bulk request\'s or manifest apply\'s record: items (entities) created.'),
  alreadyMember: count('A bulk request\'s record: items that already existed (Graph answered 409).'),
  failed: count('A bulk request\'s or manifest apply\'s record: items (entities) that failed.'),
  outcome: Joi.string().valid('succeeded', 'failed').description('A manifest apply\'s record, once completed: succeeded, or failed when an entity failed or was not attempted.'),
  exists: count('A manifest apply\'s record: entities that were there already with the same values.'),
  differs: count('A manifest apply\'s record: entities that were there already with other values (reported, never changed).'),
  notAttempted: count('A manifest apply\'s record: entities not attempted because what they depend on failed.'),
  step: Joi.string().valid('connection', 'schema', 'groups', 'members', 'connectorGroups').description('A manifest apply\'s record, until it completes: the step it waits on.'),
  waitingOn: text('A manifest apply\'s record, until it completes: what it waits on, in words.'),
  operationStatus: text('A schema registration\'s record: what Microsoft Graph\'s connection operation said last (inprogress, completed, failed).'),
  partOf: text('Request id of the manifest apply this record belongs to (a schema registration it made).'),
};

export const auditRecordSchema = Joi.object(recordFields).description('One audit record: a create request and what became of it.');

export const auditRecordPage = Joi.object({
  value: Joi.array().items(auditRecordSchema).description('The records of this page, newest first.'),
  '@odata.nextLink': Joi.string().uri().description('URL of the next page, absent on the last one; call it as it is, with the same token.'),
}).description('One page of audit records, newest first.');

/** One entity's records: the list's fields, what was sent and answered, and which record made the entity. */
export const entityAuditRecordSchema = Joi.object({
  ...recordFields,
  madeEntity: Joi.boolean().description('True for the record of the request that made the entity (the entity index points at it).'),
  requestBody: text('The JSON sent to Microsoft Graph, as text, at most 32 KiB.'),
  requestBodyTruncated: Joi.boolean().description('True when requestBody was cut at 32 KiB.'),
  responseBody: text('The JSON Microsoft Graph answered with, as text, at most 32 KiB.'),
  responseBodyTruncated: Joi.boolean().description('True when responseBody was cut at 32 KiB.'),
}).description('One audit record of the entity, with the bodies.');

export const entityAuditRecords = Joi.object({
  value: Joi.array().items(entityAuditRecordSchema).description('The entity\'s records, newest first.'),
}).description('The audit records of one entity, newest first.');

/**
 * The parents an entity can live below (`connectionId`, `groupId`: an operation's path parameters
 * other than the Graph version), optional on the entity route: with them, the entity's Graph path
 * is known, and the record that made it is found however old it is.
 */
export function parentParameters(operations: readonly OperationDefinition[]): Record<string, Joi.Schema> {
  const parents = new Map<string, { rule: Joi.Schema; operations: string[] }>();
  for (const operation of operations) {
    for (const [name, rule] of Object.entries(operation.params)) {
      if (name === 'version') continue;
      const parent = parents.get(name) ?? { rule, operations: [] };
      parent.operations.push(operation.name);
      parents.set(name, parent);
    }
  }
  return Object.fromEntries(
    [...parents].map(([name, parent]) => [
      name,
      parent.rule.optional().description(
        `For ${parent.operations.join(' and ')}: the ${name.replace(/Id$/, '')} the entity belongs to; with it, the record that made the entity is found however old it is.`,
      ),
    ]),
  );
}
