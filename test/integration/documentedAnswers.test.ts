import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { OpenAPIV2, OpenAPIV3 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';
import { maxBodyBytes } from '../../shared/http/jsonBody';
import { isCatchAll, parseRouteTemplate } from '../../shared/http/routes';
import { send, type RawAnswer } from '../support/rawHttp';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * The OpenAPI 3 document the app serves (`/api/openapi.json`) and the connector definition
 * (`connector/apiDefinition.swagger.json`, written by `npm run connector`) describe every answer the
 * routes give. Real answers are collected over HTTP from a real stack (the local host serving the
 * built bundle, Azurite, the identity endpoint, the Graph emulator with scripted faults), for every
 * documented operation: its successes, and each way it can fail that a caller or Graph can bring
 * about (400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503 from Graph and from the audit store,
 * 504, 202 while a bulk request runs). Each answer must find, in each document, its operation (by
 * method and path), its status, a schema its body validates against (ajv), and every header the
 * facade set on it. Then the collected statuses are checked against the list the issue asks for, so
 * a scenario that silently stops producing its status is noticed.
 *
 * Not documented, by design: the catch-all's 404/405 (answers to paths and methods that are no
 * operation) and the older alias routes (`/{version}/connections/…`, served like the canonical
 * ones so a connector shows each action once).
 */

// ajv-formats is CommonJS with a default export; under ESM interop the function may sit on `.default`.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

type Json = Record<string, unknown>;

const deadlineMs = 5_000;
const connection = 'docsconn';
const group = 'docsgroup';
let stack: TestStack;
let token: string;

interface Exchange {
  /** What was asked, for messages. */
  label: string;
  method: string;
  /** Below `/api`, without the query. */
  path: string;
  answer: RawAnswer;
}

const exchanges: Exchange[] = [];

/** Headers HTTP itself or the local host's transport sets; every other header is the facade's and must be documented. */
const transportHeaders = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

async function ask(label: string, method: string, pathAndQuery: string, init: { headers?: Record<string, string>; body?: unknown; token?: string | null } = {}): Promise<RawAnswer> {
  const bearer = init.token === undefined ? token : init.token;
  const body = init.body === undefined ? undefined : typeof init.body === 'string' || Buffer.isBuffer(init.body) ? init.body : JSON.stringify(init.body);
  const answer = await send(`${stack.host.apiUrl}${pathAndQuery}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...init.headers,
    },
    ...(body === undefined ? {} : { body: body as string | Buffer }),
  });
  exchanges.push({ label, method, path: pathAndQuery.split('?')[0]!, answer });
  return answer;
}

const groupsPath = (version: string, connectionId = connection) => `/${version}/external/connections/${connectionId}/groups`;
const membersPath = (version: string, groupId = group) => `${groupsPath(version)}/${groupId}/members`;
const bulkPath = (version: string, groupId = group) => `${membersPath(version, groupId)}/bulk`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const user = () => ({ id: randomUUID(), type: 'user' });
const shortId = (prefix: string) => `${prefix}${randomUUID().replace(/-/g, '').slice(0, 8)}`;

/** A valid body for each create, by operation name: a create not named here fails the test, so a new one is noticed. */
const validBodies: Record<string, () => Json> = {
  createExternalConnection: () => ({ id: shortId('c'), name: 'Documented answers', description: 'A connection made by the documents test.' }),
  createExternalGroup: () => ({ id: shortId('g'), displayName: 'Documented answers' }),
  createExternalGroupMember: () => user(),
  createConnectorGroup: () => ({ name: shortId('Connector group ') }),
  addExternalGroupMembersInBulk: () => ({ members: [user(), user()] }),
  registerConnectionSchema: () => ({ baseType: 'microsoft.graph.externalItem', properties: [{ name: 'title', type: 'String', isSearchable: true, isRetrievable: true }] }),
  planConnectorManifest: () => ({ connection: { id: shortId('m'), name: 'Documented manifest', description: 'A manifest planned by the documents test.' } }),
  applyConnectorManifest: () => ({ connection: { id: shortId('m'), name: 'Documented manifest', description: 'A manifest applied by the documents test.' } }),
};

let openApi: OpenAPIV3.Document;
let connectorDefinition: OpenAPIV2.Document;

/** The create operations the document describes, by operationId, with their method and path (below /api). */
function documentedPosts(document: OpenAPIV3.Document): { operationId: string; path: string }[] {
  return Object.entries(document.paths).flatMap(([path, item]) => (item?.post ? [{ operationId: item.post.operationId!, path }] : []));
}

/** A documented path with its parameters filled as the scenarios need them. */
function filled(path: string, values: Record<string, string> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? { connectionId: connection, groupId: group }[name] ?? `unknown-${name}`);
}

/** The operation name a documented create stands for: its operationId without the version suffix. */
const operationNameOf = (operationId: string) => `${operationId.charAt(0).toLowerCase()}${operationId.slice(1)}`.replace(/Beta$/, '');

async function collectCreateAnswers(): Promise<void> {
  for (const { operationId, path } of documentedPosts(openApi)) {
    const name = operationNameOf(operationId);
    const validBody = validBodies[name];
    if (!validBody) throw new Error(`no valid body for ${name}: add one to validBodies`);
    const url = filled(path);
    const isBulk = name.endsWith('InBulk');
    const label = (what: string) => `${operationId} ${what}`;

    const created = await ask(label('success'), 'POST', url, { body: validBody() });
    // A create answers 201; a bulk request, a plan or an apply 200 (or 202 when it goes on from the queue); a schema registration 202.
    const successes = Object.keys(openApi.paths[path]?.post?.responses ?? {}).filter((status) => status.startsWith('2')).map(Number);
    expect(successes, `${label('success')}: ${created.text}`).toContain(created.status);
    // Only the v1.0 (or only) variant goes through every failure: the other version runs the same code.
    if (path.startsWith('/beta/') && documentedPosts(openApi).some((other) => other.path === path.replace('/beta/', '/v1.0/'))) continue;

    await ask(label('invalid body'), 'POST', url, { body: {} });
    await ask(label('no token'), 'POST', url, { body: validBody(), token: null });
    await ask(label('token without Bearer'), 'POST', url, { body: validBody(), headers: { authorization: token } });
    await ask(label('no app role'), 'POST', url, { body: validBody(), token: await stack.token({ roles: [] }) });
    await ask(label('too large'), 'POST', url, { body: Buffer.alloc(maxBodyBytes + 1, 0x20) });
    await ask(label('not JSON'), 'POST', url, { body: 'text', headers: { 'content-type': 'text/plain' } });
    const key = randomUUID();
    const keyed = validBody();
    await ask(label('keyed'), 'POST', url, { body: keyed, headers: { 'idempotency-key': key } });
    await ask(label('keyed, repeated'), 'POST', url, { body: keyed, headers: { 'idempotency-key': key } });
    await ask(label('keyed, other body'), 'POST', url, { body: validBody(), headers: { 'idempotency-key': key } });
    if (isBulk) {
      await ask(label('respond-async'), 'POST', url, { body: validBody(), headers: { prefer: 'respond-async' } });
    }

    // Graph's own answers, scripted in the emulator: throttled past the retries, unavailable, unreachable, silent.
    const graphPath = `${url.replace(/^\/(v1\.0|beta)/, '').replace(/\/bulk$/, '')}$`.replace(/[.]/g, '\\.');
    const faultPath = isBulk ? '\\$batch$' : graphPath;
    for (const [what, step] of [
      ['Graph throttles', { status: 429, retryAfter: '1' }],
      ['Graph unavailable', { status: 503, retryAfter: '1' }],
      ['Graph connection reset', { reset: true }],
    ] as const) {
      stack.graph.addFault({ method: 'POST', path: faultPath, steps: Array(8).fill(step) });
      await ask(label(what), 'POST', url, { body: validBody() });
      stack.graph.clearFaults();
    }
    if (!isBulk) {
      stack.graph.addFault({ method: 'POST', path: faultPath, steps: [{ hang: true }, { hang: true }, { hang: true }, { hang: true }] });
      await ask(label('Graph silent'), 'POST', url, { body: validBody() });
      stack.graph.clearFaults();
    }
    stack.auditProxy.cut();
    await ask(label('audit store unreachable'), 'POST', url, { body: validBody() });
    stack.auditProxy.restore();
  }

  // A parent that does not exist, and an entity that does.
  await ask('group in a missing connection', 'POST', groupsPath('v1.0', 'nosuchconn'), { body: validBodies.createExternalGroup!() });
  await ask('member of a missing group', 'POST', membersPath('v1.0', 'nosuchgroup'), { body: user() });
  await ask('bulk into a missing group', 'POST', bulkPath('v1.0', 'nosuchgroup'), { body: { members: [user()] } });
  const taken = validBodies.createExternalGroup!();
  await ask('group', 'POST', groupsPath('v1.0'), { body: taken });
  await ask('same group id, other body', 'POST', groupsPath('v1.0'), { body: { ...taken, displayName: 'Another name' } });
  const member = user();
  await ask('member', 'POST', membersPath('v1.0'), { body: member });
  await ask('same member again', 'POST', membersPath('v1.0'), { body: member });
}

async function collectJobAnswers(): Promise<void> {
  // Each batch held a second: the job still runs when first polled.
  stack.graph.addFault({ method: 'POST', path: '\\$batch$', steps: Array(3).fill({ delayMs: 1_000 }) });
  const accepted = await ask('bulk, accepted', 'POST', bulkPath('v1.0'), { body: { members: Array.from({ length: 45 }, user) }, headers: { prefer: 'respond-async' } });
  expect(accepted.status, accepted.text).toBe(202);
  const statusPath = new URL(accepted.headers.location!).pathname.replace(/^\/api/, '');
  for (let polls = 0; ; polls += 1) {
    const answer = await ask(polls === 0 ? 'job, running' : 'job, polled', 'GET', statusPath);
    if (answer.status !== 202 || polls > 120) break;
    await sleep(250);
  }
  stack.graph.clearFaults();
  // The connector jobs' status URLs: a manifest applied in the background, a schema being provisioned.
  for (const [what, path, body] of [
    ['manifest apply', '/v1.0/external/connectorManifests/apply', validBodies.applyConnectorManifest!()],
    ['schema registration', `/v1.0/external/connections/${connection}/schema`, validBodies.registerConnectionSchema!()],
  ] as const) {
    const started = await ask(`${what}, accepted`, 'POST', path, { body, headers: { prefer: 'respond-async' } });
    expect(started.status, started.text).toBe(202);
    const polled = new URL(started.headers.location!).pathname.replace(/^\/api/, '');
    for (let polls = 0; ; polls += 1) {
      const answer = await ask(`${what}, polled`, 'GET', polled);
      if (answer.status !== 202 || polls > 120) break;
      await sleep(250);
    }
    await ask(`${what}, status without a token`, 'GET', polled, { token: null });
  }
  await ask('job, unknown id', 'GET', `/jobs/${Date.now()}_${randomUUID()}`);
  await ask('job, malformed id', 'GET', '/jobs/nonsense');
  await ask('job, no token', 'GET', statusPath, { token: null });
  await ask('job, another caller', 'GET', statusPath, { token: await stack.token({ roles: ['ExternalGroupMember.Create'], claims: { oid: randomUUID(), sub: randomUUID() } }) });
  stack.auditProxy.cut();
  await ask('job, audit store unreachable', 'GET', statusPath);
  stack.auditProxy.restore();
}

async function collectQueryAnswers(): Promise<void> {
  for (const [path, item] of Object.entries(openApi.paths)) {
    if (!item?.get || !path.startsWith('/audit')) continue;
    const url = filled(path, { operation: 'createExternalGroup', entityId: 'nosuchentity' });
    await ask(`${path}`, 'GET', url);
    await ask(`${path} paged`, 'GET', `${url}?$top=1`);
    await ask(`${path} bad parameter`, 'GET', `${url}?from=yesterday&$top=0`);
    await ask(`${path} no token`, 'GET', url, { token: null });
    await ask(`${path} no app role`, 'GET', url, { token: await stack.token({ roles: ['ExternalGroup.Create'] }) });
    stack.auditProxy.cut();
    await ask(`${path} audit store unreachable`, 'GET', url);
    stack.auditProxy.restore();
  }
  const created = await ask('group to read back', 'POST', groupsPath('v1.0'), { body: validBodies.createExternalGroup!() });
  await ask('records of a group', 'GET', `/audit/createExternalGroup/${(created.body as { id: string }).id}`);
  await ask('first page of two', 'GET', '/audit?operation=createExternalGroup&$top=2');
}

async function collectServiceAnswers(): Promise<void> {
  for (const path of ['/health', '/swagger.json', '/openapi.json']) await ask(path, 'GET', path, { token: null });
}

beforeAll(async () => {
  stack = await startTestStack({ GRAPH_DEADLINE_MS: String(deadlineMs), GRAPH_ATTEMPT_TIMEOUT_MS: '2000' });
  stack.graph.seedConnection(connection, [group]);
  token = await stack.token();
  openApi = (await send(`${stack.host.apiUrl}/openapi.json`)).body as OpenAPIV3.Document;
  connectorDefinition = JSON.parse(readFileSync('connector/apiDefinition.swagger.json', 'utf8')) as OpenAPIV2.Document;
  await collectServiceAnswers();
  await collectCreateAnswers();
  await collectJobAnswers();
  await collectQueryAnswers();
}, 600_000);

afterAll(async () => {
  await stack?.stop();
});

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

/** One documented answer: the schema its body must match and the headers it names. */
interface DocumentedAnswer {
  schema: string | undefined;
  headers: string[];
}

/** What a document says of each operation's answers, reduced to what the check needs. */
interface Described {
  name: string;
  /** `[method, path template, answers by status]` */
  operations: { method: string; path: string; answers: Record<string, DocumentedAnswer> }[];
  validator(schema: string): ValidateFunction;
}

function describedBy(name: string, schemas: Record<string, unknown>, operations: Described['operations']): Described {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema({ components: { schemas } }, 'document');
  const compiled = new Map<string, ValidateFunction>();
  return {
    name,
    operations,
    validator(schema) {
      let validate = compiled.get(schema);
      if (!validate) compiled.set(schema, (validate = ajv.compile({ $ref: `document#/components/schemas/${schema}` })));
      return validate;
    },
  };
}

const schemaName = (ref: string | undefined) => ref?.split('/').at(-1);

function openApiDescribed(document: OpenAPIV3.Document): Described {
  const operations: Described['operations'] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'post'] as const) {
      const operation = item?.[method];
      if (!operation) continue;
      const answers: Record<string, DocumentedAnswer> = {};
      for (const [status, response] of Object.entries(operation.responses as Record<string, OpenAPIV3.ResponseObject>)) {
        const schema = response.content?.['application/json']?.schema as OpenAPIV3.ReferenceObject | undefined;
        answers[status] = { schema: schemaName(schema?.$ref), headers: Object.keys(response.headers ?? {}).map((header) => header.toLowerCase()) };
      }
      operations.push({ method: method.toUpperCase(), path, answers });
    }
  }
  return describedBy('openapi.json', document.components!.schemas as Record<string, unknown>, operations);
}

function swaggerDescribed(document: OpenAPIV2.Document): Described {
  const operations: Described['operations'] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'post'] as const) {
      const operation = (item as OpenAPIV2.PathItemObject)[method];
      if (!operation) continue;
      const answers: Record<string, DocumentedAnswer> = {};
      for (const [status, response] of Object.entries(operation.responses as Record<string, OpenAPIV2.ResponseObject>)) {
        answers[status] = { schema: schemaName((response.schema as OpenAPIV2.ReferenceObject | undefined)?.$ref), headers: Object.keys(response.headers ?? {}).map((header) => header.toLowerCase()) };
      }
      operations.push({ method: method.toUpperCase(), path, answers });
    }
  }
  return describedBy('connector/apiDefinition.swagger.json', swaggerAsOpenApi(document.definitions) as Record<string, unknown>, operations);
}

/** The documented operation a request reached: same method, same segments, the most fixed segments winning. */
function operationFor(described: Described, method: string, path: string): Described['operations'][number] | undefined {
  const segments = path.split('/').filter(Boolean);
  const matching = described.operations.filter((operation) => {
    const template = operation.path.split('/').filter(Boolean);
    return operation.method === method
      && template.length === segments.length
      && template.every((part, index) => part.startsWith('{') || part.toLowerCase() === segments[index]!.toLowerCase());
  });
  const fixed = (operation: Described['operations'][number]) => operation.path.split('/').filter((part) => part && !part.startsWith('{')).length;
  return matching.sort((a, b) => fixed(b) - fixed(a))[0];
}

/** Every way an answer departs from a document, in words; empty when the document describes it. */
function departures(described: Described, exchange: Exchange): string[] {
  const { answer } = exchange;
  const operation = operationFor(described, exchange.method, exchange.path);
  if (!operation) return [`no documented operation ${exchange.method} ${exchange.path}`];
  const documented = operation.answers[String(answer.status)];
  if (!documented) return [`status ${answer.status} is not documented for ${exchange.method} ${operation.path} (documented: ${Object.keys(operation.answers).join(', ')})`];
  const problems: string[] = [];
  if (!documented.schema) problems.push(`status ${answer.status} documents no body schema`);
  else {
    const validate = described.validator(documented.schema);
    if (!validate(answer.body)) problems.push(`body does not match ${documented.schema}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
  for (const header of Object.keys(answer.headers)) {
    if (!transportHeaders.has(header) && !documented.headers.includes(header)) problems.push(`header ${header} is not documented for status ${answer.status}`);
  }
  return problems;
}

describe('the documents describe every answer the routes give', () => {
  it.each([
    ['the OpenAPI 3 document the app serves', () => openApiDescribed(openApi)],
    ['the connector definition (npm run connector)', () => swaggerDescribed(connectorDefinition)],
  ])('%s: every answer\'s status, body and headers', (_, describe) => {
    const described = describe();
    const found = exchanges.flatMap((exchange) => departures(described, exchange).map((problem) => `${exchange.label} (${exchange.method} ${exchange.path} → ${exchange.answer.status}): ${problem}`));
    expect(found, found.join('\n')).toEqual([]);
  });

  it('every HTTP function of the registry is documented and was called, but the catch-all and the second routes of an operation', () => {
    const documented = openApiDescribed(openApi);
    const handlers = new Set<unknown>();
    for (const definition of functionDefinitions) {
      if (definition.kind !== 'http' || isCatchAll(parseRouteTemplate(definition.options.route))) continue;
      // A second route of an operation (`{version}/connections/…`) runs the handler of its first.
      if (handlers.has(definition.options.handler)) continue;
      handlers.add(definition.options.handler);
      const method = (definition.options.methods ?? ['GET'])[0]!.toUpperCase();
      const sample = `/${definition.options.route.replace('{version}', 'v1.0').replace(/\{\*?(\w+)\}/g, 'sample')}`;
      const operation = operationFor(documented, method, sample);
      expect(operation, `${definition.name}: ${method} /${definition.options.route}`).toBeDefined();
      expect(exchanges.some((exchange) => operationFor(documented, exchange.method, exchange.path) === operation), definition.name).toBe(true);
    }
  });

  it('the answers collected cover the statuses asked for: success, 400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503, 504 and 202', () => {
    const statuses = new Set(exchanges.map((exchange) => exchange.answer.status));
    for (const status of [200, 201, 202, 400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503, 504]) expect(statuses, `no answer ${status}`).toContain(status);
    const byLabel = (label: string) => exchanges.find((exchange) => exchange.label === label)!.answer.status;
    expect(byLabel('job, running')).toBe(202);
    expect(byLabel('job, unknown id')).toBe(404);
    expect(byLabel('job, another caller')).toBe(403);
    expect(byLabel('group in a missing connection')).toBe(404);
    // A 500 is the facade failing where it should not: never part of a scenario.
    const failures = exchanges.filter((exchange) => exchange.answer.status === 500).map((exchange) => `${exchange.label}: ${exchange.answer.text}`);
    expect(failures, failures.join('\n')).toEqual([]);
    console.log(`${exchanges.length} answers checked; statuses ${[...statuses].sort().join(', ')}`);
  });
});
