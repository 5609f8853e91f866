import type Joi from 'joi';
import type { AnyOperation, BulkOperationDefinition, HttpOperation, OperationDefinition } from '../operations/operation';
import { isConnectorJobOperation, keepsOwnRecord, type ConnectorJobOperation } from '../operations/connectorJob';
import { isQuery, type ApiOperation, type QueryDefinition, type QueryScope } from '../operations/query';
import { bulkProgressBody, bulkResultBody } from '../schemas/bulk';
import { schemaFromJoi, type SchemaObject } from './joiSchema';
import { pascalCase, sentenceFromName, titleCase } from './text';
import { entityListOf } from '../operations/graphFacts';

/**
 * What both documents say, built once from the operation declarations: one documented create (or
 * bulk create) operation per canonical route and Graph version, the status URL of bulk requests,
 * and each query of the audit trail. The older
 * alias routes (`/{v}/connections/…`) are served but not documented, so a connector shows each
 * action once.
 */

export interface ParameterDoc {
  name: string;
  in: 'path' | 'header' | 'query';
  required: boolean;
  description: string;
  summary: string;
  visibility: 'important' | 'advanced';
  schema: SchemaObject;
}

export interface ResponseDoc {
  status: string;
  description: string;
  /** Name of a schema in `ApiModel.schemas`. */
  schema: string;
  headers: Record<string, { description: string; schema: SchemaObject }>;
}

export interface OperationDoc {
  method: 'post' | 'get';
  operationId: string;
  summary: string;
  description: string;
  path: string;
  parameters: ParameterDoc[];
  /** A create's body: the name of its schema in `ApiModel.schemas`, and its summary. */
  request?: { schema: string; summary: string };
  responses: ResponseDoc[];
  /** The 200 answer is a page of `value`, the next behind `@odata.nextLink` (`x-ms-pageable`). */
  pageable?: boolean;
  /** `internal`: not offered as an action (a bulk request's status URL, which connectors poll themselves). */
  visibility?: 'internal';
  /** Served without a token (the health probe, the documents). */
  anonymous?: boolean;
}

export interface ApiModel {
  /** What the service does, naming the entities its creates make. */
  description: string;
  operations: OperationDoc[];
  /** OpenAPI 3.0 schema objects; `$ref`s point at `#/components/schemas/{name}`. */
  schemas: Record<string, SchemaObject>;
}

export const documentTitle = 'Graph Connectors Facade';
export const documentVersion = '1.0';
/** The entities of `creates`, as each create's Graph facts list them (`listedAs`), in registry order. */
export function documentDescriptionOf(creates: readonly OperationDefinition[]): string {
  return `Creates Microsoft Graph connector entities safely: ${entityListOf(creates.map((operation) => operation.graph.listedAs))}. ${documentDescriptionTail}`;
}

const documentDescriptionTail =
  'Each request is checked against the rules of Microsoft Graph before it is sent, Graph is called with the managed identity of the service, ' +
  'and every created entity has an audit record, which the audit actions list.';

export const text = (description: string): SchemaObject => ({ type: 'string', description });

export const correlationHeaders = {
  'request-id': { description: 'Id of this request at the facade; quote it when asking about a request.', schema: text('Request id.') },
  'client-request-id': { description: 'The caller\'s client-request-id, or the one generated for it.', schema: text('Client request id.') },
};

export const retryAfter = {
  'retry-after': { description: 'Seconds to wait before retrying.', schema: text('Seconds to wait.') },
};

const authenticateChallenge = {
  'www-authenticate': {
    description: 'The Bearer challenge (RFC 6750): error="invalid_token" for a token that does not hold, error="insufficient_scope" for a caller without the app role or scope.',
    schema: text('Bearer challenge.'),
  },
};

const graphRequestId = {
  'graph-request-id': { description: 'The request-id Microsoft Graph gave its answer, when Graph answered.', schema: text('Graph request id.') },
};

/** What a success of a create says when it repeats an earlier answer to the same Idempotency-Key. */
export const replayHeaders = {
  'idempotent-replayed': { description: 'true when this is the stored answer to an earlier request with the same Idempotency-Key; nothing was sent to Microsoft Graph again.', schema: text('true when replayed.') },
  'idempotent-replay-truncated': { description: 'true when the stored answer was too large to keep whole: the body holds only the entity\'s id.', schema: text('true when truncated.') },
};

/** The headers an error answer carries: which depend on its status and on whether Graph may have answered it. */
function errorHeaders(status: string, retry: boolean, graphCalled: boolean): ResponseDoc['headers'] {
  return {
    ...correlationHeaders,
    ...(retry ? retryAfter : {}),
    ...(status === '401' || status === '403' ? authenticateChallenge : {}),
    ...(graphCalled ? graphRequestId : {}),
  };
}

/** Error answers, all in the Graph error shape (`GraphError`). */
const errorResponses: [status: string, description: string, retry: boolean][] = [
  ['400', 'Invalid request: the body or a path parameter breaks a rule (invalidRequest, with one detail per problem).', false],
  ['401', 'No valid Microsoft Entra ID access token for the facade.', false],
  ['403', 'The caller lacks the app role this action requires.', false],
  ['404', 'Microsoft Graph did not find the parent entity (itemNotFound).', false],
  ['409', 'The entity already exists, or the request conflicts with one in progress.', false],
  ['413', 'The body is larger than 1 MiB (requestEntityTooLarge).', false],
  ['415', 'The body is not sent as application/json (unsupportedMediaType).', false],
  ['422', 'The Idempotency-Key was already used with a different body (idempotencyKeyReused).', false],
  ['429', 'Microsoft Graph is throttling requests (TooManyRequests); retry after Retry-After.', true],
  ['500', 'Unexpected failure (generalException); the request id identifies it in the logs.', false],
  ['502', 'Microsoft Graph could not be reached (badGateway); retry after Retry-After.', true],
  ['503', 'The audit store or the managed identity is unavailable, so Microsoft Graph was not called; retry after Retry-After.', true],
  ['504', 'Microsoft Graph did not answer in time (gatewayTimeout); retry after Retry-After.', true],
];

/** The caller's own id for a request, echoed in the answer (and, by a create, sent on to Microsoft Graph). */
export function clientRequestIdParameter(sentToGraph: boolean): ParameterDoc {
  return {
    name: 'client-request-id',
    in: 'header',
    required: false,
    description: `Your id for this request (up to 128 printable ASCII characters): returned in the client-request-id header${sentToGraph ? ' and sent on to Microsoft Graph' : ' and logged with the request'}. One is generated when absent.`,
    summary: 'Client Request ID',
    visibility: 'advanced',
    schema: { type: 'string', maxLength: 128 },
  };
}

function headerParameters(operation: AnyOperation): ParameterDoc[] {
  const headers: ParameterDoc[] = [
    clientRequestIdParameter(true),
    {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Makes retrying safe: a request repeated with the same key gets the first answer instead of creating the entity again (keys are kept for IDEMPOTENCY_RETENTION_HOURS, 24 hours by default).',
      summary: 'Idempotency Key',
      visibility: 'advanced',
      schema: { type: 'string' },
    },
  ];
  if (operation.kind === 'bulk') {
    headers.push({
      name: 'Prefer',
      in: 'header',
      required: false,
      description:
        'With respond-async, the request is answered 202 Accepted at once, with a Location URL to poll for the results; without it, one expected to take longer than BULK_ASYNC_AFTER_SECONDS (60 s by default) is answered so too.',
      summary: 'Prefer',
      visibility: 'advanced',
      schema: { type: 'string', enum: ['respond-async'] },
    });
  }
  // Teams admin center deployments send it with the connection create (docs/graph-facts.md §1).
  if (operation.kind !== 'bulk' && operation.entityType === 'externalConnection') {
    headers.push({
      name: 'GraphConnectors-Ticket',
      in: 'header',
      required: false,
      description: 'Ticket of a deployment started from the Teams admin center, passed to Microsoft Graph unchanged.',
      summary: 'Graph Connectors Ticket',
      visibility: 'advanced',
      schema: { type: 'string' },
    });
  }
  return headers;
}

/** The Graph versions an operation serves: the values its `version` parameter allows, or the fixed one. */
export function graphVersionsOf(operation: HttpOperation): string[] {
  const version = operation.params.version;
  if (!version) return [operation.graphPath.split('/')[1] ?? ''];
  const allowed = (version.describe() as { allow?: unknown[] }).allow ?? [];
  return allowed.filter((value): value is string => typeof value === 'string');
}

function parameterOf(name: string, rule: Joi.Schema, where: 'path' | 'query'): ParameterDoc {
  const { description, ...schema } = schemaFromJoi(rule, { direction: 'request', context: {} });
  delete schema['x-ms-summary'];
  delete schema['x-ms-visibility'];
  const required = where === 'path';
  return {
    name,
    in: where,
    required,
    description: typeof description === 'string' ? description : `${titleCase(name)}.`,
    summary: titleCase(name),
    visibility: required ? 'important' : 'advanced',
    schema,
  };
}

export const pathParameter = (name: string, rule: Joi.Schema) => parameterOf(name, rule, 'path');

const sameJson = (left: unknown, right: unknown) => JSON.stringify(left) === JSON.stringify(right);

/** Adds a schema under `name`, or reuses an identical one already added under `reuse`. */
export function addSchema(schemas: Record<string, SchemaObject>, name: string, schema: SchemaObject, reuse?: string): string {
  if (reuse && sameJson(schemas[reuse], schema)) return reuse;
  if (schemas[name] && !sameJson(schemas[name], schema)) throw new Error(`openapi: two different schemas named ${name}`);
  schemas[name] = schema;
  return name;
}

/** The error answers of `statuses` (default all), for an operation that calls Microsoft Graph (`graphCalled`) or not. */
export const errorResponseDocs = (graphCalled: boolean, statuses?: ReadonlySet<string>): ResponseDoc[] =>
  errorResponses
    .filter(([status]) => !statuses || statuses.has(status))
    .map(([status, errorDescription, retry]) => ({
      status,
      description: errorDescription,
      schema: 'GraphError',
      headers: errorHeaders(status, retry, graphCalled),
    }));

export const pollHeaders = {
  location: { description: 'The status URL: GET it after Retry-After seconds, until it answers 200 with the results.', schema: text('Status URL.') },
  ...retryAfter,
};

const preferenceApplied = {
  'preference-applied': { description: 'respond-async when the request was answered 202 because Prefer asked for it.', schema: text('The preference applied.') },
};

/**
 * The answers of a bulk request (`request`: with its Idempotency-Key replays and Prefer), and of its
 * status URL: 200 with the results, or 202 while it runs.
 */
function bulkAnswers(schemas: Record<string, SchemaObject>, accepted: string, request: boolean): ResponseDoc[] {
  addSchema(schemas, 'BulkResult', schemaFromJoi(bulkResultBody, { direction: 'response', context: {} }));
  addSchema(schemas, 'BulkProgress', schemaFromJoi(bulkProgressBody, { direction: 'response', context: {} }));
  const replays = request ? replayHeaders : {};
  return [
    { status: '200', description: 'Done: one result per item, in the order of the request, and the counts.', schema: 'BulkResult', headers: { ...correlationHeaders, ...replays } },
    { status: '202', description: accepted, schema: 'BulkProgress', headers: { ...correlationHeaders, ...pollHeaders, ...(request ? preferenceApplied : {}), ...replays } },
  ];
}

/** The status URL a 202 names, for connectors and callers that poll (not an action of its own). */
function statusOperation(schemas: Record<string, SchemaObject>): OperationDoc {
  const statuses = new Set(['401', '403', '404', '500', '503']);
  return {
    method: 'get',
    operationId: 'GetBulkRequestStatus',
    summary: 'Get the status of a bulk request',
    description: 'The Location URL of an accepted bulk request: 202 while it runs, then 200 with its results, or the error it failed with as a whole (404 itemNotFound naming the group or connection that does not exist). Only the caller that made it (still holding its app role) or an operator with the app role Audit.Read may read it.',
    path: '/jobs/{id}',
    parameters: [
      {
        name: 'id',
        in: 'path',
        required: true,
        description: 'Id of the bulk request, as its Location URL ends.',
        summary: 'ID',
        visibility: 'important',
        schema: { type: 'string' },
      },
      clientRequestIdParameter(false),
    ],
    responses: [...bulkAnswers(schemas, 'Still running: its progress; poll again after Retry-After seconds.', false), ...errorResponseDocs(false, statuses)],
    visibility: 'internal',
  };
}

/**
 * What the app serves besides its operations, anonymously (functions/health.ts, functions/openapi.ts):
 * described so that every answer of every route is, but not offered as actions.
 */
function serviceOperations(schemas: Record<string, SchemaObject>): OperationDoc[] {
  addSchema(schemas, 'Health', {
    type: 'object',
    description: 'The instance is up and serving.',
    properties: { status: { type: 'string', enum: ['healthy'], description: 'Always healthy: an instance that answers is serving.', 'x-ms-summary': 'Status' } },
    required: ['status'],
  });
  addSchema(schemas, 'ApiDocument', { type: 'object', description: 'An OpenAPI document (Swagger 2.0 or OpenAPI 3.0) of this API.' });
  const cached = { 'cache-control': { description: 'How long the document may be kept: private, as it names the host it was fetched from locally.', schema: text('Caching.') } };
  const service = (path: string, operationId: string, summary: string, description: string, schema: string, headers: ResponseDoc['headers']): OperationDoc => ({
    method: 'get',
    operationId,
    summary,
    description,
    path,
    parameters: [clientRequestIdParameter(false)],
    responses: [{ status: '200', description: summary, schema, headers: { ...correlationHeaders, ...headers } }],
    visibility: 'internal',
    anonymous: true,
  });
  return [
    service('/health', 'GetHealth', 'Get the health of this instance', 'Readiness probe: 200 while the instance serves. Anonymous.', 'Health', {}),
    service('/swagger.json', 'GetSwaggerDocument', 'Get the Swagger 2.0 document of this service', 'This document: the API as a Power Platform custom connector imports it. Anonymous.', 'ApiDocument', cached),
    service('/openapi.json', 'GetOpenApiDocument', 'Get the OpenAPI 3.0 document of this service', 'The API in OpenAPI 3.0, for REST callers and code generators. Anonymous.', 'ApiDocument', cached),
  ];
}

/** What documents the operations that are not creates (shared/openapi/connectorJobDocs.ts). */
export type ConnectorJobDocs = (operations: readonly ConnectorJobOperation[], schemas: Record<string, SchemaObject>) => OperationDoc[];

export function buildModel(apiOperations: readonly ApiOperation[], connectorJobDocs?: ConnectorJobDocs): ApiModel {
  const schemas: Record<string, SchemaObject> = { ...graphErrorSchemas };
  const documented: OperationDoc[] = [];
  const operations = apiOperations.filter((operation): operation is AnyOperation => !isQuery(operation) && !isConnectorJobOperation(operation));
  const creates = operations.filter((operation): operation is OperationDefinition => operation.kind !== 'bulk');
  const bulk = operations.filter((operation): operation is BulkOperationDefinition => operation.kind === 'bulk');
  for (const operation of operations) {
    const versions = graphVersionsOf(operation);
    const variesByVersion = 'version' in operation.params;
    let firstRequest: string | undefined;
    let firstResponse: string | undefined;
    for (const version of versions) {
      const suffix = variesByVersion && version !== versions[0] ? pascalCase(version.replace(/[^A-Za-z0-9]/g, '')) : '';
      const operationId = `${pascalCase(operation.name)}${suffix}`;
      const entity = pascalCase(operation.entityType);
      const context = { version };
      const request = schemaFromJoi(operation.body, { direction: 'request', context });
      const requestSchema = addSchema(schemas, `${operationId}Request`, request, firstRequest);
      firstRequest ??= requestSchema;
      let answers: ResponseDoc[];
      if (operation.kind === 'bulk') {
        answers = bulkAnswers(schemas, 'Accepted: the request runs in the background; GET the Location URL after Retry-After seconds for its results.', true);
      } else {
        const response = schemaFromJoi(operation.body, { direction: 'response', context });
        const responseSchema = addSchema(schemas, `${entity}${suffix}`, response, firstResponse);
        firstResponse ??= responseSchema;
        answers = [
          {
            status: '201',
            description: 'Created: the entity as Microsoft Graph returned it.',
            schema: responseSchema,
            headers: { ...correlationHeaders, ...graphRequestId, ...replayHeaders },
          },
        ];
      }

      const route = operation.routes[0].replace('{version}', version);
      const pathParameters = [...route.matchAll(/\{(\w+)\}/g)].map(([, name]) => pathParameter(name!, operation.params[name!]!));
      const summary = operation.summary ?? sentenceFromName(operation.name);
      const description = operation.description ?? `${summary}.`;
      documented.push({
        method: 'post',
        operationId,
        summary: suffix ? `${summary} in Graph ${version}` : summary,
        description: `${description} Calls Microsoft Graph ${version}; requires the app role ${operation.role}.`,
        path: `/${route}`,
        parameters: [...pathParameters, ...headerParameters(operation)],
        request: { schema: requestSchema, summary: operation.kind === 'bulk' ? titleCase(operation.itemsProperty) : titleCase(operation.entityType) },
        responses: [...answers, ...errorResponseDocs(true)],
      });
    }
  }
  if (bulk.length > 0) documented.push(statusOperation(schemas));
  if (connectorJobDocs) documented.push(...connectorJobDocs(apiOperations.filter(isConnectorJobOperation), schemas));
  const scope: QueryScope = { operations: creates, recordedJobs: apiOperations.filter(keepsOwnRecord).map((operation) => operation.name) };
  for (const query of apiOperations.filter(isQuery)) documented.push(queryDoc(query, scope, schemas));
  documented.push(...serviceOperations(schemas));
  return { description: documentDescriptionOf(creates), operations: documented, schemas };
}

const noStore = {
  'cache-control': { description: 'no-store: audit records are not kept by caches.', schema: text('Caching.') },
};

/** How a query can fail, in the Graph error shape; the texts of the statuses it shares with the creates. */
function queryErrors(query: QueryDefinition): ResponseDoc[] {
  const shared = (status: string) => errorResponses.find(([candidate]) => candidate === status)![1];
  const errors: [status: string, description: string, retry: boolean][] = [
    ['400', 'Invalid parameters (invalidRequest, with one detail per problem): an unknown or malformed one, a time window too long for the filters (windowTooLarge), or a $skiptoken this service did not issue.', false],
    ['401', shared('401'), false],
    ['403', shared('403'), false],
    ...(query.notFound ? [['404', query.notFound, false] as [string, string, boolean]] : []),
    ['500', shared('500'), false],
    ['503', 'The audit store cannot be read now (auditStoreUnavailable), or callers cannot be checked; retry after Retry-After.', true],
  ];
  return errors.map(([status, description, retry]) => ({
    status,
    description,
    schema: 'GraphError',
    headers: errorHeaders(status, retry, false),
  }));
}

function queryDoc(query: QueryDefinition, scope: QueryScope, schemas: Record<string, SchemaObject>): OperationDoc {
  const responseSchema = addSchema(schemas, query.response.name, schemaFromJoi(query.response.schema, { direction: 'response', context: {} }));
  const pathParameters = Object.entries(query.params(scope)).map(([name, rule]) => pathParameter(name, rule));
  const queryParameters = Object.entries(query.query(scope)).map(([name, rule]) => parameterOf(name, rule, 'query'));
  return {
    method: 'get',
    operationId: pascalCase(query.name),
    summary: query.summary,
    description: `${query.description} Requires the app role ${query.role}.`,
    path: `/${query.route}`,
    parameters: [...pathParameters, ...queryParameters, clientRequestIdParameter(false)],
    responses: [
      { status: '200', description: query.response.description, schema: responseSchema, headers: { ...correlationHeaders, ...noStore } },
      ...queryErrors(query),
    ],
    ...(query.pageable ? { pageable: true } : {}),
  };
}

const stringProperty = (description: string, summary: string, extra: SchemaObject = {}): SchemaObject => ({
  type: 'string',
  description,
  ...extra,
  'x-ms-summary': summary,
});

/** The error body of `shared/errors.ts` (Graph's, docs/graph-facts.md §5). */
export const graphErrorSchemas: Record<string, SchemaObject> = {
  GraphErrorDetail: {
    type: 'object',
    description: 'One problem of an error.',
    properties: {
      code: stringProperty('Machine-readable code of the problem, e.g. missingProperty or invalidValue.', 'Code'),
      message: stringProperty('What is wrong, for people.', 'Message'),
      target: stringProperty('The property or parameter concerned, e.g. configuration.authorizedAppIds[0].', 'Target'),
    },
    required: ['code', 'message'],
  },
  GraphError: {
    type: 'object',
    description: 'An error, in the shape Microsoft Graph uses: branch on error.code.',
    properties: {
      error: {
        type: 'object',
        description: 'The error.',
        'x-ms-summary': 'Error',
        properties: {
          code: stringProperty('Machine-readable error code, e.g. invalidRequest or itemNotFound.', 'Code'),
          message: stringProperty('What went wrong, for people.', 'Message'),
          target: stringProperty('The property the error concerns, if one.', 'Target'),
          details: {
            type: 'array',
            description: 'Every problem found, one per violated rule.',
            items: { $ref: '#/components/schemas/GraphErrorDetail' },
            'x-ms-summary': 'Details',
          },
          innerError: {
            type: 'object',
            description: 'Correlation ids and time of the error.',
            'x-ms-summary': 'Inner Error',
            properties: {
              'request-id': stringProperty('Id of the request at the facade.', 'Request ID'),
              'client-request-id': stringProperty('The caller\'s client-request-id.', 'Client Request ID'),
              date: stringProperty('When the error happened (UTC).', 'Date', { format: 'date-time' }),
            },
          },
        },
        required: ['code', 'message'],
      },
    },
    required: ['error'],
  },
};
