import { graphChecks, GraphRefusal } from '../shared/operations/graphFacts';
import { defineOperation } from '../shared/operations/operation';
import { registerOperation } from '../shared/operations/registerOperation';
import { externalGroupMemberBody } from '../shared/schemas/externalGroupMember';
import { connectionId, externalGroupId, graphVersion } from '../shared/schemas/rules';

export const createExternalGroupMember = defineOperation({
  name: 'createExternalGroupMember',
  summary: 'Add a member to an external group',
  description:
    'Adds a Microsoft Entra user or group, or another external group, to an external group of a connection.',
  role: 'ExternalGroupMember.Create',
  entityType: 'externalGroupMember',
  routes: [
    '{version}/external/connections/{connectionId}/groups/{groupId}/members',
    '{version}/connections/{connectionId}/groups/{groupId}/members',
  ],
  params: { version: graphVersion, connectionId, groupId: externalGroupId },
  body: externalGroupMemberBody,
  graphPath: '/{version}/external/connections/{connectionId}/groups/{groupId}/members',
  entityId: (body) => String(body.id),
  // Graph documents no read of one member (the identity resource has create and delete only).
  existenceCheck: 'createConflict',
  graph: {
    noun: 'member',
    collectionName: 'members',
    factsSection: '§3',
    permissions: { names: ['ExternalItem.ReadWrite.OwnedBy'] },
    appRole: { displayName: 'Add external group members', description: 'Add members to external groups through the facade.' },
    duplicate: { status: 409, code: 'Conflict' },
    generatedFields: [],
    accept: (body) => {
      const type = graphChecks.requireString(body, 'type');
      if (!['user', 'group', 'externalGroup'].includes(type)) throw new GraphRefusal(400, 'invalidRequest', `The value '${type}' of 'type' is invalid.`);
      const id = graphChecks.requireString(body, 'id', type === 'externalGroup' ? /^[A-Za-z0-9_-]{1,128}$/ : /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
      return { id, type };
    },
    duplicateMessage: (id) => `'${id}' is already a member.`,
    listedAs: 'and their members',
    examples: [
      {
        key: 'olderMember',
        name: 'add an externalGroupMember, the older beta identitySource shape',
        path: '/connections/contosohr/groups/31bea3d537902000/members',
        version: 'beta',
        asDocumented: {
          '@odata.type': '#microsoft.graph.externalConnectors.externalGroupMember',
          identitySource: 'String',
          type: 'String',
        },
        concrete: {
          '@odata.type': '#microsoft.graph.externalConnectors.externalGroupMember',
          id: 'e811976d-83df-4cbd-8b9b-5215b18aa874',
          identitySource: 'azureActiveDirectory',
          type: 'user',
        },
        sentToGraph: { id: 'e811976d-83df-4cbd-8b9b-5215b18aa874', type: 'user' },
      },
    ],
  },
});

registerOperation(createExternalGroupMember);
