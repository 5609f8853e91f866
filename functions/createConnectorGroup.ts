import { graphChecks, GraphRefusal } from '../shared/operations/graphFacts';
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
  graph: {
    noun: 'connector group',
    collectionName: 'connectorGroups',
    factsSection: '§4',
    permissions: { names: ['Directory.ReadWrite.All'], grantedWith: 'enableConnectorGroups' },
    appRole: { displayName: 'Create connector groups', description: 'Create application proxy connector groups through the facade.' },
    duplicate: { status: 409, code: 'Conflict' },
    generatedFields: ['id', 'connectorGroupType', 'isDefault', 'region'],
    accept: (body, { newId }) => {
      const name = graphChecks.requireString(body, 'name');
      // isDefault is accepted and ignored: Graph sets it, and a new group is never the default (graph-api.md §4).
      graphChecks.rejectReadOnly(body, 'id', 'connectorGroupType');
      if ('isDefault' in body && typeof body.isDefault !== 'boolean') throw new GraphRefusal(400, 'BadRequest', "The value of 'isDefault' is invalid.");
      return { id: newId(), name, connectorGroupType: 'applicationProxy', isDefault: false, region: typeof body.region === 'string' ? body.region : 'nam' };
    },
    duplicateMessage: (id) => `A connector group with id '${id}' already exists.`,
    listedAs: 'application proxy connector groups',
    examples: [
      {
        key: 'connectorGroup',
        name: 'create connectorGroup, the beta example',
        path: '/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
        version: 'beta',
        asDocumented: {
          '@odata.type': '#microsoft.graph.connectorGroup',
          name: 'String',
          connectorGroupType: 'String',
          isDefault: 'Boolean',
          region: 'String',
        },
        concrete: {
          '@odata.type': '#microsoft.graph.connectorGroup',
          name: 'Contoso on-premises apps',
          connectorGroupType: 'applicationProxy',
          region: 'eur',
        },
        sentToGraph: { name: 'Contoso on-premises apps', region: 'eur' },
      },
    ],
  },
});

registerOperation(createConnectorGroup);
