import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI, OpenAPIV2, OpenAPIV3 } from 'openapi-types';
import { describe, expect, it } from 'vitest';
import { documentedOperations, openApiJson, swaggerJson, targetOf } from '../../functions/index';
import { HttpRequest } from '../../shared/azureFunctions';
import { openApiFor, swaggerFor } from '../../shared/openapi/documents';
import { isConnectorJobOperation, keepsOwnRecord } from '../../shared/operations/connectorJob';
import { minorWords } from '../../shared/openapi/text';
import { isQuery } from '../../shared/operations/query';
import { graphVersionsOf } from '../../shared/openapi/model';
import { appRoles } from '../../shared/auth/roles';
import { apiDefinitionPath, connectorApiDefinition } from '../../scripts/connector';
import { functionDefinitions } from '../../functions/index';

/**
 * Both documents validate, and the Swagger 2.0 one follows the Power Platform connector rules
 * (learn.microsoft.com/connectors/custom-connectors/connector-string-guidance and the
 * certification checklist): a test per rule, walking every operation, parameter and property.
 */

type Json = { [key: string]: unknown };

const target = { host: 'func-api-test.azurewebsites.net', scheme: 'https' } as const;
const swagger = swaggerFor(documentedOperations, target);
const openApi = openApiFor(documentedOperations, target);

const methods = ['get', 'post'] as const;

/** Every documented operation, with its path and method: the creates (POST) and the audit queries (GET). */
const operationsOf = (document: OpenAPIV2.Document) =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    methods.flatMap((method) => {
      const operation = (item as OpenAPIV2.PathItemObject)[method];
      return operation ? [{ path, method, operation }] : [];
    }),
  );
const createsOf = (document: OpenAPIV2.Document) => operationsOf(document).filter(({ method }) => method === 'post');
/** The queries of the audit trail (GET), not the bulk status URL. */
const queriesOf = (document: OpenAPIV2.Document) => operationsOf(document).filter(({ method, path }) => method === 'get' && path.startsWith('/audit'));

/** Every schema property in the definitions, with its path, object schema and name. */
function propertiesOf(schemas: Record<string, unknown>): { at: string; name: string; property: Json; owner: Json }[] {
  const found: { at: string; name: string; property: Json; owner: Json }[] = [];
  const walk = (schema: unknown, at: string) => {
    if (typeof schema !== 'object' || schema === null) return;
    const owner = schema as Json;
    for (const [name, property] of Object.entries((owner.properties as Record<string, Json> | undefined) ?? {})) {
      found.push({ at: `${at}.${name}`, name, property, owner });
      walk(property, `${at}.${name}`);
    }
    if (owner.items) walk(owner.items, `${at}[]`);
  };
  for (const [name, schema] of Object.entries(schemas)) walk(schema, name);
  return found;
}

/** Names keep their capitals in sentence case. */
const properNouns = new Set(['Graph', 'Microsoft', 'Entra', 'ID', 'Swagger', 'OpenAPI']);

function isSentenceCase(text: string): boolean {
  const [first, ...rest] = text.split(' ');
  return /^[A-Z]/.test(first ?? '') && rest.every((word) => properNouns.has(word) || !/^[A-Z]/.test(word));
}

function isTitleCase(text: string): boolean {
  const words = text.split(' ');
  return words.every((word, index) => {
    if (index > 0 && index < words.length - 1 && minorWords.has(word)) return true;
    return /^[A-Z0-9]/.test(word);
  });
}

const requestSchemaNames = new Set(
  createsOf(swagger).flatMap(({ operation }) =>
    (operation.parameters as OpenAPIV2.Parameter[])
      .filter((parameter): parameter is OpenAPIV2.InBodyParameterObject => parameter.in === 'body')
      .map((parameter) => ((parameter.schema as OpenAPIV2.ReferenceObject).$ref ?? '').replace('#/definitions/', '')),
  ),
);

describe('the OpenAPI documents', () => {
  it('Swagger 2.0 validates with swagger-parser', async () => {
    await expect(SwaggerParser.validate(structuredClone(swagger) as OpenAPI.Document)).resolves.toBeTruthy();
  });

  it('OpenAPI 3.0 validates with swagger-parser', async () => {
    await expect(SwaggerParser.validate(structuredClone(openApi) as OpenAPI.Document)).resolves.toBeTruthy();
  });

  it('say the same: operations, paths, methods, parameters and schema names', () => {
    const swaggerOps = operationsOf(swagger).map(({ path, method, operation }) => [path, method, operation.operationId, operation.summary]);
    const openApiOps = Object.entries(openApi.paths).flatMap(([path, item]) =>
      methods.flatMap((method) => (item![method] ? [[path, method, item![method]!.operationId, item![method]!.summary]] : [])),
    );
    expect(openApiOps).toEqual(swaggerOps);
    expect(Object.keys(openApi.components!.schemas!)).toEqual(Object.keys(swagger.definitions!));
    for (const [path, item] of Object.entries(openApi.paths)) {
      for (const method of methods) {
        if (!item![method]) continue;
        const names = (item![method]!.parameters as OpenAPIV3.ParameterObject[]).map((parameter) => `${parameter.in} ${parameter.name}`);
        const swaggerNames = (swagger.paths[path]![method]!.parameters as OpenAPIV2.Parameter[])
          .filter((parameter) => parameter.in !== 'body')
          .map((parameter) => `${parameter.in} ${parameter.name}`);
        expect(names).toEqual(swaggerNames);
      }
    }
  });

  it('document each create once per Graph version, on its canonical route only, and each audit query', () => {
    // From the registry: a create on each Graph version its `version` parameter allows (v1.0 first,
    // the beta one named …Beta when there are both), on its canonical route with the version filled
    // in; the bulk requests' status URL; each query.
    const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
    const expected = documentedOperations.filter((operation) => !isConnectorJobOperation(operation)).flatMap((operation) => {
      if (isQuery(operation)) return [`${pascal(operation.name)} /${operation.route}`];
      const versions = graphVersionsOf(operation);
      return versions.map((version) =>
        `${pascal(operation.name)}${versions.length > 1 && version === 'beta' ? 'Beta' : ''} /${operation.routes[0].replace('{version}', version)}`,
      );
    });
    const firstQuery = expected.findIndex((entry) => entry.startsWith(pascal(documentedOperations.find(isQuery)!.name)));
    // Before the queries: the bulk requests' status URL, then the connector jobs (schema registration
    // and manifests: shared/openapi/connectorJobDocs.ts) with their status URLs.
    const connectorJobs = [
      'PlanConnectorManifest /v1.0/external/connectorManifests/plan',
      'PlanConnectorManifestBeta /beta/external/connectorManifests/plan',
      'ApplyConnectorManifest /v1.0/external/connectorManifests/apply',
      'ApplyConnectorManifestBeta /beta/external/connectorManifests/apply',
      'RegisterConnectionSchema /v1.0/external/connections/{connectionId}/schema',
      'RegisterConnectionSchemaBeta /beta/external/connections/{connectionId}/schema',
      'GetConnectorManifestApplyStatus /connectorManifestApplies/{id}',
      'GetSchemaRegistrationStatus /schemaRegistrations/{id}',
    ];
    const bulkStatus = documentedOperations.some((operation) => !isQuery(operation) && !isConnectorJobOperation(operation) && operation.kind === 'bulk') ? ['GetBulkRequestStatus /jobs/{id}'] : [];
    expected.splice(firstQuery, 0, ...bulkStatus, ...connectorJobs);
    // The service's own routes close the list: the health probe and the two documents.
    expected.push('GetHealth /health', 'GetSwaggerDocument /swagger.json', 'GetOpenApiDocument /openapi.json');
    expect(operationsOf(swagger).map(({ path, operation }) => `${operation.operationId} ${path}`)).toEqual(expected);
    expect(expected.length).toBeGreaterThanOrEqual(12);
  });

  it('leave beta-only properties out of v1.0 bodies and read-only ones out of every request body', () => {
    const v1 = swagger.definitions!.CreateExternalConnectionRequest!.properties!;
    const beta = swagger.definitions!.CreateExternalConnectionBetaRequest!.properties!;
    expect(Object.keys(v1)).not.toContain('enabledContentExperiences');
    expect(Object.keys(beta)).toEqual(expect.arrayContaining(['enabledContentExperiences', 'complianceSettings']));
    expect(Object.keys(v1)).not.toContain('state');
    expect(Object.keys(swagger.definitions!.CreateConnectorGroupRequest!.properties!)).not.toEqual(expect.arrayContaining(['id']));
    expect(swagger.definitions!.ConnectorGroup!.properties!.id).toMatchObject({ type: 'string', readOnly: true });
    // Accepted (false only) and not forwarded; Graph answers with them.
    expect(swagger.definitions!.CreateConnectorGroupRequest!.properties!.isDefault).toMatchObject({ type: 'boolean', enum: [false], 'x-ms-visibility': 'internal' });
    expect(swagger.definitions!.ConnectorGroup!.properties!.isDefault).toMatchObject({ type: 'boolean', readOnly: true });
    expect(swagger.definitions!.ConnectorGroup!.properties!.connectorGroupType).toMatchObject({ type: 'string', readOnly: true });
    expect(swagger.definitions!.ExternalConnection!.properties!.state).toMatchObject({ type: 'string', readOnly: true });
  });

  it('are well under the 1 MB Power Platform limit', () => {
    expect(Buffer.byteLength(JSON.stringify(swagger))).toBeLessThan(1_000_000);
    expect(Buffer.byteLength(connectorApiDefinition())).toBeLessThan(1_000_000);
  });
});

describe('Power Platform connector rules (Swagger 2.0)', () => {
  it('host, basePath /api, https only, JSON in and out', () => {
    expect(swagger).toMatchObject({ swagger: '2.0', host: target.host, basePath: '/api', schemes: ['https'] });
    expect(swagger.consumes).toEqual(['application/json']);
    expect(swagger.produces).toEqual(['application/json']);
  });

  it('title of at most 30 characters; neither title nor description says API', () => {
    expect(swagger.info.title.length).toBeLessThanOrEqual(30);
    expect(`${swagger.info.title} ${swagger.info.description}`).not.toMatch(/\bAPI\b/i);
  });

  it('operationIds are unique PascalCase words', () => {
    const ids = operationsOf(swagger).map(({ operation }) => operation.operationId!);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Z][A-Za-z0-9]*$/);
  });

  it('summaries: sentence case, at most 80 characters, no slash, ending in a letter or digit; and a description', () => {
    for (const { operation } of operationsOf(swagger)) {
      const summary = operation.summary!;
      expect(summary.length, summary).toBeLessThanOrEqual(80);
      expect(summary).not.toContain('/');
      expect(isSentenceCase(summary), summary).toBe(true);
      expect(summary).toMatch(/[A-Za-z0-9]$/);
      expect(operation.description).toMatch(/^[A-Z].*\.$/);
    }
  });

  it('every parameter has a title-case x-ms-summary, a description and x-ms-visibility by requiredness', () => {
    for (const { operation } of operationsOf(swagger)) {
      for (const parameter of operation.parameters as OpenAPIV2.Parameter[]) {
        expect(isTitleCase(parameter['x-ms-summary'] as string), `${operation.operationId} ${parameter.name}`).toBe(true);
        expect(parameter.description).toMatch(/^[A-Z].*\.$/);
        if (parameter.in === 'body') continue;
        expect(parameter['x-ms-visibility']).toBe(parameter.required ? 'important' : 'advanced');
      }
    }
  });

  it('documents Idempotency-Key and client-request-id on every create, optional (client-request-id on the status URL too)', () => {
    // A plan writes nothing: there is nothing to make safe to retry.
    for (const { method, operation } of operationsOf(swagger).filter(({ path }) => !path.startsWith('/audit') && !path.endsWith('/plan'))) {
      const headers = (operation.parameters as OpenAPIV2.Parameter[]).filter((parameter) => parameter.in === 'header');
      expect(headers.map((header) => [header.name, header.required])).toEqual(
        expect.arrayContaining(method === 'post' ? [['client-request-id', false], ['Idempotency-Key', false]] : [['client-request-id', false]]),
      );
    }
  });

  it('every property has a title-case x-ms-summary and a description; request properties an x-ms-visibility', () => {
    const properties = propertiesOf(swagger.definitions!);
    expect(properties.length).toBeGreaterThan(50);
    for (const { at, name, property, owner } of properties) {
      expect(isTitleCase(property['x-ms-summary'] as string), at).toBe(true);
      expect(property.description, at).toMatch(/^[A-Z@].*\.$/);
      if (!requestSchemaNames.has(at.split('.')[0]!)) continue;
      const required = ((owner.required as string[] | undefined) ?? []).includes(name);
      const visibility = property['x-ms-visibility'];
      if (visibility === 'internal') expect(required, `${at} is required but hidden`).toBe(false);
      else expect(visibility, at).toBe(required ? 'important' : 'advanced');
    }
  });

  it('states the joi rules: enums, lengths and patterns', () => {
    const connection = swagger.definitions!.CreateExternalConnectionRequest!.properties!;
    expect(connection.id).toMatchObject({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9]+$' });
    expect(connection.name).toMatchObject({ minLength: 1, maxLength: 128 });
    expect(connection.contentCategory!.enum).toContain('knowledgeBase');
    expect(connection.contentCategory).toMatchObject({ 'x-nullable': true });
    expect(swagger.definitions!.CreateConnectorGroupRequest!.properties!.region!.enum).toEqual(['nam', 'eur', 'aus', 'asia', 'ind']);
    expect(swagger.definitions!.CreateExternalGroupMemberRequest!.properties!.type!.enum).toEqual(['user', 'group', 'externalGroup']);
  });

  it('states array limits, and says which are Graph’s and which the facade’s own', () => {
    const connection = swagger.definitions!.CreateExternalConnectionBetaRequest!.properties!;
    const property = (schema: OpenAPIV2.SchemaObject | undefined, ...path: string[]) =>
      path.reduce<OpenAPIV2.SchemaObject | undefined>((at, name) => (name === '[]' ? (at?.items as OpenAPIV2.SchemaObject) : at?.properties?.[name]), schema);
    const templates = property(connection.searchSettings, 'searchResultTemplates');
    expect(templates).toMatchObject({ maxItems: 2, description: expect.stringContaining("Microsoft Graph's limit") });
    expect(property(connection.complianceSettings, 'eDiscoveryResultTemplates')).toMatchObject({ maxItems: 2, description: expect.stringContaining("Microsoft Graph's limit") });
    for (const [name, array] of [
      ['authorizedAppIds', property(connection.configuration, 'authorizedAppIds')],
      ['urlToItemResolvers', property(connection.activitySettings, 'urlToItemResolvers')],
      ['baseUrls', property(connection.activitySettings, 'urlToItemResolvers', '[]', 'urlMatchInfo', 'baseUrls')],
      ['rules', property(templates, '[]', 'rules')],
      ['values', property(templates, '[]', 'rules', '[]', 'values')],
    ] as const) {
      expect(array, name).toMatchObject({ maxItems: 100, description: expect.stringContaining("the facade's own limit") });
    }
    expect(property(templates, '[]', 'layout')).toMatchObject({ required: ['type', 'version'] });
    expect(property(templates, '[]', 'priority')).toMatchObject({ minimum: 1 });
  });

  it('uses only Swagger 2.0 schema keywords (no oneOf, anyOf, not, nullable or writeOnly)', () => {
    const text = JSON.stringify(swagger.definitions);
    for (const keyword of ['oneOf', 'anyOf', 'allOf', '"not"', 'nullable"', 'writeOnly']) expect(text).not.toContain(`"${keyword.replace(/"/g, '')}"`);
  });

  it('answers 201 with the entity (bulk: 200 with the results or 202 with Location) and every error with the Graph error schema', () => {
    const errors = ['400', '401', '403', '404', '409', '413', '415', '422', '429', '500', '502', '503', '504'];
    // The audit queries have their own errors; the anonymous health probe and documents none.
    for (const { method, path, operation } of operationsOf(swagger).filter(({ path, operation }) => !path.startsWith('/audit') && !operation.security)) {
      const responses = operation.responses as Record<string, OpenAPIV2.ResponseObject>;
      // Asynchronous actions answer 200 when done, 202 while going on; a plan 200; a create 201.
      const asynchronous = path.endsWith('/members/bulk') || path.endsWith('/apply') || path.endsWith('/schema') || method === 'get';
      const successes = asynchronous ? ['200', '202'] : path.endsWith('/plan') ? ['200'] : ['201'];
      expect(Object.keys(responses)).toEqual([...successes, ...(method === 'get' ? ['401', '403', '404', '500', '503'] : errors)]);
      for (const success of successes) expect((responses[success]!.schema as OpenAPIV2.ReferenceObject).$ref).not.toBe('#/definitions/GraphError');
      for (const [status, response] of Object.entries(responses)) {
        expect(response.headers).toHaveProperty('request-id');
        if (!successes.includes(status)) expect(response.schema).toEqual({ $ref: '#/definitions/GraphError' });
      }
      if (method === 'post') expect(responses['429']!.headers).toHaveProperty('retry-after');
    }
  });

  it('the bulk action follows the asynchronous pattern: 202 with Location and Retry-After, an optional Prefer, and a status URL that is not an action', () => {
    const bulk = operationsOf(swagger).filter(({ path }) => path.endsWith('/members/bulk'));
    expect(bulk).toHaveLength(2);
    for (const { operation } of bulk) {
      const responses = operation.responses as Record<string, OpenAPIV2.ResponseObject>;
      expect(responses['200']!.schema).toEqual({ $ref: '#/definitions/BulkResult' });
      expect(responses['202']!.schema).toEqual({ $ref: '#/definitions/BulkProgress' });
      expect(Object.keys(responses['202']!.headers!)).toEqual(expect.arrayContaining(['location', 'retry-after']));
      const prefer = (operation.parameters as OpenAPIV2.GeneralParameterObject[]).find((parameter) => parameter.name === 'Prefer');
      expect(prefer).toMatchObject({ in: 'header', required: false, enum: ['respond-async'], 'x-ms-visibility': 'advanced' });
      const body = (operation.parameters as OpenAPIV2.Parameter[]).find((parameter) => parameter.in === 'body') as OpenAPIV2.InBodyParameterObject;
      const members = swagger.definitions![(body.schema as OpenAPIV2.ReferenceObject).$ref.replace('#/definitions/', '')]!.properties!.members!;
      expect(members).toMatchObject({ type: 'array', minItems: 1, maxItems: 1000, 'x-ms-visibility': 'important' });
      expect((members.items as OpenAPIV2.SchemaObject).properties!.type!.enum).toEqual(['user', 'group', 'externalGroup']);
    }
    const [status] = operationsOf(swagger).filter(({ method }) => method === 'get');
    expect(status).toMatchObject({ path: '/jobs/{id}', operation: { operationId: 'GetBulkRequestStatus', 'x-ms-visibility': 'internal' } });
    const results = swagger.definitions!.BulkResult!.properties!.results!.items as OpenAPIV2.SchemaObject;
    expect(results.properties!.status!.enum).toEqual(['created', 'alreadyMember', 'failed']);
  });

  it('secures every operation with an Entra ID oauth2 definition naming the app roles', () => {
    expect(swagger.securityDefinitions).toEqual({
      oauth2_auth: expect.objectContaining({
        type: 'oauth2',
        flow: 'accessCode',
        authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/authorize',
        tokenUrl: 'https://login.microsoftonline.com/common/oauth2/token',
      }),
    });
    expect(swagger.security).toEqual([{ oauth2_auth: [] }]);
    const description = (swagger.securityDefinitions!.oauth2_auth as { description: string }).description;
    for (const role of appRoles) expect(description).toContain(role);
    for (const operation of documentedOperations) {
      const operationId = operation.name.charAt(0).toUpperCase() + operation.name.slice(1);
      const documented = operationsOf(swagger).filter(({ operation: candidate }) => candidate.operationId!.replace(/Beta$/, '') === operationId);
      expect(documented.length).toBeGreaterThan(0);
      for (const { operation: doc } of documented) expect(doc.description).toContain(operation.role);
    }
  });
});

describe('the audit queries in the documents', () => {
  const list = swagger.paths['/audit']!.get!;
  const entity = swagger.paths['/audit/{operation}/{entityId}']!.get!;
  const parameters = (operation: OpenAPIV2.OperationObject) => operation.parameters as OpenAPIV2.GeneralParameterObject[];
  const named = (operation: OpenAPIV2.OperationObject, name: string) => parameters(operation).find((parameter) => parameter.name === name)!;
  const registered = documentedOperations.filter((operation) => !isQuery(operation) && operation.kind !== 'bulk' && !isConnectorJobOperation(operation)).map((operation) => operation.name);

  it('are GET operations without a body, answering JSON, requiring Audit.Read', () => {
    for (const { operation } of queriesOf(swagger)) {
      expect(operation.consumes).toBeUndefined();
      expect(operation.produces).toEqual(['application/json']);
      expect(parameters(operation).map((parameter) => parameter.in)).not.toContain('body');
      expect(operation.description).toContain('Requires the app role Audit.Read.');
    }
    expect(openApi.paths['/audit']!.get!.requestBody).toBeUndefined();
  });

  it('the list: optional filters, the operations the app registers, a bounded page size, and pageable by @odata.nextLink', () => {
    expect(parameters(list).map((parameter) => `${parameter.in} ${parameter.name} ${parameter.required}`)).toEqual([
      'query operation false', 'query status false', 'query entityId false', 'query callerId false', 'query clientRequestId false', 'query from false', 'query to false',
      'query $top false', 'query $skiptoken false', 'header client-request-id false',
    ]);
    // The list reads the connector jobs' own records too (a manifest apply, a schema registration).
    expect(named(list, 'operation').enum).toEqual([...registered, ...documentedOperations.filter(keepsOwnRecord).map((operation) => operation.name)]);
    expect(named(list, '$top')).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, 'x-ms-summary': 'Top' });
    expect(named(list, 'from')).toMatchObject({ type: 'string', format: 'date-time' });
    for (const filter of ['status', 'entityId', 'callerId', 'clientRequestId']) expect(named(list, filter).description).toContain('at most 31 days; without from, the last 7 days');
    expect((list as Record<string, unknown>)['x-ms-pageable']).toEqual({ nextLinkName: '@odata.nextLink' });
    expect(openApi.paths['/audit']!.get!).toHaveProperty('x-ms-pageable', { nextLinkName: '@odata.nextLink' });
    expect((entity as Record<string, unknown>)['x-ms-pageable']).toBeUndefined();
  });

  it('the entity route: operation and entity id in the path, the window and the parents in the query', () => {
    expect(parameters(entity).map((parameter) => `${parameter.in} ${parameter.name} ${parameter.required}`)).toEqual([
      'path operation true', 'path entityId true', 'query from false', 'query to false', 'query connectionId false', 'query groupId false',
      'header client-request-id false',
    ]);
    expect(named(entity, 'operation')).toMatchObject({ enum: registered, 'x-ms-visibility': 'important', 'x-ms-url-encoding': 'single' });
    expect(named(entity, 'connectionId').description).toContain('For createExternalGroup and createExternalGroupMember');
  });

  it('answer 200 with a page (value and @odata.nextLink) or the entity\'s records, every error Graph-shaped', () => {
    const responses = (operation: OpenAPIV2.OperationObject) => operation.responses as Record<string, OpenAPIV2.ResponseObject>;
    expect(Object.keys(responses(list))).toEqual(['200', '400', '401', '403', '500', '503']);
    expect(Object.keys(responses(entity))).toEqual(['200', '400', '401', '403', '404', '500', '503']);
    expect(responses(list)['200']!.schema).toEqual({ $ref: '#/definitions/AuditRecordPage' });
    expect(responses(entity)['200']!.schema).toEqual({ $ref: '#/definitions/EntityAuditRecords' });
    for (const operation of [list, entity]) {
      for (const [status, response] of Object.entries(responses(operation))) {
        expect(response.headers).toHaveProperty('request-id');
        if (status !== '200') expect(response.schema).toEqual({ $ref: '#/definitions/GraphError' });
      }
      expect(responses(operation)['503']!.headers).toHaveProperty('retry-after');
    }
    const page = swagger.definitions!.AuditRecordPage!.properties!;
    expect(Object.keys(page)).toEqual(['value', '@odata.nextLink']);
    const record = (page.value!.items as OpenAPIV2.SchemaObject).properties!;
    expect(Object.keys(record)).toEqual(expect.arrayContaining(['requestId', 'operation', 'entityId', 'callerId', 'status', 'reason', 'recovery', 'requestedAt', 'completedAt']));
    expect(Object.keys(record)).not.toEqual(expect.arrayContaining(['requestBody']));
    const entityRecord = (swagger.definitions!.EntityAuditRecords!.properties!.value!.items as OpenAPIV2.SchemaObject).properties!;
    expect(Object.keys(entityRecord)).toEqual(expect.arrayContaining(['madeEntity', 'requestBody', 'responseBody']));
  });
});

describe('served documents', () => {
  const get = (path: string, host = 'evil.example') =>
    new HttpRequest({ method: 'GET', url: `https://${host}/api/${path}`, headers: { host } });

  /** Runs `body` with these platform variables and settings in the process environment, then restores it. */
  async function withEnvironment<T>(values: Record<string, string>, body: () => Promise<T>): Promise<T> {
    const saved = { ...process.env };
    Object.assign(process.env, values);
    try {
      return await body();
    } finally {
      for (const name of Object.keys(values)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  }

  it('in Azure the documents name the app’s own host (WEBSITE_HOSTNAME), never the Host header the request carried', async () => {
    await withEnvironment({ WEBSITE_HOSTNAME: 'func-api-abc.azurewebsites.net' }, async () => {
      const swaggerResponse = await swaggerJson(get('swagger.json'));
      expect(swaggerResponse.status).toBe(200);
      expect(swaggerResponse.jsonBody).toMatchObject({ swagger: '2.0', host: 'func-api-abc.azurewebsites.net', basePath: '/api', schemes: ['https'] });
      const openApiResponse = await openApiJson(get('openapi.json'));
      expect(openApiResponse.jsonBody).toMatchObject({ openapi: '3.0.3', servers: [{ url: 'https://func-api-abc.azurewebsites.net/api' }] });
      expect(JSON.stringify([swaggerResponse.jsonBody, openApiResponse.jsonBody])).not.toContain('evil.example');
    });
  });

  it('PUBLIC_BASE_URL wins (a custom domain or a gateway, with its path)', async () => {
    await withEnvironment({ WEBSITE_HOSTNAME: 'func-api-abc.azurewebsites.net', PUBLIC_BASE_URL: 'https://gateway.contoso.com/connectors/' }, async () => {
      expect((await swaggerJson(get('swagger.json'))).jsonBody).toMatchObject({ host: 'gateway.contoso.com', basePath: '/connectors/api', schemes: ['https'] });
      expect((await openApiJson(get('openapi.json'))).jsonBody).toMatchObject({ servers: [{ url: 'https://gateway.contoso.com/connectors/api' }] });
    });
  });

  it('with neither, a Host header that is not loopback is not reflected: the documents name no host', async () => {
    const swaggerResponse = await swaggerJson(get('swagger.json'));
    expect(swaggerResponse.jsonBody).toMatchObject({ basePath: '/api' });
    expect(swaggerResponse.jsonBody).not.toHaveProperty('host');
    expect(swaggerResponse.jsonBody).not.toHaveProperty('schemes');
    expect((await openApiJson(get('openapi.json'))).jsonBody).toMatchObject({ servers: [{ url: '/api' }] });
    await expect(SwaggerParser.validate(structuredClone(swaggerResponse.jsonBody) as OpenAPI.Document)).resolves.toBeTruthy();
  });

  it('names the request’s host only on loopback, and plain http only there', () => {
    const request = (url: string) => new HttpRequest({ method: 'GET', url });
    expect(targetOf(request('http://127.0.0.1:7071/api/swagger.json'), {})).toEqual({ host: '127.0.0.1:7071', scheme: 'http' });
    expect(targetOf(request('http://localhost:7071/api/swagger.json'), {})).toEqual({ host: 'localhost:7071', scheme: 'http' });
    expect(targetOf(request('http://contoso.example/api/swagger.json'), {})).toEqual({});
    expect(targetOf(request('https://127.0.0.1.evil.example/api/swagger.json'), {})).toEqual({});
    expect(targetOf(request('http://127.0.0.1:7071/api/swagger.json'), { WEBSITE_HOSTNAME: 'func.azurewebsites.net' })).toEqual({ host: 'func.azurewebsites.net', scheme: 'https' });
  });

  it('refuses a PUBLIC_BASE_URL that is not an https URL without query or credentials', () => {
    const request = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/swagger.json' });
    for (const value of ['gateway.contoso.com', 'http://gateway.contoso.com', 'https://gateway.contoso.com/?a=1', 'https://user:pw@gateway.contoso.com']) {
      expect(() => targetOf(request, { PUBLIC_BASE_URL: value }), value).toThrow(/PUBLIC_BASE_URL/);
    }
    expect(targetOf(request, { PUBLIC_BASE_URL: 'http://127.0.0.1:8080' })).toEqual({ host: '127.0.0.1:8080', scheme: 'http' });
  });

  it('builds the model once per instance', () => {
    const first = swaggerFor(documentedOperations, target);
    const second = swaggerFor(documentedOperations, target);
    expect(second.definitions).toBe(first.definitions);
  });

  it('are registered as anonymous GET functions, and every documented path is served', () => {
    const http = functionDefinitions.filter((definition) => definition.kind === 'http');
    for (const route of ['swagger.json', 'openapi.json']) {
      expect(http.find((definition) => definition.options.route === route)?.options).toMatchObject({ methods: ['GET'], authLevel: 'anonymous' });
    }
    const routes = http.map((definition) => new RegExp(`^/${definition.options.route.replace(/\{\w+\}/g, '[^/]+')}$`, 'i'));
    for (const path of Object.keys(swagger.paths)) {
      const concrete = path.replace(/\{\w+\}/g, 'x1');
      expect(routes.some((route) => route.test(concrete)), path).toBe(true);
    }
  });
});

describe('connector/apiDefinition.swagger.json', () => {
  it('is exactly what npm run connector generates (run it after changing an operation or schema)', () => {
    expect(readFileSync(apiDefinitionPath, 'utf8')).toBe(connectorApiDefinition());
  });

  it('is pretty JSON, generated twice the same', () => {
    expect(connectorApiDefinition()).toBe(connectorApiDefinition());
    expect(connectorApiDefinition()).toMatch(/^\{\n {2}"swagger": "2\.0",/);
  });

  it('apiProperties.json uses the aad identity provider with the facade app id URI as resource', () => {
    const properties = JSON.parse(readFileSync(new URL('../../connector/apiProperties.json', import.meta.url), 'utf8')) as {
      properties: { iconBrandColor: string; connectionParameters: { token: { oAuthSettings: Json & { customParameters: Record<string, { value: string }> } } } };
    };
    const oauth = properties.properties.connectionParameters.token.oAuthSettings;
    expect(oauth.identityProvider).toBe('aad');
    expect(oauth.customParameters.resourceUri!.value).toMatch(/^api:\/\//);
    expect(properties.properties.iconBrandColor).toMatch(/^#[0-9a-fA-F]{6}$/);
  });
});
