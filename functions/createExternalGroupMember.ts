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
  existenceCheck: 'createConflict',
});

registerOperation(createExternalGroupMember);
