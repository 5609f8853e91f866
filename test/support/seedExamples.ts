/**
 * The request examples of the seed pages (../shared/seeds), as documented, and made concrete: the
 * seeds' placeholder values ("String", "Boolean") replaced by real ones and, where Graph now
 * requires an id the old example lacks, the id added (graph-api.md §9).
 */

export interface SeedExample {
  seed: string;
  operation: 'createExternalConnection' | 'createExternalGroup' | 'createExternalGroupMember' | 'createConnectorGroup';
  /** The path of the seed's example request below the version. */
  path: string;
  version: 'v1.0' | 'beta';
  asDocumented: Record<string, unknown>;
  concrete: Record<string, unknown>;
}

export const seedExamples: SeedExample[] = [
  {
    seed: '004 create externalConnection',
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
    seed: '000 create externalGroup (older page)',
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
    seed: '001 create externalGroup',
    operation: 'createExternalGroup',
    path: '/external/connections/contosohr/groups',
    version: 'v1.0',
    asDocumented: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
    concrete: { id: '31bea3d537902000', displayName: 'Contoso Marketing', description: 'The product marketing team' },
  },
  {
    seed: '003 create externalGroupMember',
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
    seed: '002 create connectorGroup',
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
