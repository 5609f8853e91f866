import { Ajv, type ValidateFunction } from 'ajv';
import { isCreateOperation } from '../../shared/operations/operation';
import addFormatsModule from 'ajv-formats';
import type { OpenAPIV2, OpenAPIV3 } from 'openapi-types';
import { describe, expect, it } from 'vitest';
import { documentedOperations } from '../../functions/index';
import { FacadeError, badRequest, graphErrorBody } from '../../shared/errors';
import { openApiFor, swaggerFor } from '../../shared/openapi/documents';
import type { HttpOperation } from '../../shared/operations/operation';
import { isQuery } from '../../shared/operations/query';
import { validateWith } from '../../shared/schemas/validate';
import { documentedExamples } from '../support/documentedExamples';

/**
 * One source of truth: every case below is judged by joi (as the pipeline validates) and by the
 * JSON schema each document publishes for that request body (checked with ajv), and they agree.
 * The rules Swagger 2.0 cannot state (conditions between properties, custom rules) are listed at
 * the end: joi refuses those bodies, the documents accept them and say the rule in words.
 */

type Json = Record<string, unknown>;
type Body = Record<string, unknown>;

// ajv-formats is CommonJS with a default export; under ESM interop the function may sit on `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule);

const target = { host: 'func-api-test.azurewebsites.net', scheme: 'https' } as const;
const openApi = openApiFor(documentedOperations, target);
const swagger = swaggerFor(documentedOperations, target);

/** Swagger 2.0 schemas read as OpenAPI 3.0 ones: `x-nullable` is how Swagger 2.0 says `nullable`. */
function swaggerAsOpenApi(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(swaggerAsOpenApi);
  if (typeof schema !== 'object' || schema === null) return schema;
  const result: Json = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === '$ref' && typeof value === 'string') result.$ref = value.replace('#/definitions/', '#/components/schemas/');
    else result[keyword] = swaggerAsOpenApi(value);
  }
  if (result['x-nullable'] === true) {
    result.nullable = true;
    if (Array.isArray(result.enum)) result.enum = [...result.enum, null];
  }
  return result;
}

function validatorsFor(schemas: Record<string, unknown>): (name: string) => ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema({ components: { schemas } }, 'document');
  const compiled = new Map<string, ValidateFunction>();
  return (name) => {
    let validate = compiled.get(name);
    if (!validate) {
      validate = ajv.compile({ $ref: `document#/components/schemas/${name}` });
      compiled.set(name, validate);
    }
    return validate;
  };
}

const documents = {
  'openapi.json': validatorsFor(openApi.components!.schemas as Record<string, unknown>),
  'swagger.json': validatorsFor(swaggerAsOpenApi(swagger.definitions) as Record<string, unknown>),
};

interface Documented {
  operation: HttpOperation;
  version: string;
  requestSchema: string;
  path: string;
}

/** For an operation and Graph version: the request body schema each document names. */
function documented(name: string, version: string): Documented {
  const operation = documentedOperations.filter((candidate): candidate is HttpOperation & typeof candidate => !isQuery(candidate)).find((candidate) => candidate.name === name)!;
  for (const [path, item] of Object.entries(swagger.paths)) {
    if (!path.startsWith(`/${version}/`)) continue;
    const post = (item as OpenAPIV2.PathItemObject).post!;
    if (post.operationId!.replace(/Beta$/, '') !== name.charAt(0).toUpperCase() + name.slice(1)) continue;
    const body = (post.parameters as OpenAPIV2.Parameter[]).find((parameter) => parameter.in === 'body') as OpenAPIV2.InBodyParameterObject;
    const requestSchema = (body.schema as OpenAPIV2.ReferenceObject).$ref.replace('#/definitions/', '');
    const openApiBody = openApi.paths[path]!.post!.requestBody as OpenAPIV3.RequestBodyObject;
    expect((openApiBody.content['application/json']!.schema as OpenAPIV3.ReferenceObject).$ref).toBe(`#/components/schemas/${requestSchema}`);
    return { operation, version, requestSchema, path };
  }
  throw new Error(`${name} is not documented for ${version}`);
}

const joiAccepts = (doc: Documented, body: unknown) =>
  validateWith(doc.operation.body, body, { version: doc.version }).problems.length === 0;

function judgements(doc: Documented, body: unknown) {
  return {
    joi: joiAccepts(doc, body),
    'openapi.json': documents['openapi.json'](doc.requestSchema)(body),
    'swagger.json': documents['swagger.json'](doc.requestSchema)(body),
  };
}

const guid = 'e811976d-83df-4cbd-8b9b-5215b18aa874';
const resolver = {
  '@odata.type': '#microsoft.graph.externalConnectors.itemIdResolver',
  priority: 1,
  itemId: '{slug}',
  urlMatchInfo: { baseUrls: ['https://contoso.com'], urlPattern: '/items/(?<slug>[^/]+)' },
};
const template = {
  id: 'tickets',
  priority: 1,
  layout: { type: 'AdaptiveCard', version: '1.3', body: [{ type: 'TextBlock', text: '${title}' }] },
  rules: [{ operation: 'equals', property: 'type', values: ['ticket'], valuesJoinedBy: 'or' }],
};
const connection = { id: 'contosohr', name: 'Contoso HR' };
const templates = (...changes: Record<string, unknown>[]) => ({ ...connection, searchSettings: { searchResultTemplates: changes.map((change) => ({ ...template, ...change })) } });
const many = <T>(count: number, item: (index: number) => T) => Array.from({ length: count }, (_, index) => item(index));

type Case = [label: string, operation: string, version: string, body: Body, valid: boolean];

/** Valid bodies and the documented rules (docs/integrating.md "Validation and errors"), each broken once. */
const cases: Case[] = [
  ['connection: the smallest', 'createExternalConnection', 'v1.0', connection, true],
  ['connection: everything v1.0 has', 'createExternalConnection', 'v1.0', {
    ...connection, description: '', connectorId: null, contentCategory: 'knowledgeBase',
    configuration: { authorizedAppIds: [guid] }, activitySettings: { urlToItemResolvers: [resolver] },
    searchSettings: { searchResultTemplates: [template] },
  }, true],
  ['connection: Power Automate blanks (nulls)', 'createExternalConnection', 'v1.0', { ...connection, description: null, contentCategory: null, configuration: null }, true],
  ['connection: beta experiences', 'createExternalConnection', 'beta', { ...connection, enabledContentExperiences: 'search, compliance', complianceSettings: {} }, true],
  ['connection: two search result templates', 'createExternalConnection', 'v1.0', templates({}, { id: 'other', priority: 2 }), true],
  ['connection: three search result templates', 'createExternalConnection', 'v1.0', templates({}, { id: 'b' }, { id: 'c' }), false],
  ['connection: template priority 0', 'createExternalConnection', 'v1.0', templates({ priority: 0 }), false],
  ['connection: layout without a version', 'createExternalConnection', 'v1.0', templates({ layout: { type: 'AdaptiveCard' } }), false],
  ['connection: layout of another type', 'createExternalConnection', 'v1.0', templates({ layout: { type: 'Container', version: '1.3' } }), false],
  ['connection: layout version that is not one', 'createExternalConnection', 'v1.0', templates({ layout: { type: 'AdaptiveCard', version: 'latest' } }), false],
  ['connection: rule operation null (the ruleOperation member)', 'createExternalConnection', 'v1.0', templates({ rules: [{ ...template.rules[0], operation: 'null' }] }), true],
  ['connection: rule operation JSON null', 'createExternalConnection', 'v1.0', templates({ rules: [{ ...template.rules[0], operation: null }] }), false],
  ['connection: 101 rule values', 'createExternalConnection', 'v1.0', templates({ rules: [{ ...template.rules[0], values: many(101, (index) => `v${index}`) }] }), false],
  ['connection: 101 rules', 'createExternalConnection', 'v1.0', templates({ rules: many(101, () => template.rules[0]) }), false],
  ['connection: eDiscovery templates on beta', 'createExternalConnection', 'beta', { ...connection, complianceSettings: { eDiscoveryResultTemplates: [template, { ...template, id: 'b' }] } }, true],
  ['connection: three eDiscovery templates', 'createExternalConnection', 'beta', { ...connection, complianceSettings: { eDiscoveryResultTemplates: [template, template, template] } }, false],
  ['connection: unknown compliance setting', 'createExternalConnection', 'beta', { ...connection, complianceSettings: { retention: 'P1Y' } }, false],
  ['connection: resolver without its nullable fields', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ '@odata.type': resolver['@odata.type'], itemId: '{slug}' }] } }, true],
  ['connection: resolver with nulls', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ ...resolver, priority: null, urlMatchInfo: { baseUrls: null, urlPattern: null } }] } }, true],
  ['connection: resolver without itemId', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ '@odata.type': resolver['@odata.type'] }] } }, false],
  ['connection: 100 authorized apps', 'createExternalConnection', 'v1.0', { ...connection, configuration: { authorizedAppIds: many(100, () => guid) } }, true],
  ['connection: 101 authorized apps', 'createExternalConnection', 'v1.0', { ...connection, configuration: { authorizedAppIds: many(101, () => guid) } }, false],
  ['connection: 101 resolvers', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: many(101, () => resolver) } }, false],
  ['connection: 101 base URLs', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ ...resolver, urlMatchInfo: { baseUrls: many(101, (index) => `https://contoso.com/${index}`) } }] } }, false],
  ['connection: id of 2', 'createExternalConnection', 'v1.0', { ...connection, id: 'ab' }, false],
  ['connection: id of 33', 'createExternalConnection', 'v1.0', { ...connection, id: 'a'.repeat(33) }, false],
  ['connection: id with a hyphen', 'createExternalConnection', 'v1.0', { ...connection, id: 'contoso-hr' }, false],
  ['connection: numeric id', 'createExternalConnection', 'v1.0', { ...connection, id: 12345 }, false],
  ['connection: no id', 'createExternalConnection', 'v1.0', { name: 'Contoso HR' }, false],
  ['connection: no name', 'createExternalConnection', 'v1.0', { id: 'contosohr' }, false],
  ['connection: empty name', 'createExternalConnection', 'v1.0', { ...connection, name: '' }, false],
  ['connection: name of 129', 'createExternalConnection', 'v1.0', { ...connection, name: 'n'.repeat(129) }, false],
  ['connection: read-only state', 'createExternalConnection', 'v1.0', { ...connection, state: 'draft' }, false],
  ['connection: unknown property', 'createExternalConnection', 'v1.0', { ...connection, color: 'red' }, false],
  ['connection: foreign @odata.type', 'createExternalConnection', 'v1.0', { ...connection, '@odata.type': '#microsoft.graph.user' }, false],
  ['connection: unknown contentCategory', 'createExternalConnection', 'v1.0', { ...connection, contentCategory: 'blog' }, false],
  ['connection: app id not a GUID', 'createExternalConnection', 'v1.0', { ...connection, configuration: { authorizedAppIds: ['app'] } }, false],
  ['connection: resolver priority 0', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ ...resolver, priority: 0 }] } }, false],
  ['connection: resolver priority 1.5', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ ...resolver, priority: 1.5 }] } }, false],
  ['connection: no base URL', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ ...resolver, urlMatchInfo: { baseUrls: [], urlPattern: 'x' } }] } }, false],
  ['connection: ftp base URL', 'createExternalConnection', 'v1.0', { ...connection, activitySettings: { urlToItemResolvers: [{ ...resolver, urlMatchInfo: { baseUrls: ['ftp://contoso.com'], urlPattern: 'x' } }] } }, false],
  ['connection: template id of 17', 'createExternalConnection', 'v1.0', { ...connection, searchSettings: { searchResultTemplates: [{ ...template, id: 'a'.repeat(17) }] } }, false],
  ['connection: unknown rule operation', 'createExternalConnection', 'v1.0', { ...connection, searchSettings: { searchResultTemplates: [{ ...template, rules: [{ ...template.rules[0], operation: 'like' }] }] } }, false],
  ['connection: beta-only property on v1.0', 'createExternalConnection', 'v1.0', { ...connection, enabledContentExperiences: 'search' }, false],
  ['connection: unknown experience on beta', 'createExternalConnection', 'beta', { ...connection, enabledContentExperiences: 'search, web' }, false],
  ['group: smallest', 'createExternalGroup', 'v1.0', { id: 'a_b-c' }, true],
  ['group: all properties', 'createExternalGroup', 'beta', { id: '31bea3d537902000', displayName: '', description: null }, true],
  ['group: id with a space', 'createExternalGroup', 'v1.0', { id: 'has space' }, false],
  ['group: id of 129', 'createExternalGroup', 'v1.0', { id: 'g'.repeat(129) }, false],
  ['group: no id', 'createExternalGroup', 'v1.0', { displayName: 'x' }, false],
  ['group: numeric displayName', 'createExternalGroup', 'v1.0', { id: 'g1', displayName: 5 }, false],
  ['group: unknown property', 'createExternalGroup', 'v1.0', { id: 'g1', owner: 'me' }, false],
  ['member: user', 'createExternalGroupMember', 'v1.0', { id: guid, type: 'user' }, true],
  ['member: external group', 'createExternalGroupMember', 'beta', { id: 'contoso_sales-1', type: 'externalGroup' }, true],
  ['member: the older identitySource shape', 'createExternalGroupMember', 'beta', { id: guid, type: 'group', identitySource: 'azureActiveDirectory' }, true],
  ['member: unknown type', 'createExternalGroupMember', 'v1.0', { id: guid, type: 'robot' }, false],
  ['member: no type', 'createExternalGroupMember', 'v1.0', { id: guid }, false],
  ['member: no id', 'createExternalGroupMember', 'v1.0', { type: 'user' }, false],
  ['member: unknown identitySource', 'createExternalGroupMember', 'beta', { id: guid, type: 'user', identitySource: 'String' }, false],
  ['member: unknown property', 'createExternalGroupMember', 'v1.0', { id: guid, type: 'user', role: 'owner' }, false],
  ['bulk: members of each kind', 'addExternalGroupMembersInBulk', 'v1.0', { members: [{ id: guid, type: 'user' }, { id: 'contoso_sales', type: 'externalGroup' }] }, true],
  ['bulk: the older identitySource shape', 'addExternalGroupMembersInBulk', 'beta', { members: [{ id: guid, type: 'group', identitySource: 'azureActiveDirectory' }] }, true],
  ['bulk: no members', 'addExternalGroupMembersInBulk', 'v1.0', { members: [] }, false],
  ['bulk: 1,001 members', 'addExternalGroupMembersInBulk', 'v1.0', { members: many(1001, () => ({ id: guid, type: 'user' })) }, false],
  ['bulk: a member without type', 'addExternalGroupMembersInBulk', 'v1.0', { members: [{ id: guid }] }, false],
  ['bulk: members missing', 'addExternalGroupMembersInBulk', 'v1.0', {}, false],
  ['connector group: smallest', 'createConnectorGroup', 'beta', { name: 'Contoso' }, true],
  ['connector group: blank region', 'createConnectorGroup', 'beta', { name: 'Contoso', region: null, connectorGroupType: 'applicationProxy' }, true],
  ['connector group: no name', 'createConnectorGroup', 'beta', { region: 'eur' }, false],
  ['connector group: empty name', 'createConnectorGroup', 'beta', { name: '' }, false],
  ['connector group: unknown region', 'createConnectorGroup', 'beta', { name: 'Contoso', region: 'mars' }, false],
  ['connector group: isDefault false (Graph ignores it)', 'createConnectorGroup', 'beta', { name: 'Contoso', isDefault: false }, true],
  ['connector group: isDefault true', 'createConnectorGroup', 'beta', { name: 'Contoso', isDefault: true }, false],
  ['connector group: read-only id', 'createConnectorGroup', 'beta', { name: 'Contoso', id: guid }, false],
  ['connector group: other type', 'createConnectorGroup', 'beta', { name: 'Contoso', connectorGroupType: 'String' }, false],
];

describe('joi and the published schemas judge bodies alike', () => {
  it.each(documentedExamples.flatMap((example) => [
    [`${example.name}, made concrete`, example, example.concrete] as const,
    [`${example.name}, as documented`, example, example.asDocumented] as const,
  ]))('%s', (_, example, body) => {
    const doc = documented(example.operation, example.version);
    const verdict = judgements(doc, body);
    expect(verdict).toEqual({ joi: verdict.joi, 'openapi.json': verdict.joi, 'swagger.json': verdict.joi });
    if (body === example.concrete) expect(verdict.joi).toBe(true);
  });

  it.each(cases)('%s', (_, operation, version, body, valid) => {
    expect(judgements(documented(operation, version), body)).toEqual({ joi: valid, 'openapi.json': valid, 'swagger.json': valid });
  });

  it('path parameters: the documented schema and the joi rule agree', () => {
    const doc = documented('createExternalGroupMember', 'v1.0');
    const parameters = openApi.paths[doc.path]!.post!.parameters as OpenAPIV3.ParameterObject[];
    const ajv = new Ajv({ strict: false });
    for (const [name, values] of [
      ['connectionId', ['contosohr', 'ab', 'contoso-hr', 'a'.repeat(32), 'a'.repeat(33)]],
      ['groupId', ['31bea3d537902000', 'a_b-c', 'has space', 'g'.repeat(128), 'g'.repeat(129)]],
    ] as const) {
      const schema = parameters.find((parameter) => parameter.name === name)!.schema as Json;
      for (const value of values) {
        const joi = validateWith(doc.operation.params[name]!, value).problems.length === 0;
        expect(ajv.validate(schema, value), `${name} ${value}`).toBe(joi);
      }
    }
  });

  it('the facade\'s error bodies match the GraphError schema of both documents', () => {
    const bodies = [
      graphErrorBody(badRequest('The request is invalid (one problem); see details.', [{ code: 'missingProperty', message: '"id" is required', target: 'id' }]), { requestId: 'r', clientRequestId: 'c' }),
      graphErrorBody(new FacadeError(503, 'auditStoreUnavailable', 'Audit store unavailable.'), { requestId: 'r', clientRequestId: 'c' }),
    ];
    for (const body of bodies) {
      expect(documents['openapi.json']('GraphError')(body)).toBe(true);
      expect(documents['swagger.json']('GraphError')(body)).toBe(true);
    }
    expect(documents['openapi.json']('GraphError')({ message: 'no error wrapper' })).toBe(false);
  });
});

/**
 * Rules that Swagger 2.0 cannot state: the documents accept these bodies, joi refuses them, and the
 * property's description says the rule. `words` must appear in that description.
 */
const statedInWords: [label: string, operation: string, version: string, body: Body, property: string, words: string][] = [
  ['connection id starting with Microsoft', 'createExternalConnection', 'v1.0', { ...connection, id: 'MicrosoftHR' }, 'id', 'not starting with Microsoft'],
  ['reserved connection id', 'createExternalConnection', 'v1.0', { ...connection, id: 'Teams' }, 'id', 'Teams'],
  ['reserved connection id in another case', 'createExternalConnection', 'v1.0', { ...connection, id: 'sharepoint' }, 'id', 'in any case'],
  ['member user id not a GUID', 'createExternalGroupMember', 'v1.0', { id: 'contoso_sales', type: 'user' }, 'id', 'GUID) when type is user or group'],
  ['identitySource with type externalGroup', 'createExternalGroupMember', 'beta', { id: 'g1', type: 'externalGroup', identitySource: 'azureActiveDirectory' }, 'identitySource', 'not allowed with type externalGroup'],
  ['external user member', 'createExternalGroupMember', 'beta', { id: guid, type: 'user', identitySource: 'external' }, 'identitySource', 'external with type user is refused'],
  ['bulk: a member named twice', 'addExternalGroupMembersInBulk', 'v1.0', { members: [{ id: guid, type: 'user' }, { id: guid, type: 'group' }] }, 'members', 'each at most once'],
];

describe('rules stated in words only (no Swagger 2.0 keyword for them)', () => {
  it.each(statedInWords)('%s: joi refuses, the documents accept and describe the rule', (_, operation, version, body, property, words) => {
    const doc = documented(operation, version);
    expect(judgements(doc, body)).toEqual({ joi: false, 'openapi.json': true, 'swagger.json': true });
    const description = (swagger.definitions![doc.requestSchema]!.properties![property] as Json).description;
    expect(description).toContain(words);
  });

  it('both names of authorizedAppIds at once: joi refuses, the documents accept and describe it', () => {
    const doc = documented('createExternalConnection', 'v1.0');
    const body = { ...connection, configuration: { authorizedApps: [guid], authorizedAppIds: [guid] } };
    expect(judgements(doc, body)).toEqual({ joi: false, 'openapi.json': true, 'swagger.json': true });
    const configuration = swagger.definitions![doc.requestSchema]!.properties!.configuration as OpenAPIV2.SchemaObject;
    expect(configuration.properties!.authorizedApps!.description).toContain('not with authorizedAppIds');
  });

  it('a GUID in braces: joi accepts it, the documents (format uuid) do not: the one stricter case', () => {
    const doc = documented('createExternalConnection', 'v1.0');
    const body = { ...connection, configuration: { authorizedAppIds: [`{${guid}}`] } };
    expect(judgements(doc, body)).toEqual({ joi: true, 'openapi.json': false, 'swagger.json': false });
  });
});

describe('the audit queries\' parameters: joi and the published schemas agree', () => {
  const scope = { operations: documentedOperations.filter(isCreateOperation) };
  const queries = documentedOperations.filter(isQuery);
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);

  /** Query strings are text: a whole number is read as a number where the rule is one (as the pipeline does). */
  const asSent = (rule: { type?: string }, value: string) => (rule.type === 'number' && /^[+-]?\d+$/.test(value) ? Number(value) : value);

  it.each([
    ['listAuditRecords', '$top', ['1', '100', '1000', '0', '1001', '2.5', 'ten']],
    ['listAuditRecords', 'status', ['failed', 'unknown,unresolved', 'pending,succeeded,failed,unknown,orphaned,unresolved', 'bogus', 'failed,', 'failed unknown', 'FAILED']],
    ['listAuditRecords', 'operation', ['createExternalGroup', 'createConnectorGroup', 'createexternalgroup', 'deleteExternalGroup']],
    ['listAuditRecords', 'from', ['2026-11-01T00:00:00Z', '2026-11-01T00:00:00.123+02:00', '2026-11-01', '2026-11-01T00:00:00', 'yesterday']],
    ['listAuditRecords', 'entityId', ['contosohr', 'x'.repeat(256), 'x'.repeat(257)]],
    ['getEntityAuditRecords', 'groupId', ['31bea3d537902000', 'a_b-c', 'has space']],
    ['getEntityAuditRecords', 'entityId', ['e811976d-83df-4cbd-8b9b-5215b18aa874', 'x'.repeat(257)]],
  ] as const)('%s %s', (queryName, name, values) => {
    const query = queries.find((candidate) => candidate.name === queryName)!;
    const rule = { ...query.query(scope), ...query.params(scope) }[name]!;
    const route = Object.keys(openApi.paths).find((path) => path === `/${query.route}`)!;
    const documentedParameter = (openApi.paths[route]!.get!.parameters as OpenAPIV3.ParameterObject[]).find((parameter) => parameter.name === name)!;
    for (const value of values) {
      const sent = asSent(rule, value);
      const joi = validateWith(rule, sent).problems.length === 0;
      expect(ajv.validate(documentedParameter.schema as Json, sent), `${name}=${value}`).toBe(joi);
    }
  });
});
