import Joi from 'joi';
import { bulkBodyOf } from './bulk';
import { connectionSchemaBody } from './connectionSchema';
import { connectorGroupBody } from './connectorGroup';
import { externalConnectionBody } from './externalConnection';
import { externalGroupBody } from './externalGroup';
import { externalGroupMemberBody } from './externalGroupMember';

/**
 * A connector manifest: one connection (its create body), optionally its schema, its external
 * groups each with members, and optionally application proxy connector groups. Every part is
 * checked by the very rule of its single route, and every violation is reported with its path
 * (`groups[3].members[12].id`).
 */

/** Members of one group: as a bulk request's (the bulk route's limit, no member twice). */
export const maxMembersPerGroup = 1_000;
/** The facade's own limits on one manifest (Graph documents none for a set of creates). */
export const maxManifestGroups = 100;
export const maxManifestConnectorGroups = 20;
export const maxManifestMembers = 20_000;

const members = bulkBodyOf({ item: externalGroupMemberBody, itemsProperty: 'members', maxItems: maxMembersPerGroup, identity: 'id', noun: 'members' })
  .fork(['members'], (rule) => (rule as Joi.ArraySchema).optional().min(0));

export const manifestGroupBody = externalGroupBody.concat(members)
  .description('An external group of the connection (its create body) with the members to add to it.');

export const connectorManifestBody = Joi.object({
  connection: externalConnectionBody.required()
    .description('The external connection: its create body.'),
  schema: connectionSchemaBody
    .description('The schema to register for the connection, if any; a manifest with a schema is always carried out from the queue (Graph takes minutes to provision it).'),
  groups: Joi.array()
    .items(manifestGroupBody)
    .max(maxManifestGroups)
    .unique('id')
    .messages({ 'array.unique': '{{#label}} repeats the group id of groups[{{#dupePos}}]: each group may appear once' })
    .description(`External groups of the connection with their members: at most ${maxManifestGroups}.`),
  connectorGroups: Joi.array()
    .items(connectorGroupBody)
    .max(maxManifestConnectorGroups)
    .unique('name')
    .messages({ 'array.unique': '{{#label}} repeats the name of connectorGroups[{{#dupePos}}]: connector groups are told apart by name' })
    .description(`Application proxy connector groups (beta), told apart by name: at most ${maxManifestConnectorGroups}.`),
})
  .custom((manifest: { groups?: { members?: unknown[] }[] }, helpers) => {
    const total = (manifest.groups ?? []).reduce((sum, group) => sum + (group.members?.length ?? 0), 0);
    return total > maxManifestMembers ? helpers.error('manifest.tooManyMembers', { total }) : manifest;
  })
  .messages({ 'manifest.tooManyMembers': `the manifest has {{#total}} members; at most ${maxManifestMembers} in all` })
  .description('A connection, its schema, its external groups with their members, and connector groups, created as one step.');

export interface ManifestGroup extends Record<string, unknown> {
  id: string;
  members?: Record<string, unknown>[];
}

export interface ConnectorManifest {
  connection: Record<string, unknown> & { id: string };
  schema?: Record<string, unknown>;
  groups?: ManifestGroup[];
  connectorGroups?: (Record<string, unknown> & { name: string })[];
}
