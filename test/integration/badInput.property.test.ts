import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, startTestStack, type TestStack } from '../support/stack';

/**
 * Generated input across the four operations: 10,000 bodies, path parameters and headers, mostly
 * wrong in some way. Whatever arrives, the facade answers without a 5xx, every rejection is
 * Graph-shaped, and a request the facade rejects never reaches the Graph emulator.
 */

let stack: TestStack;
let authorization: string;

beforeAll(async () => {
  stack = await startTestStack();
  authorization = `Bearer ${await stack.token()}`;
  expect((await stack.post('/beta/external/connections', { id: 'prop', name: 'Property' })).status).toBe(201);
  expect((await stack.post('/beta/external/connections/prop/groups', { id: 'group1' })).status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
});

const facadeRejections = new Set(['invalidRequest', 'unsupportedMediaType', 'requestEntityTooLarge']);

const almost = <T>(valid: T[], size = 12) => fc.oneof(fc.constantFrom(...valid), fc.string({ maxLength: size }), fc.jsonValue({ maxDepth: 1 }));

const connectionBody = fc.record(
  {
    '@odata.type': almost(['#microsoft.graph.externalConnectors.externalConnection', '#microsoft.graph.externalConnection']),
    id: almost(['prop2', 'Microsoft1', 'Teams', 'ab', 'contoso']),
    name: almost(['A name', '']),
    description: almost(['text', null as unknown as string]),
    configuration: fc.oneof(
      fc.record({ authorizedAppIds: fc.array(almost(['de8bc8b5-d9f9-48b1-a8ad-b748da725064']), { maxLength: 2 }) }, { requiredKeys: [] }),
      fc.record({ authorizedApps: fc.array(fc.uuid(), { maxLength: 2 }) }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    contentCategory: almost(['crm', 'wikis', 'unknown']),
    state: almost(['draft']),
    enabledContentExperiences: almost(['search', 'search,compliance']),
  },
  { requiredKeys: [] },
);

const groupBody = fc.record(
  {
    '@odata.type': almost(['#microsoft.graph.externalConnectors.externalGroup']),
    id: almost(['g-1', 'with space', 'x'.repeat(129)], 140),
    displayName: almost(['Sales']),
    description: almost(['Team']),
  },
  { requiredKeys: [] },
);

const memberBody = fc.record(
  {
    id: fc.oneof(fc.uuid(), almost(['group1', 'not a guid'])),
    type: almost(['user', 'group', 'externalGroup', 'device']),
    identitySource: almost(['azureActiveDirectory', 'external']),
  },
  { requiredKeys: [] },
);

const connectorGroupBody = fc.record(
  {
    name: almost(['Connectors', '']),
    region: almost(['nam', 'eur', 'mars']),
    connectorGroupType: almost(['applicationProxy', 'String']),
    isDefault: fc.jsonValue({ maxDepth: 0 }),
    id: fc.uuid(),
  },
  { requiredKeys: [] },
);

const withExtras = (body: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(body, fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }), fc.boolean()).map(
    ([base, extras, addExtras]) => (addExtras ? { ...extras, ...base } : base),
  );

/** A non-empty path segment that URL parsing keeps as it is (`.` and `..` would be resolved away). */
const routable = (value: string) => value.length > 0 && value !== '.' && value !== '..';
const version = almost(['v1.0', 'beta', 'v2.0']).map(String).filter(routable);
const segment = (valid: string[]) => fc.oneof(fc.constantFrom(...valid), fc.string({ minLength: 1, maxLength: 40 }).filter(routable));

const request = fc.oneof(
  fc.record({
    path: fc.tuple(version, fc.constantFrom('external/connections', 'connections')).map(([v, rest]) => [v, rest]),
    body: withExtras(connectionBody),
  }),
  fc.record({
    path: fc
      .tuple(version, fc.constantFrom('external/connections', 'connections'), segment(['prop', 'nosuch', 'Microsoft1', 'a/b']))
      .map(([v, rest, connection]) => [v, rest, connection, 'groups']),
    body: withExtras(groupBody),
  }),
  fc.record({
    path: fc
      .tuple(version, fc.constantFrom('external/connections', 'connections'), segment(['prop']), segment(['group1', 'nosuch', 'a b']))
      .map(([v, rest, connection, group]) => [v, rest, connection, 'groups', group, 'members']),
    body: withExtras(memberBody),
  }),
  fc.record({
    path: fc.constant(['beta', 'onPremisesPublishingProfiles/applicationProxy/connectorGroups']),
    body: withExtras(connectorGroupBody),
  }),
);

const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml', 'APPLICATION/JSON'),
      fc.string({ maxLength: 20 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
    ),
    'client-request-id': fc.string({ maxLength: 150 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
    'idempotency-key': fc.string({ maxLength: 10 }).filter((value) => /^[\x21-\x7e]+$/.test(value)),
  },
  { requiredKeys: ['content-type'] },
);

const payload = (body: unknown) =>
  fc.oneof({ weight: 8, arbitrary: fc.constant(JSON.stringify(body)) }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) }, { weight: 1, arbitrary: fc.constant(JSON.stringify([body])) });

const cases = request.chain((generated) => fc.record({ generated: fc.constant(generated), headers, text: payload(generated.body) }));

it('never answers 5xx, always Graph-shaped, and rejected input never reaches Graph (10,000 cases)', async () => {
  let rejected = 0;
  await fc.assert(
    fc.asyncProperty(cases, async ({ generated, headers: sent, text }) => {
      const [first, ...rest] = generated.path;
      const encoded = rest.map((part, index) => (index === 0 || part === 'groups' || part === 'members' ? part : encodeURIComponent(part)));
      const path = `/${encodeURIComponent(first ?? '')}/${encoded.join('/')}`;
      const before = stack.graph.requests.length;
      const response = await call(`${stack.host.apiUrl}${path}`, { method: 'POST', headers: { authorization, ...sent }, body: text });
      expect(response.status, `${path} ${text}`).toBeLessThan(500);
      if (response.status >= 400) {
        expect(response.body?.error?.code, `${response.status} for ${path} ${text}`).toEqual(expect.any(String));
        expect(typeof response.body.error.message).toBe('string');
        expect(response.body.error.innerError['request-id']).toBe(response.headers.get('request-id'));
      }
      // Graph's own errors pass through with Graph's request id; the facade's rejections have none.
      if (facadeRejections.has(response.body?.error?.code) && !response.headers.get('graph-request-id')) {
        rejected += 1;
        expect(stack.graph.requests.length, `${path} ${text} reached Graph`).toBe(before);
      }
    }),
    { numRuns: 10_000, seed: 20261122, endOnFailure: true },
  );
  // The generator must mostly produce input the facade refuses, or the property says little.
  expect(rejected).toBeGreaterThan(7_000);
}, 240_000);
