import { graphChecks } from '../shared/operations/graphFacts';
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
  graph: {
    noun: 'connection',
    collectionName: 'connections',
    factsSection: '§1',
    permissions: { names: ['ExternalConnection.ReadWrite.OwnedBy'] },
    appRole: { displayName: 'Create external connections', description: 'Create Microsoft Graph connectors external connections through the facade.' },
    duplicate: { status: 409, code: 'nameAlreadyExists' },
    generatedFields: ['state', 'configuration.authorizedAppIds'],
    idsIgnoreCase: true,
    accept: (body, { appId }) => {
      const id = graphChecks.requireString(body, 'id', /^[A-Za-z0-9]{3,32}$/);
      graphChecks.requireString(body, 'name');
      graphChecks.rejectReadOnly(body, 'state');
      // Graph authorizes the creating app on its connection: its create example answers with
      // configuration.authorizedAppIds filled in although the request sent none (graph-api.md §1).
      const configuration = body.configuration as { authorizedAppIds?: unknown } | null | undefined;
      const authorizedAppIds = Array.isArray(configuration?.authorizedAppIds) && configuration.authorizedAppIds.length > 0
        ? configuration.authorizedAppIds
        : appId ? [appId] : [];
      return { ...body, id, state: 'draft', configuration: { ...configuration, authorizedAppIds } };
    },
    duplicateMessage: (id) => `A connection with id '${id}' already exists.`,
    listedAs: 'external connections',
    examples: [
      {
        key: 'olderConnection',
        name: 'create externalConnection, the older beta example',
        path: '/connections',
        version: 'beta',
        asDocumented: {
          '@odata.type': '#microsoft.graph.externalConnection',
          name: 'Name value',
          description: 'Description value',
          configuration: {
            '@odata.type': 'microsoft.graph.configuration',
            authorizedApps: ['Authorized Apps value'],
          },
        },
        concrete: {
          '@odata.type': '#microsoft.graph.externalConnection',
          id: 'contosohr',
          name: 'Name value',
          description: 'Description value',
          configuration: {
            '@odata.type': 'microsoft.graph.configuration',
            authorizedApps: ['de8bc8b5-d9f9-48b1-a8ad-b748da725064'],
          },
        },
        sentToGraph: { id: 'contosohr', name: 'Name value', description: 'Description value', configuration: { authorizedAppIds: ['de8bc8b5-d9f9-48b1-a8ad-b748da725064'] } },
      },
    ],
  },
});

registerOperation(createExternalConnection);
