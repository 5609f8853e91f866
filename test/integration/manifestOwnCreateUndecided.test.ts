import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, reconcileNow, startTestStack, type ApiResponse, type TestStack } from '../support/stack';

/**
 * An apply whose own create of the connection lost its answer (Graph's 500 after carrying it out)
 * and whose next run comes after the create's Idempotency-Key retention, once reconciliation left
 * that create `unresolved` (another request, the same connection id in other letter case, may have
 * made it just as well): the apply does not know who made the connection, so it never says
 * `exists` (made by someone else). It reports the connection `failed` with `createOutcomeUnknown`.
 * Found by the exactly-once simulation's manifest step (its next run 25 hours on reported `exists`).
 */

// The key's retention is 3.6 s here; the apply's next run comes 20 s on (Graph's Retry-After).
const settings = { IDEMPOTENCY_RETENTION_HOURS: '0.001' };
let stack: TestStack;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack(settings);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

const reconcile = () => reconcileNow(stack);

it('reports the connection failed (createOutcomeUnknown), never exists, when its own lost create is left unresolved', { timeout: 180_000 }, async () => {
  const connection = { id: 'ownundecided', name: 'Contoso own undecided', description: 'Tickets' };
  stack.graph.addFault({
    method: 'POST',
    path: '/external/connections$',
    // The apply's create is carried out and answered 500; the other spelling's first try 503 (nothing made), its resend 409.
    steps: [{ status: 500, commit: true, retryAfter: '20' }, { status: 503, commit: false }],
  });
  const answer = await stack.post('/v1.0/external/connectorManifests/apply', { connection });
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);

  const other = await stack.post('/v1.0/external/connections', { ...connection, id: 'OwnUndecided' }, { 'idempotency-key': 'own-undecided-other' });
  expect(other.status, JSON.stringify(other.body)).toBe(502);
  expect(other.body).toMatchObject({ error: { code: 'createOutcomeUnknown' } });
  await sleep(4_000);
  await reconcile();

  const token = await stack.token();
  let status: ApiResponse = answer;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline && (status.status === 202 || status.status === 503); await sleep(1_000)) {
    status = await call(answer.headers.get('location')!, { headers: { authorization: `Bearer ${token}` } });
  }
  expect(status.status, JSON.stringify(status.body)).toBe(200);
  expect(status.body, JSON.stringify(status.body)).toMatchObject({ status: 'completed', outcome: 'failed' });
  expect(status.body.connection).toMatchObject({ id: 'ownundecided', outcome: 'failed', error: { code: 'createOutcomeUnknown' } });
  expect(stack.graph.entityCounts()).toMatchObject({ connections: 1 });
});
