import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { call, type ApiResponse } from '../support/stack';

/** The emulator's schema registration over real HTTP: 202 + Location, an operation that ends completed or failed. */

let graph: GraphEmulator;

beforeAll(async () => {
  graph = await startGraphEmulator({ schemaProvisioningMs: 300 });
});

afterAll(async () => {
  await graph?.close();
});

beforeEach(() => {
  graph.reset();
  graph.schemaRegistrations.provisioningMs = 300;
});

const auth = { authorization: 'Bearer any', 'content-type': 'application/json' };
const schema = {
  baseType: 'microsoft.graph.externalItem',
  properties: [
    { name: 'ticketTitle', type: 'String', isSearchable: 'true', isRetrievable: 'true', labels: ['title'] },
    { name: 'priority', type: 'String', isQueryable: 'true', isRetrievable: 'true', isSearchable: 'false' },
  ],
};

const patch = (connection: string, body: unknown): Promise<ApiResponse> =>
  call(`${graph.baseUrl}/v1.0/external/connections/${connection}/schema`, { method: 'PATCH', headers: auth, body: JSON.stringify(body) });
const get = (url: string): Promise<ApiResponse> => call(url, { headers: auth });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('schema registration in the Graph emulator', () => {
  it('answers 202 with the Location of an operation that is inprogress, then completed; the connection turns ready', async () => {
    graph.seedConnection('contosohr');
    const accepted = await patch('contosohr', schema);
    expect(accepted.status).toBe(202);
    const location = accepted.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${graph.baseUrl}/v1\\.0/external/connections/contosohr/operations/[0-9a-f-]{36}$`));
    expect((await get(location)).body).toMatchObject({ status: 'inprogress' });
    expect((await get(`${graph.baseUrl}/v1.0/external/connections/contosohr/schema`)).status).toBe(404);
    await sleep(400);
    const done = await get(location);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed' });
    expect(done.body.error).toBeUndefined();
    const stored = await get(`${graph.baseUrl}/v1.0/external/connections/contosohr/schema`);
    expect(stored.body).toMatchObject({ baseType: schema.baseType, properties: schema.properties });
    expect((await get(`${graph.baseUrl}/v1.0/external/connections/contosohr`)).body.state).toBe('ready');
  });

  it('ends failed with an error when a failure is planned over the control route, and stores no schema', async () => {
    graph.seedConnection('contosohr');
    const planned = await call(`${graph.baseUrl}/_emulator/schemaRegistration`, { method: 'POST', headers: auth, body: JSON.stringify({ failNext: 1, failMessage: 'Server error, something went wrong', provisioningMs: 100 }) });
    expect(planned.status).toBe(200);
    const accepted = await patch('contosohr', schema);
    await sleep(200);
    const failed = await get(accepted.headers.get('location')!);
    expect(failed.body).toMatchObject({ status: 'failed', error: { message: 'Server error, something went wrong' } });
    expect((await get(`${graph.baseUrl}/v1.0/external/connections/contosohr/schema`)).status).toBe(404);
    expect((await get(`${graph.baseUrl}/v1.0/external/connections/contosohr`)).body.state).toBe('draft');
    // Only the next one failed.
    const again = await patch('contosohr', schema);
    await sleep(200);
    expect((await get(again.headers.get('location')!)).body.status).toBe('completed');
  });

  it('refuses a missing connection (404), a body without properties (400) and bad control settings (400)', async () => {
    expect((await patch('nosuch', schema)).status).toBe(404);
    graph.seedConnection('contosohr');
    const invalid = await patch('contosohr', { baseType: 'microsoft.graph.externalItem', properties: [] });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('invalidRequest');
    const control = await call(`${graph.baseUrl}/_emulator/schemaRegistration`, { method: 'POST', headers: auth, body: JSON.stringify({ failNext: -1 }) });
    expect(control.status).toBe(400);
    expect(graph.schemaRegistrations.list()).toHaveLength(0);
  });
});
