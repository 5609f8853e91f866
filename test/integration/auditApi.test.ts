import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devIdentities } from '../../dev/tokenIssuer';
import { appRoles } from '../../shared/auth/roles';
import { call, startTestStack, type ApiResponse, type TestStack } from '../support/stack';
import { allowedDevClientApps, tokenDefects } from '../support/tokenDefects';

/**
 * The audit query API over real HTTP: the local host as a child process, Azurite, the Graph
 * emulator and the dev token issuer. Only Audit.Read holders read the trail; what they read is
 * what the creates recorded, page after page through @odata.nextLink, in the shape the published
 * documents describe.
 */

// ajv-formats is CommonJS with a default export; under ESM interop the function may sit on `.default`.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule);

let stack: TestStack;
let reader: string;

beforeAll(async () => {
  stack = await startTestStack({ AUTH_ALLOWED_CLIENT_APPS: allowedDevClientApps });
  reader = await stack.token({ roles: ['Audit.Read'] });
});

afterAll(async () => {
  await stack?.stop();
});

const get = (pathOrUrl: string, authorization?: string, headers: Record<string, string> = {}): Promise<ApiResponse> =>
  call(pathOrUrl.startsWith('http') ? pathOrUrl : `${stack.host.apiUrl}${pathOrUrl}`, {
    headers: { ...(authorization === undefined ? {} : { authorization }), ...headers },
  });

describe('only Audit.Read holders read the audit trail', () => {
  it.each(['/audit', '/audit/createExternalGroup/g1'])('GET %s: every token defect is 401/403, Graph-shaped, with its challenge', async (path) => {
    const defects = await tokenDefects(stack.tokens, 'Audit.Read', 'ExternalGroup.Create');
    for (const [index, defect] of defects.entries()) {
      const response = await get(path, defect.authorization, { 'client-request-id': `audit-denied-${index}` });
      expect(response.status, defect.name).toBe(defect.status);
      expect(response.body.error.code, defect.name).toBe(defect.status === 401 ? 'InvalidAuthenticationToken' : 'Authorization_RequestDenied');
      expect(response.body.error.innerError, defect.name).toMatchObject({ 'request-id': response.headers.get('request-id'), 'client-request-id': `audit-denied-${index}` });
      const challenge = response.headers.get('www-authenticate') ?? '';
      if (defect.status === 401) expect(challenge, defect.name).toMatch(/^Bearer realm="/);
      else expect(challenge, defect.name).toContain('error="insufficient_scope"');
    }
  });

  it('a caller holding every create role but not Audit.Read is refused, the role named', async () => {
    const creator = await stack.token({ roles: appRoles.filter((role) => role !== 'Audit.Read') });
    const response = await get('/audit', `Bearer ${creator}`);
    expect(response.status).toBe(403);
    expect(response.body.error).toMatchObject({ code: 'Authorization_RequestDenied', message: expect.stringContaining('Audit.Read') });
  });

  it('Audit.Read alone reads, and creates nothing: a reader\'s create is refused', async () => {
    expect((await get('/audit', `Bearer ${reader}`)).status).toBe(200);
    const create = await stack.post('/v1.0/external/connections', { id: 'readeronly', name: 'n' }, {}, { token: reader });
    expect(create.status).toBe(403);
  });
});

describe('what the creates recorded, read back through the API', () => {
  const groups = ['31bea3d537902000', 'marketing', 'sales'];

  beforeAll(async () => {
    expect((await stack.post('/v1.0/external/connections', { id: 'audited', name: 'Audited' })).status).toBe(201);
    for (const id of groups) expect((await stack.post('/v1.0/external/connections/audited/groups', { id })).status).toBe(201);
    // The same group again: Graph's 409, recorded as failed.
    expect((await stack.post('/v1.0/external/connections/audited/groups', { id: 'sales' }, { 'client-request-id': 'the-duplicate' })).status).toBe(409);
  });

  it('pages of 2 through @odata.nextLink, newest first, as absolute links on the API\'s own host', async () => {
    const seen: { entityId: string; status: string; callerId: string; requestedAt: string }[] = [];
    let next: string | undefined = `/audit?operation=createExternalGroup&$top=2`;
    let pages = 0;
    while (next) {
      const response = await get(next, `Bearer ${reader}`);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.body.value.length).toBeLessThanOrEqual(2);
      seen.push(...response.body.value);
      next = response.body['@odata.nextLink'];
      if (next) expect(next.startsWith(`${stack.host.apiUrl}/audit?`)).toBe(true);
      pages += 1;
    }
    expect(pages).toBe(2);
    expect(seen.map((record) => [record.entityId, record.status])).toEqual([
      ['sales', 'failed'],
      ['sales', 'succeeded'],
      ['marketing', 'succeeded'],
      ['31bea3d537902000', 'succeeded'],
    ]);
    expect(seen.every((record) => record.callerId === devIdentities.callerObjectId)).toBe(true);
    expect([...seen.map((record) => record.requestedAt)].sort().reverse()).toEqual(seen.map((record) => record.requestedAt));
  });

  it('every operation at once, and the request-id a create answered with finds its record', async () => {
    const created = await stack.post('/v1.0/external/connections/audited/groups', { id: 'finance' });
    const response = await get('/audit?$top=100', `Bearer ${reader}`, { 'client-request-id': 'audit-read-1' });
    expect(response.headers.get('client-request-id')).toBe('audit-read-1');
    expect(response.body.value.map((record: { operation: string }) => record.operation)).toEqual(expect.arrayContaining(['createExternalConnection', 'createExternalGroup']));
    expect(response.body.value[0]).toMatchObject({ requestId: created.headers.get('request-id'), entityId: 'finance', status: 'succeeded', httpStatus: 201 });
  });

  it('the entity route: the record that made it and the duplicate\'s, with what was sent and answered', async () => {
    const response = await get('/audit/createExternalGroup/sales?connectionId=audited', `Bearer ${reader}`);
    expect(response.status).toBe(200);
    expect(response.body.value.map((record: { status: string; madeEntity: boolean; clientRequestId: string }) => [record.status, record.madeEntity])).toEqual([
      ['failed', false],
      ['succeeded', true],
    ]);
    expect(response.body.value[0]).toMatchObject({ clientRequestId: 'the-duplicate', httpStatus: 409, errorCode: 'Conflict', requestBody: '{"id":"sales"}' });
    expect(JSON.parse(response.body.value[1].responseBody)).toMatchObject({ id: 'sales' });
  });

  it('answers in the shape the published OpenAPI document describes, errors included', async () => {
    const document = (await get('/openapi.json')).body;
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ components: { schemas: document.components.schemas } }, 'document');
    const matches = (schema: string, body: unknown) => {
      const validate = ajv.getSchema(`document#/components/schemas/${schema}`)!;
      return validate(body) ? [] : validate.errors;
    };
    const page = await get('/audit?$top=3', `Bearer ${reader}`);
    expect(matches('AuditRecordPage', page.body)).toEqual([]);
    const entity = await get('/audit/createExternalGroup/sales', `Bearer ${reader}`);
    expect(matches('EntityAuditRecords', entity.body)).toEqual([]);
    for (const failure of [await get('/audit?$top=0', `Bearer ${reader}`), await get('/audit/createExternalGroup/nobody', `Bearer ${reader}`), await get('/audit')]) {
      expect([400, 404, 401]).toContain(failure.status);
      expect(matches('GraphError', failure.body)).toEqual([]);
    }
    expect(document.paths['/audit'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AuditRecordPage' });
  });
});
