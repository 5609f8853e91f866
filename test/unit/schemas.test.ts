import Joi from 'joi';
import { describe, expect, it } from 'vitest';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import type { OperationDefinition } from '../../shared/operations/operation';
import { validateWith } from '../../shared/schemas/validate';
import { documentedExample, documentedExamples } from '../support/documentedExamples';

const operations: Record<string, OperationDefinition> = {
  createExternalConnection,
  createExternalGroup,
  createExternalGroupMember,
  createConnectorGroup,
};

function judge(operation: OperationDefinition, body: unknown, version = 'v1.0') {
  return validateWith<Record<string, unknown>>(operation.body, body, { version });
}

function targetsOf(operation: OperationDefinition, body: unknown, version = 'v1.0') {
  return judge(operation, body, version).problems.map((problem) => problem.target);
}

function judgeParams(operation: OperationDefinition, params: Record<string, string>) {
  return validateWith(Joi.object(operation.params), params).problems.map((problem) => problem.target);
}

const guid = 'e811976d-83df-4cbd-8b9b-5215b18aa874';

describe('the documented request examples', () => {
  it.each(documentedExamples.map((example) => [example.name, example] as const))('%s passes once made concrete', (_, example) => {
    const operation = operations[example.operation]!;
    expect(judge(operation, example.concrete, example.version).problems).toEqual([]);
  });

  it('the older connection example: forwards authorizedApps as authorizedAppIds and drops the old @odata.type names', () => {
    const example = documentedExample('olderConnection');
    expect(judge(createExternalConnection, example.concrete, 'beta').value).toEqual({
      id: 'contosohr',
      name: 'Name value',
      description: 'Description value',
      configuration: { authorizedAppIds: ['de8bc8b5-d9f9-48b1-a8ad-b748da725064'] },
    });
  });

  it('the older member shape: translates identitySource azureActiveDirectory to the identity shape', () => {
    const example = documentedExample('olderMember');
    expect(judge(createExternalGroupMember, example.concrete, 'beta').value).toEqual({ id: guid, type: 'user' });
  });

  it('the connector group example: accepts connectorGroupType applicationProxy but does not forward it', () => {
    const example = documentedExample('connectorGroup');
    expect(judge(createConnectorGroup, example.concrete, 'beta').value).toEqual({
      name: 'Contoso on-premises apps',
      region: 'eur',
    });
  });

  it('the older connection example as documented lacks the id Graph now requires and has a non-GUID app id', () => {
    const example = documentedExample('olderConnection');
    expect(targetsOf(createExternalConnection, example.asDocumented, 'beta')).toEqual(
      expect.arrayContaining(['id', 'configuration.authorizedAppIds[0]']),
    );
  });

  it('the older group example as documented lacks the required id', () => {
    const example = documentedExample('olderGroup');
    expect(targetsOf(createExternalGroup, example.asDocumented)).toEqual(['id']);
  });

  it('the older member example as documented has placeholder values and no id', () => {
    const example = documentedExample('olderMember');
    expect(targetsOf(createExternalGroupMember, example.asDocumented, 'beta')).toEqual(
      expect.arrayContaining(['type', 'identitySource']),
    );
  });

  it('the connector group example as documented sets read-only isDefault and placeholder enum values, all reported at once', () => {
    const example = documentedExample('connectorGroup');
    expect(targetsOf(createConnectorGroup, example.asDocumented, 'beta').sort()).toEqual(
      ['connectorGroupType', 'isDefault', 'region'],
    );
  });
});

describe('externalConnection rules (docs/graph-facts.md §1)', () => {
  const valid = { id: 'contosohr', name: 'Contoso HR' };

  it.each([
    ['shorter than 3 characters', 'ab'],
    ['longer than 32 characters', 'a'.repeat(33)],
    ['other than letters and digits', 'contoso-hr'],
    ['starting with Microsoft', 'MicrosoftHR'],
    ['starting with microsoft in any case', 'microsoftHR'],
    ['a reserved id', 'Teams'],
    ['a reserved id in another case', 'sharepoint'],
    ['a number', 12345],
  ])('rejects an id %s', (_, id) => {
    expect(targetsOf(createExternalConnection, { ...valid, id })).toEqual(['id']);
  });

  it('accepts ids of 3 and 32 letters and digits', () => {
    expect(targetsOf(createExternalConnection, { ...valid, id: 'ab1' })).toEqual([]);
    expect(targetsOf(createExternalConnection, { ...valid, id: 'A1'.repeat(16) })).toEqual([]);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['longer than 128 characters', 'n'.repeat(129)],
  ])('rejects a name %s', (_, name) => {
    expect(targetsOf(createExternalConnection, { ...valid, name })).toEqual(['name']);
  });

  it('accepts a name of 128 characters', () => {
    expect(targetsOf(createExternalConnection, { ...valid, name: 'n'.repeat(128) })).toEqual([]);
  });

  it('rejects the read-only state by name', () => {
    const { problems } = judge(createExternalConnection, { ...valid, state: 'draft' });
    expect(problems).toEqual([expect.objectContaining({ target: 'state', code: 'propertyNotAllowed', message: expect.stringContaining('read-only') })]);
  });

  it('rejects unknown properties and a foreign @odata.type', () => {
    expect(targetsOf(createExternalConnection, { ...valid, color: 'red', '@odata.type': '#microsoft.graph.user' }).sort()).toEqual(
      ['@odata.type', 'color'],
    );
  });

  it('rejects a contentCategory outside the documented list and accepts each listed one', () => {
    expect(targetsOf(createExternalConnection, { ...valid, contentCategory: 'blog' })).toEqual(['contentCategory']);
    for (const contentCategory of ['uncategorized', 'knowledgeBase', 'crm', 'learningManagement']) {
      expect(targetsOf(createExternalConnection, { ...valid, contentCategory })).toEqual([]);
    }
  });

  it('requires authorizedAppIds to be GUIDs and refuses both the old and the new name at once', () => {
    expect(targetsOf(createExternalConnection, { ...valid, configuration: { authorizedAppIds: ['app'] } })).toEqual([
      'configuration.authorizedAppIds[0]',
    ]);
    expect(
      targetsOf(createExternalConnection, { ...valid, configuration: { authorizedApps: [guid], authorizedAppIds: [guid] } }),
    ).toEqual(['configuration']);
  });

  it('checks urlToItemResolvers item by item', () => {
    const resolver = {
      '@odata.type': '#microsoft.graph.externalConnectors.itemIdResolver',
      priority: 1,
      itemId: '{slug}',
      urlMatchInfo: { baseUrls: ['https://contoso.com'], urlPattern: '/items/(?<slug>[^/]+)' },
    };
    expect(targetsOf(createExternalConnection, { ...valid, activitySettings: { urlToItemResolvers: [resolver] } })).toEqual([]);
    const { ['@odata.type']: _, ...untyped } = resolver;
    expect(
      targetsOf(createExternalConnection, {
        ...valid,
        activitySettings: { urlToItemResolvers: [untyped, { ...resolver, priority: 1.5 }] },
      }),
    ).toEqual(['activitySettings.urlToItemResolvers[0].@odata.type', 'activitySettings.urlToItemResolvers[1].priority']);
  });

  it('checks search result templates: id of at most 16 letters and digits, documented rule operations', () => {
    const template = {
      id: 'tickets',
      priority: 1,
      layout: { type: 'AdaptiveCard' },
      rules: [{ operation: 'equals', property: 'type', values: ['ticket'], valuesJoinedBy: 'or' }],
    };
    expect(targetsOf(createExternalConnection, { ...valid, searchSettings: { searchResultTemplates: [template] } })).toEqual([]);
    expect(
      targetsOf(createExternalConnection, {
        ...valid,
        searchSettings: {
          searchResultTemplates: [{ ...template, id: 'averylongtemplateid1', rules: [{ ...template.rules[0], operation: 'like' }] }],
        },
      }),
    ).toEqual(['searchSettings.searchResultTemplates[0].id', 'searchSettings.searchResultTemplates[0].rules[0].operation']);
  });

  it('allows the beta-only properties on beta and refuses them on v1.0', () => {
    const beta = { ...valid, enabledContentExperiences: 'search,compliance', complianceSettings: {} };
    expect(targetsOf(createExternalConnection, beta, 'beta')).toEqual([]);
    expect(targetsOf(createExternalConnection, beta, 'v1.0').sort()).toEqual(['complianceSettings', 'enabledContentExperiences']);
  });

  it('treats null optional fields, as Power Automate sends them, as absent', () => {
    expect(judge(createExternalConnection, { ...valid, description: null, configuration: null }).value).toEqual(valid);
  });
});

describe('externalGroup rules (docs/graph-facts.md §2)', () => {
  it('requires an id of at most 128 URL-safe Base64 characters', () => {
    expect(targetsOf(createExternalGroup, { displayName: 'x' })).toEqual(['id']);
    expect(targetsOf(createExternalGroup, { id: 'a'.repeat(129) })).toEqual(['id']);
    expect(targetsOf(createExternalGroup, { id: 'sales team' })).toEqual(['id']);
    expect(targetsOf(createExternalGroup, { id: 'sales/team' })).toEqual(['id']);
    expect(targetsOf(createExternalGroup, { id: `Ab_-9${'z'.repeat(123)}` })).toEqual([]);
  });

  it('accepts displayName and description, and nothing else', () => {
    expect(targetsOf(createExternalGroup, { id: 'g1', displayName: 'Sales', description: '' })).toEqual([]);
    expect(targetsOf(createExternalGroup, { id: 'g1', members: [] })).toEqual(['members']);
  });
});

describe('externalGroupMember rules (docs/graph-facts.md §3)', () => {
  it('requires id and type', () => {
    expect(targetsOf(createExternalGroupMember, {}).sort()).toEqual(['id', 'type']);
  });

  it('requires a GUID for users and groups and an external group id for external groups', () => {
    expect(targetsOf(createExternalGroupMember, { id: 'not-a-guid', type: 'user' })).toEqual(['id']);
    expect(targetsOf(createExternalGroupMember, { id: 'not a group', type: 'externalGroup' })).toEqual(['id']);
    expect(targetsOf(createExternalGroupMember, { id: guid, type: 'group' })).toEqual([]);
    expect(targetsOf(createExternalGroupMember, { id: 'salesTeam', type: 'externalGroup' })).toEqual([]);
  });

  it('rejects other types', () => {
    expect(targetsOf(createExternalGroupMember, { id: guid, type: 'device' })).toEqual(['type']);
  });

  it('translates the older identitySource shape', () => {
    expect(judge(createExternalGroupMember, { id: 'salesTeam', type: 'group', identitySource: 'external' }).value).toEqual({
      id: 'salesTeam',
      type: 'externalGroup',
    });
    expect(judge(createExternalGroupMember, { id: guid, type: 'group', identitySource: 'azureActiveDirectory' }).value).toEqual({
      id: guid,
      type: 'group',
    });
  });

  it('refuses an external user and identitySource beside type externalGroup', () => {
    expect(judge(createExternalGroupMember, { id: 'bob', type: 'user', identitySource: 'external' }).problems).toHaveLength(1);
    expect(targetsOf(createExternalGroupMember, { id: 'g1', type: 'externalGroup', identitySource: 'external' })).toEqual([
      'identitySource',
    ]);
  });
});

describe('connectorGroup rules (docs/graph-facts.md §4)', () => {
  it('requires a non-empty name', () => {
    expect(targetsOf(createConnectorGroup, {}, 'beta')).toEqual(['name']);
    expect(targetsOf(createConnectorGroup, { name: '' }, 'beta')).toEqual(['name']);
  });

  it('accepts the documented regions only', () => {
    for (const region of ['nam', 'eur', 'aus', 'asia', 'ind']) {
      expect(targetsOf(createConnectorGroup, { name: 'g', region }, 'beta')).toEqual([]);
    }
    expect(targetsOf(createConnectorGroup, { name: 'g', region: 'mars' }, 'beta')).toEqual(['region']);
  });

  it('rejects the read-only id and isDefault by name, and any connectorGroupType but applicationProxy', () => {
    const { problems } = judge(createConnectorGroup, { name: 'g', id: guid, isDefault: false, connectorGroupType: 'other' }, 'beta');
    expect(problems.map((problem) => problem.target).sort()).toEqual(['connectorGroupType', 'id', 'isDefault']);
    expect(problems.filter((problem) => problem.message.includes('read-only'))).toHaveLength(2);
  });
});

describe('path parameters', () => {
  it('accept only v1.0 and beta as the version', () => {
    expect(judgeParams(createExternalConnection, { version: 'v2.0' })).toEqual(['version']);
  });

  it('apply the connection id rules to {connectionId}', () => {
    expect(judgeParams(createExternalGroup, { version: 'v1.0', connectionId: 'Microsoft1' })).toEqual(['connectionId']);
    expect(judgeParams(createExternalGroup, { version: 'v1.0', connectionId: 'a/b' })).toEqual(['connectionId']);
  });

  it('apply the external group id rule to {groupId}', () => {
    expect(judgeParams(createExternalGroupMember, { version: 'beta', connectionId: 'contosohr', groupId: '..' })).toEqual([
      'groupId',
    ]);
  });
});
