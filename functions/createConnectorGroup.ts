import { defineOperation } from '../shared/operations/operation';
import { registerOperation } from '../shared/operations/registerOperation';
import { connectorGroupBody } from '../shared/schemas/connectorGroup';

export const createConnectorGroup = defineOperation({
  name: 'createConnectorGroup',
  role: 'ConnectorGroup.Create',
  entityType: 'connectorGroup',
  routes: ['beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups'],
  params: {},
  body: connectorGroupBody,
  graphPath: '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
  entityId: 'generatedByGraph',
});

registerOperation(createConnectorGroup);
