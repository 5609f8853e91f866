import Joi from 'joi';

/**
 * The answers of the manifest and schema registration routes, for the OpenAPI documents and the
 * Power Platform connector (shared/manifest builds them; these rules describe them).
 */

const madeBy = Joi.object({
  operation: Joi.string().required().description('The create operation whose audit record says who made the entity.'),
  auditRecordId: Joi.string().required().description('Id of that audit record (GET /audit/{operation}/{entityId} lists it).'),
  callerId: Joi.string().description('Object id of the caller that made it.'),
  callerName: Joi.string().description('Name of the caller that made it, when its token named one.'),
  requestedAt: Joi.string().isoDate().description('When it was asked for.'),
}).description('Who made the entity, per the audit trail; absent when it was made elsewhere.');

const action = Joi.string().valid('create', 'exists', 'differs').required()
  .description('What applying would do: create it, nothing (it exists), or nothing but report that it exists with other values (differs).');
const differences = Joi.array().items(Joi.string().description('A property name.'))
  .description('The properties whose values in Microsoft Graph are not the manifest\'s (differs only).');

const memberPlan = Joi.object({
  id: Joi.string().required().description('Id of the member.'),
  action: Joi.string().valid('create', 'exists').required().description('What applying would do: create it, or nothing when the audit trail holds its add (exists).'),
  auditRecordId: Joi.string().description('The audit record of its add, when it exists.'),
}).description('What applying would do with one member.');

const count = (what: string) => Joi.number().integer().required().description(`How many entities ${what}.`);

export const manifestPlanAnswer = Joi.object({
  connection: Joi.object({ id: Joi.string().required().description('Id of the connection.'), action, madeBy, differences })
    .required().description('The connection.'),
  schema: Joi.object({ action, madeBy, differences }).description('The schema, when the manifest has one.'),
  groups: Joi.array().items(
    Joi.object({ id: Joi.string().required().description('Id of the group.'), action, madeBy, differences, members: Joi.array().items(memberPlan).required().description('Its members, in the order of the manifest.') })
      .description('One external group and its members.'),
  ).required().description('The external groups, in the order of the manifest.'),
  connectorGroups: Joi.array().items(
    Joi.object({ name: Joi.string().required().description('Name of the connector group.'), id: Joi.string().description('Its id in Microsoft Graph, when it exists.'), action, madeBy, differences })
      .description('One connector group.'),
  ).required().description('The connector groups, in the order of the manifest.'),
  counts: Joi.object({ create: count('would be created'), exists: count('exist'), differs: count('exist with other values') }).required()
    .description('How many entities each action concerns, members included.'),
}).description('What applying the manifest would do; nothing was written.');

const outcome = Joi.string().valid('created', 'exists', 'differs', 'failed', 'notAttempted').required()
  .description('How it ended: created (by this apply), exists, differs (exists with other values, left unchanged), failed (see error) or notAttempted (what it depends on failed).');
const error = Joi.object({
  code: Joi.string().required().description('Machine-readable code.'),
  message: Joi.string().required().description('What went wrong.'),
  httpStatus: Joi.number().integer().description('The HTTP status the create got on its own.'),
}).description('Why it failed.');
const entityResult = { outcome, madeBy, differences, error, auditRecordId: Joi.string().description('The audit record of the create this apply made.') };

export const manifestApplyAnswer = Joi.object({
  id: Joi.string().required().description('Id of the apply; its status URL ends with it, and its audit record has it.'),
  status: Joi.string().valid('accepted', 'running', 'completed').required().description('Where the apply stands: accepted (queued), running, or completed.'),
  connectionId: Joi.string().required().description('Id of the manifest\'s connection.'),
  step: Joi.string().valid('connection', 'schema', 'groups', 'members', 'connectorGroups').description('While not completed: the step it waits on.'),
  waitingOn: Joi.string().description('While not completed: what it waits on, for people.'),
  requestedAt: Joi.string().isoDate().required().description('When the apply was asked for.'),
  completedAt: Joi.string().isoDate().description('When it completed.'),
  outcome: Joi.string().valid('succeeded', 'failed').description('Once completed: succeeded, or failed when any entity failed or was not attempted.'),
  counts: Joi.object({
    created: count('this apply created'),
    exists: count('existed'),
    differs: count('existed with other values'),
    failed: count('failed'),
    notAttempted: count('were not attempted'),
  }).description('Once completed: how many entities ended each way, members included.'),
  connection: Joi.object({ id: Joi.string().required().description('Id of the connection.'), ...entityResult }).description('The connection.'),
  schema: Joi.object({ ...entityResult, registrationId: Joi.string().description('Id of the schema registration (GET /schemaRegistrations/{id}).') }).description('The schema, when the manifest has one.'),
  groups: Joi.array().items(
    Joi.object({
      id: Joi.string().required().description('Id of the group.'),
      ...entityResult,
      members: Joi.array().items(
        Joi.object({ id: Joi.string().required().description('Id of the member.'), outcome, error }).description('One member.'),
      ).required().description('Its members, in the order of the manifest.'),
    }).description('One external group and its members.'),
  ).description('The external groups.'),
  connectorGroups: Joi.array().items(
    Joi.object({ name: Joi.string().required().description('Name of the connector group.'), id: Joi.string().description('Its id in Microsoft Graph.'), ...entityResult }).description('One connector group.'),
  ).description('The connector groups.'),
}).description('A manifest apply: where it stands, and once completed what it did to each entity.');

export const schemaRegistrationAnswer = Joi.object({
  id: Joi.string().required().description('Id of the registration; its status URL ends with it, and its audit record has it.'),
  connectionId: Joi.string().required().description('Id of the connection.'),
  status: Joi.string().valid('pending', 'running', 'succeeded', 'failed').required()
    .description('Where the registration stands: pending (not yet accepted by Microsoft Graph), running (Graph is provisioning it), succeeded or failed (see error).'),
  graphOperationId: Joi.string().description('Id of Microsoft Graph\'s connection operation.'),
  operationStatus: Joi.string().description('What Graph\'s operation said at the last look: inprogress, completed or failed.'),
  requestedAt: Joi.string().isoDate().required().description('When the registration was asked for.'),
  completedAt: Joi.string().isoDate().description('When it ended.'),
  error: Joi.object({ code: Joi.string().required().description('Machine-readable code.'), message: Joi.string().required().description('What went wrong, as Graph said.') })
    .description('Why it failed.'),
}).description('A schema registration: Microsoft Graph provisions a schema in 5 to 15 minutes.');
