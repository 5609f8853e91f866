import { defineOperation } from '../shared/operations/operation';
import { registerOperation } from '../shared/operations/registerOperation';
import { externalGroupBody } from '../shared/schemas/externalGroup';
import { connectionId, graphVersion } from '../shared/schemas/rules';

export const createExternalGroup = defineOperation({
  name: 'createExternalGroup',
  summary: 'Create an external group',
  description:
    'Creates a group of an external connection, for use in the access control lists of its items.',
  role: 'ExternalGroup.Create',
  entityType: 'externalGroup',
  routes: ['{version}/external/connections/{connectionId}/groups', '{version}/connections/{connectionId}/groups'],
  params: { version: graphVersion, connectionId },
  body: externalGroupBody,
  graphPath: '/{version}/external/connections/{connectionId}/groups',
  entityId: (body) => String(body.id),
  // Beta documents no read of one group; v1.0 does (docs/graph-facts.md §2).
  existenceCheck: { readById: { version: 'v1.0' } },
});

registerOperation(createExternalGroup);
