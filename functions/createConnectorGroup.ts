import { defineOperation } from '../shared/operations/operation';
import { registerOperation } from '../shared/operations/registerOperation';
import { connectorGroupBody } from '../shared/schemas/connectorGroup';

export const createConnectorGroup = defineOperation({
  name: 'createConnectorGroup',
  summary: 'Create an application proxy connector group',
  description:
    'Creates a Microsoft Entra application proxy connector group. Microsoft Graph generates its id, so a retry after a timeout may create a second group.',
  role: 'ConnectorGroup.Create',
  entityType: 'connectorGroup',
  routes: ['beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups'],
  params: {},
  body: connectorGroupBody,
  graphPath: '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
  entityId: 'generatedByGraph',
  existenceCheck: { naturalKey: 'name' },
});

registerOperation(createConnectorGroup);
