/**
 * Request examples of Graph's documentation, current and older (docs/graph-facts.md §9), as
 * documented, and made concrete: placeholder values ("String", "Boolean") replaced by real ones
 * and, where Graph now requires an id the older example lacks, the id added.
 */

export type ExampleKey = 'olderConnection' | 'olderGroup' | 'group' | 'olderMember' | 'connectorGroup';

export interface DocumentedExample {
  key: ExampleKey;
  /** What the example is, for test names. */
  name: string;
  operation: 'createExternalConnection' | 'createExternalGroup' | 'createExternalGroupMember' | 'createConnectorGroup';
  /** The path of the example request below the version. */
  path: string;
  version: 'v1.0' | 'beta';
  asDocumented: Record<string, unknown>;
  concrete: Record<string, unknown>;
}

export const documentedExamples: DocumentedExample[] = [
  {
    key: 'olderConnection',
    name: 'create externalConnection, the older beta example',
    operation: 'createExternalConnection',
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
  },
  {
    key: 'olderGroup',
    name: 'create externalGroup, the older example without an id',
    operation: 'createExternalGroup',
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
  },
  {
    key: 'group',
    name: 'create externalGroup, the current example',
    operation: 'createExternalGroup',
    path: '/external/connections/contosohr/groups',
    version: 'v1.0',
    asDocumented: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
    concrete: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
  },
  {
    key: 'olderMember',
    name: 'add an externalGroupMember, the older beta identitySource shape',
    operation: 'createExternalGroupMember',
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
  },
  {
    key: 'connectorGroup',
    name: 'create connectorGroup, the beta example',
    operation: 'createConnectorGroup',
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
  },
];

export function documentedExample(key: ExampleKey): DocumentedExample {
  const example = documentedExamples.find((candidate) => candidate.key === key);
  if (!example) throw new Error(`no documented example ${key}`);
  return example;
}
