import { randomBytes } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import { getEntityAuditRecords } from '../../functions/getEntityAuditRecords';
import { listAuditRecords } from '../../functions/listAuditRecords';
import '../../functions/index';
import { HttpRequest } from '../../shared/azureFunctions';
import { operationDefinitions } from '../../shared/operations/registerOperation';
import type { QueryDefinition } from '../../shared/operations/query';
import { createQueryHandler, queryStages } from '../../shared/pipeline/pipeline';
import { createRuntime, type Runtime } from '../../shared/runtime';
import type { TablePolicy } from '../../shared/storage/table';
import { auditEntityOf, bookkeepingRows, indexRow, rowKeyOf, seedRows, type SeedRecord } from '../support/auditSeed';
import { capturingInvocation } from '../support/handlerCalls';

/**
 * The audit query API against Azurite, its handlers called as the Functions host calls them, over
 * 5,000 records seeded the way the pipeline lays them out. A table pipeline policy counts the
 * entities the table service returns, so each page shows what it cost: no query reads the table,
 * only `$top + 1` records per operation it covers.
 */

const day = 24 * 3_600_000;
const now = Date.now();
const callerA = 'aaaaaaaa-0000-4000-8000-00000000000a';
const callerB = 'bbbbbbbb-0000-4000-8000-00000000000b';

/** Entities the table service returned, and its answers, since the last reset. */
const reads = { entities: 0, answers: 0 };
const countEntitiesRead: TablePolicy = {
  position: 'perCall',
  policy: {
    name: 'countEntitiesRead',
    async sendRequest(request, next) {
      const response = await next(request);
      if (request.method === 'GET' && response.status === 200 && response.bodyAsText) {
        const body = JSON.parse(response.bodyAsText) as { value?: unknown[] };
        reads.entities += Array.isArray(body.value) ? body.value.length : 1;
        reads.answers += 1;
      }
      return response;
    },
  },
};

const partitions = [
  { operation: 'createExternalGroupMember', entityType: 'externalGroupMember', count: 2000, collection: '/external/connections/contosohr/groups/g1/members' },
  { operation: 'createExternalGroup', entityType: 'externalGroup', count: 1500, collection: '/external/connections/contosohr/groups' },
  { operation: 'createExternalConnection', entityType: 'externalConnection', count: 1000, collection: '/external/connections' },
  { operation: 'createConnectorGroup', entityType: 'connectorGroup', count: 500, collection: '/onPremisesPublishingProfiles/applicationProxy/connectorGroups' },
];

/** A small deterministic generator, so a failure is the same on every run. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

const requestIdOf = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;

/** 5,000 records: the last 6 days, interleaved across the four operations; ten of them 20 days old. */
function seedRecords(): SeedRecord[] {
  const random = sequence(7);
  const records: SeedRecord[] = [];
  let index = 0;
  for (const partition of partitions) {
    for (let n = 0; n < partition.count; n += 1, index += 1) {
      const old = partition.operation === 'createExternalGroup' && n < 10;
      records.push({
        operation: partition.operation,
        entityType: partition.entityType,
        entityId: n < 3 ? 'shared1' : `${partition.entityType}-${n}`,
        collection: partition.collection,
        requestedAt: new Date(old ? now - 20 * day - n * 60_000 : now - 60_000 - Math.floor(random() * 6 * day)),
        requestId: requestIdOf(index),
        callerId: index % 3 === 0 ? callerB : callerA,
        status: old || index % 10 === 0 ? 'failed' : index % 10 === 1 ? 'unknown' : 'succeeded',
      });
    }
  }
  return records;
}

let azurite: RunningAzurite;
let tokens: DevTokenIssuer;
let runtime: Runtime;
let token: string;
let records: SeedRecord[];

beforeAll(async () => {
  azurite = await startAzurite();
  tokens = await startDevTokenIssuer();
  token = await tokens.mint({ roles: ['Audit.Read'] });
  runtime = createRuntime(
    {
      ...tokens.env,
      AuditStorage: azurite.connectionString,
      AUDIT_TABLE_NAME: `Audit${randomBytes(4).toString('hex')}`,
      GRAPH_BASE_URL: 'http://127.0.0.1:9',
    },
    { tablePolicies: [countEntitiesRead] },
  );
  records = seedRecords();
  const table = (runtime.audit as unknown as { table: Parameters<typeof seedRows>[0] }).table;
  await seedRows(table, [...records.map(auditEntityOf), ...partitions.flatMap((partition) => bookkeepingRows(partition.operation, 50))]);
}, 120_000);

afterAll(async () => {
  await tokens?.close();
  await azurite?.stop();
});

type Json = any;

async function call(query: QueryDefinition, url: string, params: Record<string, string> = {}, runtimeOf: () => Runtime = () => runtime): Promise<HttpResponseInit & { jsonBody: Json; headers: Record<string, string> }> {
  const handler = createQueryHandler(query, () => ({ operations: operationDefinitions }), queryStages, runtimeOf);
  const parsed = new URL(url, 'http://127.0.0.1:7071');
  const request = new HttpRequest({
    method: 'GET',
    url: parsed.toString(),
    headers: { authorization: `Bearer ${token}` },
    query: Object.fromEntries(parsed.searchParams),
    params,
  });
  return (await handler(request, capturingInvocation(query.name).invocation)) as HttpResponseInit & { jsonBody: Json; headers: Record<string, string> };
}

interface Walk {
  requestIds: string[];
  pages: { size: number; entitiesRead: number; answers: number }[];
}

/** Follows @odata.nextLink to the end, counting what each page read. */
async function walk(path: string): Promise<Walk> {
  const result: Walk = { requestIds: [], pages: [] };
  let next: string | undefined = `http://127.0.0.1:7071/api/${path}`;
  while (next) {
    reads.entities = 0;
    reads.answers = 0;
    const response = await call(listAuditRecords, next);
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    result.pages.push({ size: response.jsonBody.value.length, entitiesRead: reads.entities, answers: reads.answers });
    result.requestIds.push(...response.jsonBody.value.map((record: Json) => record.requestId));
    next = response.jsonBody['@odata.nextLink'];
    if (next) expect(next).toMatch(/^http:\/\/127\.0\.0\.1:7071\/api\/audit\?/);
  }
  return result;
}

/** The seeded records a query should list, newest first. */
const expected = (where: (record: SeedRecord) => boolean) =>
  records
    .filter(where)
    .sort((a, b) => (rowKeyOf(a) < rowKeyOf(b) ? -1 : 1))
    .map((record) => record.requestId);

const inDefaultWindow = (record: SeedRecord) => record.requestedAt.getTime() >= now - 7 * day;

describe('paging over 5,000 records', () => {
  it('one operation: 2,000 records in pages of 250, newest first, each page reading at most 251 entities', async () => {
    const result = await walk('audit?operation=createExternalGroupMember&$top=250');
    expect(result.requestIds).toEqual(expected((record) => record.operation === 'createExternalGroupMember'));
    expect(result.pages.map((page) => page.size)).toEqual([250, 250, 250, 250, 250, 250, 250, 250]);
    for (const page of result.pages) expect(page.entitiesRead).toBeLessThanOrEqual(251);
    expect(result.pages.reduce((sum, page) => sum + page.entitiesRead, 0)).toBeLessThanOrEqual(2000 + 8);
  });

  it('every operation: all 5,000 merged newest first in pages of 500, each reading at most 4 × 501 of them', async () => {
    const result = await walk('audit?$top=500');
    expect(result.requestIds).toHaveLength(5000);
    expect(result.requestIds).toEqual(expected(() => true));
    expect(result.pages).toHaveLength(10);
    for (const page of result.pages) {
      expect(page.size).toBe(500);
      expect(page.entitiesRead).toBeLessThanOrEqual(4 * 501);
    }
  });

  it('the first page of 50 reads at most 4 × 51 entities of a table of 5,600 rows', async () => {
    reads.entities = 0;
    const response = await call(listAuditRecords, '/api/audit?$top=50');
    expect(response.jsonBody.value).toHaveLength(50);
    expect(reads.entities).toBeLessThanOrEqual(4 * 51);
    expect(response.jsonBody.value.map((record: Json) => record.requestId)).toEqual(expected(() => true).slice(0, 50));
  });

  it('lists records only, never the entity index, attempt or key rows beside them', async () => {
    const result = await walk('audit?operation=createExternalConnection&$top=1000');
    expect(result.requestIds).toHaveLength(1000);
    expect(result.requestIds.every((id) => /^00000000-0000-4000-8000-\d{12}$/.test(id))).toBe(true);
  });

  it('shows the record\'s fields, never its bodies; answers for its caller only (no-store)', async () => {
    const response = await call(listAuditRecords, '/api/audit?operation=createExternalGroup&status=unknown&$top=1');
    expect(response.headers['cache-control']).toBe('no-store');
    const [record] = response.jsonBody.value;
    expect(record).toMatchObject({ operation: 'createExternalGroup', entityType: 'externalGroup', status: 'unknown', httpStatus: 503, graphVersion: 'v1.0', callerTenantId: expect.any(String), durationMs: 120 });
    expect(record.requestedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Object.keys(record)).not.toEqual(expect.arrayContaining(['requestBody']));
    for (const hidden of ['requestBody', 'responseBody', 'partitionKey', 'rowKey', 'etag', 'askKey', 'entityKey', 'reconcileAfter', 'kind']) expect(record).not.toHaveProperty(hidden);
  });
});

describe('filters', () => {
  it('status across every operation, within the default window of 7 days, each page reading at most 4 × ($top + 1)', async () => {
    const result = await walk('audit?status=failed&$top=200');
    expect(result.requestIds).toEqual(expected((record) => record.status === 'failed' && inDefaultWindow(record)));
    expect(result.requestIds.length).toBeGreaterThan(400);
    for (const page of result.pages) expect(page.entitiesRead).toBeLessThanOrEqual(4 * 201);
  });

  it('several states at once', async () => {
    const result = await walk('audit?operation=createConnectorGroup&status=failed,unknown&$top=1000');
    expect(result.requestIds).toEqual(expected((record) => record.operation === 'createConnectorGroup' && ['failed', 'unknown'].includes(record.status)));
  });

  it('a caller, in one operation', async () => {
    const result = await walk(`audit?operation=createExternalGroup&callerId=${callerB}&$top=300`);
    expect(result.requestIds).toEqual(expected((record) => record.operation === 'createExternalGroup' && record.callerId === callerB && inDefaultWindow(record)));
  });

  it('an entity id without the operation: its records in every operation', async () => {
    const result = await walk('audit?entityId=shared1');
    const wanted = expected((record) => record.entityId === 'shared1' && inDefaultWindow(record));
    expect(result.requestIds).toEqual(wanted);
    expect(new Set(records.filter((record) => wanted.includes(record.requestId)).map((record) => record.operation)).size).toBe(3);
  });

  it('a time window of its own: from and to', async () => {
    const from = new Date(now - 3 * day).toISOString();
    const to = new Date(now - 1 * day).toISOString();
    const result = await walk(`audit?from=${from}&to=${to}&$top=1000`);
    expect(result.requestIds).toEqual(expected((record) => record.requestedAt.getTime() >= now - 3 * day && record.requestedAt.getTime() < now - day));
  });

  it('without filters the window reaches back to the first record; with one, older records need from', async () => {
    const old = (record: SeedRecord) => record.requestedAt.getTime() < now - 7 * day;
    expect((await walk('audit?operation=createExternalGroup&$top=1000')).requestIds).toEqual(expected((record) => record.operation === 'createExternalGroup'));
    const from = new Date(now - 25 * day).toISOString();
    const failed = await walk(`audit?operation=createExternalGroup&status=failed&from=${from}&$top=1000`);
    expect(failed.requestIds).toEqual(expected((record) => record.operation === 'createExternalGroup' && record.status === 'failed'));
    expect(records.filter(old)).toHaveLength(10);
  });
});

describe('the time window limit', () => {
  it('a filter over more than 31 days is a Graph-shaped 400 naming the limit', async () => {
    const from = new Date(now - 40 * day).toISOString();
    const response = await call(listAuditRecords, `/api/audit?status=failed&from=${from}`);
    expect(response.status).toBe(400);
    expect(response.jsonBody.error).toMatchObject({
      code: 'invalidRequest',
      message: expect.stringContaining('at most 31 days'),
      details: [{ code: 'windowTooLarge', target: 'from', message: expect.stringContaining('31 days') }],
      innerError: { 'request-id': response.headers['request-id'], 'client-request-id': expect.any(String), date: expect.any(String) },
    });
  });

  it('an unfiltered listing has no limit', async () => {
    const from = new Date(now - 400 * day).toISOString();
    expect((await call(listAuditRecords, `/api/audit?operation=createConnectorGroup&from=${from}&$top=1`)).status).toBe(200);
  });

  it('a $skiptoken that was changed, or comes with other filters, is refused', async () => {
    const first = await call(listAuditRecords, '/api/audit?status=failed&$top=5');
    const next = new URL(first.jsonBody['@odata.nextLink']);
    const skipToken = next.searchParams.get('$skiptoken')!;
    const tampered = `${skipToken.slice(0, 10)}${skipToken[10] === 'A' ? 'B' : 'A'}${skipToken.slice(11)}`;
    for (const url of [`/api/audit?status=failed&$top=5&$skiptoken=${tampered}`, `/api/audit?status=unknown&$top=5&$skiptoken=${skipToken}`]) {
      const response = await call(listAuditRecords, url);
      expect(response.status, url).toBe(400);
      expect(response.jsonBody.error.details).toEqual([expect.objectContaining({ target: '$skiptoken' })]);
    }
  });

  it('parameters are checked all at once: unknown ones, a bad $top, an unknown operation or state', async () => {
    const response = await call(listAuditRecords, '/api/audit?operation=deleteEverything&status=gone&$top=5000&$filter=x');
    expect(response.status).toBe(400);
    expect(response.jsonBody.error.details.map((detail: Json) => detail.target).sort()).toEqual(['$filter', '$top', 'operation', 'status']);
  });
});

describe('one entity\'s records', () => {
  const old = { requestedAt: new Date(now - 20 * day), requestId: requestIdOf(90_000) };
  const extra: SeedRecord[] = [
    { ...old, operation: 'createExternalGroup', entityType: 'externalGroup', entityId: 'g-made', collection: '/external/connections/contosohr/groups', callerId: callerA, status: 'succeeded' },
    { operation: 'createExternalGroup', entityType: 'externalGroup', entityId: 'g-made', collection: '/external/connections/contosohr/groups', callerId: callerB, status: 'failed', httpStatus: 409, requestedAt: new Date(now - 2 * day), requestId: requestIdOf(90_001) },
    { operation: 'createExternalGroup', entityType: 'externalGroup', entityId: 'g-made', collection: '/external/connections/contosohr/groups', callerId: callerB, status: 'unknown', requestedAt: new Date(now - day), requestId: requestIdOf(90_002), reason: 'the answer was lost' },
    { operation: 'createExternalGroup', entityType: 'externalGroup', entityId: 'g-made', collection: '/external/connections/fabrikam/groups', callerId: callerA, status: 'failed', requestedAt: new Date(now - 3 * day), requestId: requestIdOf(90_003) },
    { ...old, requestId: requestIdOf(90_004), operation: 'createExternalConnection', entityType: 'externalConnection', entityId: 'oldconn', collection: '/external/connections', callerId: callerA, status: 'succeeded' },
  ];

  beforeAll(async () => {
    const table = (runtime.audit as unknown as { table: Parameters<typeof seedRows>[0] }).table;
    await seedRows(table, [
      ...extra.map(auditEntityOf),
      indexRow('createExternalGroup', 'external/connections/contosohr/groups/g-made', extra[0]!),
      indexRow('createExternalConnection', 'external/connections/oldconn', extra[4]!),
    ]);
  });

  const entity = (operation: string, entityId: string, query = '') =>
    call(getEntityAuditRecords, `/api/audit/${operation}/${entityId}${query}`, { operation, entityId });

  it('the record that made it, however old, and the other records of the window, newest first, with the bodies', async () => {
    const response = await entity('createExternalGroup', 'g-made');
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    expect(response.jsonBody.value.map((record: Json) => [record.requestId, record.status, record.madeEntity])).toEqual([
      [requestIdOf(90_002), 'unknown', false],
      [requestIdOf(90_001), 'failed', false],
      [requestIdOf(90_003), 'failed', false],
      [requestIdOf(90_000), 'succeeded', true],
    ]);
    expect(response.jsonBody.value[0]).toMatchObject({ reason: 'the answer was lost', requestBody: '{"id":"g-made"}', requestBodyTruncated: false });
  });

  it('with its parent, only that entity\'s records (group g-made of connection fabrikam is another entity)', async () => {
    const fabrikam = await entity('createExternalGroup', 'g-made', '?connectionId=fabrikam');
    expect(fabrikam.jsonBody.value.map((record: Json) => [record.requestId, record.madeEntity])).toEqual([[requestIdOf(90_003), false]]);
    const contosohr = await entity('createExternalGroup', 'g-made', `?connectionId=contosohr&from=${new Date(now - 36 * 3_600_000).toISOString()}`);
    expect(contosohr.jsonBody.value.map((record: Json) => record.requestId)).toEqual([requestIdOf(90_002), requestIdOf(90_000)]);
  });

  it('an entity whose path is known without parents (a connection) is found by its index alone, outside the window', async () => {
    const response = await entity('createExternalConnection', 'oldconn');
    expect(response.jsonBody.value).toEqual([expect.objectContaining({ requestId: requestIdOf(90_004), madeEntity: true, status: 'succeeded' })]);
  });

  it('none: a Graph-shaped 404; a parent the operation does not have, or an unknown operation: 400', async () => {
    const missing = await entity('createExternalGroup', 'nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.jsonBody.error).toMatchObject({ code: 'itemNotFound', target: 'entityId', innerError: { 'request-id': expect.any(String) } });
    const foreign = await entity('createExternalConnection', 'oldconn', '?groupId=g1');
    expect(foreign.status).toBe(400);
    expect(foreign.jsonBody.error.details).toEqual([expect.objectContaining({ code: 'propertyNotAllowed', target: 'groupId' })]);
    const unknown = await entity('deleteEverything', 'x');
    expect(unknown.status).toBe(400);
    expect(unknown.jsonBody.error.details).toEqual([expect.objectContaining({ target: 'operation' })]);
  });

  it('reads a bounded window: a filter window of over 31 days is refused here too', async () => {
    const response = await entity('createExternalGroup', 'g-made', `?from=${new Date(now - 60 * day).toISOString()}`);
    expect(response.status).toBe(400);
    expect(response.jsonBody.error.details[0].code).toBe('windowTooLarge');
  });
});

describe('the request log line', () => {
  it('one line per query, outcome read, with the caller and the correlation ids, no record in it', async () => {
    const handler = createQueryHandler(listAuditRecords, () => ({ operations: operationDefinitions }), queryStages, () => runtime);
    const { invocation, logs } = capturingInvocation('listAuditRecords');
    const request = new HttpRequest({
      method: 'GET',
      url: 'http://127.0.0.1:7071/api/audit?operation=createConnectorGroup&$top=2',
      headers: { authorization: `Bearer ${token}`, 'client-request-id': 'audit-log-1' },
      query: { operation: 'createConnectorGroup', $top: '2' },
    });
    const response = await handler(request, invocation);
    expect(response.status).toBe(200);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'information',
      message: 'facade.request',
      fields: { operation: 'listAuditRecords', outcome: 'read', status: 200, clientRequestId: 'audit-log-1', callerId: expect.any(String) },
    });
    expect(JSON.stringify(logs[0]!.fields)).not.toContain('createConnectorGroup');
  });
});

describe('when the audit store cannot be read', () => {
  it('answers 503 auditStoreUnavailable with Retry-After, Graph-shaped', async () => {
    const unreachable = createRuntime({ ...tokens.env, AuditStorage: azurite.connectionString.replace(`:${azurite.port}/`, ':9/'), AUDIT_TABLE_TIMEOUT_MS: '1000' });
    const response = await call(listAuditRecords, '/api/audit?$top=1', {}, () => unreachable);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('10');
    expect(response.jsonBody.error.code).toBe('auditStoreUnavailable');
  });
});
