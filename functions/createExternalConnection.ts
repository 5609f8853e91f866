import { defineOperation } from '../shared/operations/operation';
import { registerOperation } from '../shared/operations/registerOperation';
import { externalConnectionBody } from '../shared/schemas/externalConnection';
import { graphVersion } from '../shared/schemas/rules';

export const createExternalConnection = defineOperation({
  name: 'createExternalConnection',
  summary: 'Create an external connection',
  description:
    'Creates a Microsoft Graph connectors connection (in draft state) to index content from an external system. The id must be unique in the tenant.',
  role: 'ExternalConnection.Create',
  entityType: 'externalConnection',
  routes: ['{version}/external/connections', '{version}/connections'],
  params: { version: graphVersion },
  body: externalConnectionBody,
  graphPath: '/{version}/external/connections',
  entityId: (body) => String(body.id),
});

registerOperation(createExternalConnection);
