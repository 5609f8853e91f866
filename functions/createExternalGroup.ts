import { graphChecks } from '../shared/operations/graphFacts';
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
  graph: {
    noun: 'group',
    collectionName: 'groups',
    factsSection: '§2',
    permissions: { names: ['ExternalItem.ReadWrite.OwnedBy'] },
    appRole: { displayName: 'Create external groups', description: 'Create external groups of Microsoft Graph connectors connections through the facade.' },
    duplicate: { status: 409, code: 'Conflict' },
    generatedFields: [],
    accept: (body) => ({ ...body, id: graphChecks.requireString(body, 'id', /^[A-Za-z0-9_-]{1,128}$/) }),
    duplicateMessage: (id) => `A group with id '${id}' already exists.`,
    listedAs: 'external groups',
    examples: [
      {
        key: 'olderGroup',
        name: 'create externalGroup, the older example without an id',
        path: '/connections/contosohr/groups',
        version: 'v1.0',
        asDocumented: {
          '@odata.type': '#microsoft.graph.externalConnectors.externalGroup',
          displayName: 'String',
          description: 'String',
        },
        concrete: {
          '@odata.type': '#microsoft.graph.externalConnectors.externalGroup',
          id: 'contosoEngineering',
          displayName: 'String',
          description: 'String',
        },
        sentToGraph: { id: 'contosoEngineering', displayName: 'String', description: 'String' },
      },
      {
        key: 'group',
        name: 'create externalGroup, the current example',
        path: '/external/connections/contosohr/groups',
        version: 'v1.0',
        asDocumented: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
        concrete: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
        sentToGraph: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
      },
    ],
  },
});

registerOperation(createExternalGroup);
