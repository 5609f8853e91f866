import { defineBulkOperation } from '../shared/operations/operation';
import { registerOperation } from '../shared/operations/registerOperation';
import { createExternalGroupMember } from './createExternalGroupMember';

export const addExternalGroupMembersInBulk = defineBulkOperation({
  name: 'addExternalGroupMembersInBulk',
  summary: 'Add members to an external group in bulk',
  description:
    'Adds up to 1,000 Microsoft Entra users or groups, or other external groups, to an external group of a connection, and says for each whether it was added, was a member already, or failed. All added: failed is 0; some failed: 200 with failed above 0 and each failure in results; a group or connection that does not exist: 404 itemNotFound naming it. A long request is answered 202 and its results are read from the Location URL.',
  item: createExternalGroupMember,
  itemsProperty: 'members',
  maxItems: 1000,
  routes: [
    '{version}/external/connections/{connectionId}/groups/{groupId}/members/bulk',
    '{version}/connections/{connectionId}/groups/{groupId}/members/bulk',
  ],
});

registerOperation(addExternalGroupMembersInBulk);
