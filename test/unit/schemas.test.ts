import Joi from 'joi';
import { describe, expect, it } from 'vitest';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import type { OperationDefinition } from '../../shared/operations/operation';
import { contentCategories } from '../../shared/schemas/externalConnection';
import { validateWith } from '../../shared/schemas/validate';
import { documentedExample, documentedExamples } from '../support/documentedExamples';

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
const template = {
  id: 'tickets',
  priority: 1,
  layout: { type: 'AdaptiveCard', version: '1.3' },
  rules: [{ operation: 'equals', property: 'type', values: ['ticket'], valuesJoinedBy: 'or' }],
};
const resolver = {
  '@odata.type': '#microsoft.graph.externalConnectors.itemIdResolver',
  priority: 1,
  itemId: '{slug}',
  urlMatchInfo: { baseUrls: ['https://contoso.com'], urlPattern: '/items/(?<slug>[^/]+)' },
};

describe('the documented request examples', () => {
  it.each(documentedExamples.map((example) => [example.name, example] as const))('%s passes once made concrete', (_, example) => {
    expect(judge(example.definition, example.concrete, example.version).problems).toEqual([]);
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
      layout: { type: 'AdaptiveCard', version: '1.3' },
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
    const beta = { ...valid, enabledContentExperiences: 'search,compliance', complianceSettings: { eDiscoveryResultTemplates: [template] } };
    expect(targetsOf(createExternalConnection, beta, 'beta')).toEqual([]);
    expect(targetsOf(createExternalConnection, beta, 'v1.0').sort()).toEqual(['complianceSettings', 'enabledContentExperiences']);
  });

  it('treats null optional fields, as Power Automate sends them, as absent', () => {
    expect(judge(createExternalConnection, { ...valid, description: null, configuration: null }).value).toEqual(valid);
  });

  it('names only real values when a value is outside a list (never the null that stands for a blank)', () => {
    const { problems } = judge(createExternalConnection, { ...valid, contentCategory: 'blog' });
    expect(problems[0]?.message).toBe(`"contentCategory" must be one of [${contentCategories.join(', ')}]`);
  });
});

describe('externalConnection: result templates, activity settings and array limits (graph-api.md §1)', () => {
  const valid = { id: 'contosohr', name: 'Contoso HR' };
  const withTemplates = (searchResultTemplates: unknown[]) => ({ ...valid, searchSettings: { searchResultTemplates } });
  const withTemplate = (changes: Record<string, unknown>) => withTemplates([{ ...template, ...changes }]);
  const at = 'searchSettings.searchResultTemplates[0]';

  it('at most 2 search result templates per connection (Graph)', () => {
    expect(targetsOf(createExternalConnection, withTemplates([template, { ...template, id: 'other', priority: 2 }]))).toEqual([]);
    expect(targetsOf(createExternalConnection, withTemplates([template, { ...template, id: 'b' }, { ...template, id: 'c' }]))).toEqual(['searchSettings.searchResultTemplates']);
  });

  it('a template priority is a positive whole number', () => {
    expect(targetsOf(createExternalConnection, withTemplate({ priority: 4 }))).toEqual([]);
    for (const priority of [0, -1, 1.5]) expect(targetsOf(createExternalConnection, withTemplate({ priority })), `${priority}`).toEqual([`${at}.priority`]);
  });

  it('a layout looks like an Adaptive Card: type AdaptiveCard and a version, with the card’s own properties', () => {
    const card = { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.3', body: [{ type: 'TextBlock', text: '${title}' }] };
    expect(targetsOf(createExternalConnection, withTemplate({ layout: card }))).toEqual([]);
    expect(targetsOf(createExternalConnection, withTemplate({ layout: { ...card, type: 'Container' } }))).toEqual([`${at}.layout.type`]);
    expect(targetsOf(createExternalConnection, withTemplate({ layout: { body: [] } })).sort()).toEqual([`${at}.layout.type`, `${at}.layout.version`]);
    expect(targetsOf(createExternalConnection, withTemplate({ layout: { ...card, version: 'latest' } }))).toEqual([`${at}.layout.version`]);
    expect(targetsOf(createExternalConnection, withTemplate({ layout: '{"type":"AdaptiveCard"}' }))).toEqual([`${at}.layout`]);
  });

  it('rule operations are Graph’s ruleOperation members, null (the member named null) included', () => {
    const rule = template.rules[0]!;
    for (const operation of ['null', 'equals', 'startsWith']) {
      expect(targetsOf(createExternalConnection, withTemplate({ rules: [{ ...rule, operation }] })), operation).toEqual([]);
    }
    for (const operation of ['like', 'Equals', null]) {
      expect(targetsOf(createExternalConnection, withTemplate({ rules: [{ ...rule, operation }] })), String(operation)).toEqual([`${at}.rules[0].operation`]);
    }
  });

  it('complianceSettings (beta): eDiscovery result templates of the same shape, at most 2', () => {
    const compliance = (eDiscoveryResultTemplates: unknown[]) => ({ ...valid, complianceSettings: { eDiscoveryResultTemplates } });
    expect(targetsOf(createExternalConnection, compliance([template, { ...template, id: 'b' }]), 'beta')).toEqual([]);
    expect(targetsOf(createExternalConnection, { ...valid, complianceSettings: null }, 'beta')).toEqual([]);
    expect(targetsOf(createExternalConnection, compliance([template, template, template]), 'beta')).toEqual(['complianceSettings.eDiscoveryResultTemplates']);
    expect(targetsOf(createExternalConnection, compliance([{ ...template, layout: { type: 'AdaptiveCard' } }]), 'beta')).toEqual([
      'complianceSettings.eDiscoveryResultTemplates[0].layout.version',
    ]);
    expect(targetsOf(createExternalConnection, { ...valid, complianceSettings: { retention: 'P1Y' } }, 'beta')).toEqual(['complianceSettings.retention']);
  });

  it('resolver fields the metadata marks nullable are optional: priority, urlMatchInfo, baseUrls, urlPattern', () => {
    const minimal = { '@odata.type': '#microsoft.graph.externalConnectors.itemIdResolver', itemId: '{slug}' };
    for (const resolver of [
      minimal,
      { ...minimal, priority: null, urlMatchInfo: null },
      { ...minimal, urlMatchInfo: {} },
      { ...minimal, urlMatchInfo: { baseUrls: null, urlPattern: null } },
      { ...minimal, urlMatchInfo: { urlPattern: '/items/(?<slug>[^/]+)' } },
    ]) {
      expect(targetsOf(createExternalConnection, { ...valid, activitySettings: { urlToItemResolvers: [resolver] } }), JSON.stringify(resolver)).toEqual([]);
    }
    const { itemId: _, ...withoutItemId } = minimal;
    expect(targetsOf(createExternalConnection, { ...valid, activitySettings: { urlToItemResolvers: [withoutItemId] } })).toEqual([
      'activitySettings.urlToItemResolvers[0].itemId',
    ]);
  });

  it.each([
    ['authorizedAppIds', (n: number) => ({ configuration: { authorizedAppIds: Array.from({ length: n }, () => guid) } }), 'configuration.authorizedAppIds'],
    ['urlToItemResolvers', (n: number) => ({ activitySettings: { urlToItemResolvers: Array.from({ length: n }, () => resolver) } }), 'activitySettings.urlToItemResolvers'],
    ['baseUrls', (n: number) => ({ activitySettings: { urlToItemResolvers: [{ ...resolver, urlMatchInfo: { baseUrls: Array.from({ length: n }, (_, i) => `https://contoso.com/${i}`), urlPattern: 'x' } }] } }), 'activitySettings.urlToItemResolvers[0].urlMatchInfo.baseUrls'],
    ['rules', (n: number) => ({ searchSettings: { searchResultTemplates: [{ ...template, rules: Array.from({ length: n }, () => template.rules[0]) }] } }), `${at}.rules`],
    ['values', (n: number) => ({ searchSettings: { searchResultTemplates: [{ ...template, rules: [{ ...template.rules[0], values: Array.from({ length: n }, (_, i) => `v${i}`) }] }] } }), `${at}.rules[0].values`],
  ])('%s: at most 100 (the facade’s own limit, Graph documents none)', (_, body, target) => {
    expect(targetsOf(createExternalConnection, { ...valid, ...body(100) })).toEqual([]);
    expect(targetsOf(createExternalConnection, { ...valid, ...body(101) })).toEqual([target]);
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

  it('accepts the documented regions only, and names only them when refusing another (not the null a blank may be)', () => {
    for (const region of ['nam', 'eur', 'aus', 'asia', 'ind', null]) {
      expect(targetsOf(createConnectorGroup, { name: 'g', region }, 'beta')).toEqual([]);
    }
    for (const region of ['mars', 7]) {
      const { problems } = judge(createConnectorGroup, { name: 'g', region }, 'beta');
      expect(problems).toEqual([{ code: 'invalidValue', target: 'region', message: '"region" must be one of [nam, eur, aus, asia, ind]' }]);
    }
  });

  it('accepts isDefault false without forwarding it (Graph sets it), and refuses true: a new group cannot be the default', () => {
    expect(judge(createConnectorGroup, { name: 'g', isDefault: false }, 'beta')).toEqual({ value: { name: 'g' }, problems: [], unlisted: 0 });
    for (const isDefault of [true, 'false']) {
      const { problems } = judge(createConnectorGroup, { name: 'g', isDefault }, 'beta');
      expect(problems).toEqual([expect.objectContaining({ target: 'isDefault', code: 'invalidValue', message: expect.stringContaining('cannot be the default') })]);
    }
  });

  it('rejects the read-only id by name, and any connectorGroupType but applicationProxy', () => {
    const { problems } = judge(createConnectorGroup, { name: 'g', id: guid, connectorGroupType: 'other' }, 'beta');
    expect(problems.map((problem) => problem.target).sort()).toEqual(['connectorGroupType', 'id']);
    expect(problems.find((problem) => problem.target === 'id')?.message).toContain('read-only');
  });
});

describe('messages of values outside a list (every schema)', () => {
  it('name the allowed values, without the null that stands for a blank, and one problem per value', () => {
    const schema = Joi.object({ one: Joi.string().valid('a').allow(null), some: Joi.string().valid('a', 'b').allow(null), plain: Joi.string().valid('a', 'b') });
    const { problems } = validateWith(schema, { one: 'x', some: 5, plain: 'x' });
    expect(problems.map((problem) => problem.message)).toEqual(['"one" must be [a]', '"some" must be one of [a, b]', '"plain" must be one of [a, b]']);
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
