import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, reconcileNow, startTestStack, type ApiResponse, type TestStack } from '../support/stack';

/**
 * An apply whose create of a connector group can never be settled ends all the same, the group
 * `failed` with the reason, once it has waited twice the reconcile age — it is not held for good.
 * The apply's first create of the name was answered 503 (nothing made); another create of the same
 * name by the same caller made a group and lost its answer; reconciliation cannot tell which of
 * the two made it (both stay `unknown`), so every later run of the apply is answered
 * `createOutcomeUnknown`. Found by the exactly-once simulation's manifest step (seed 20261205:
 * the apply's status URL still said running after every run had its turn).
 */

// The reconcile age is 6 s here, so the apply waits 12 s on the unsettled attempt.
const settings = { RECONCILE_AFTER_MINUTES: '0.1' };
const connectorGroups = '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups';
let stack: TestStack;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack(settings);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

const reconcile = () => reconcileNow(stack);

it('ends with the connector group failed (createOutcomeUnknown) once it waited twice the reconcile age', { timeout: 180_000 }, async () => {
  const name = 'On-premises undecided';
  const manifest = { connection: { id: 'undecidedcg', name: 'Contoso undecided', description: 'Tickets' }, connectorGroups: [{ name, region: 'eur' }] };
  stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ status: 503, commit: false }, { status: 503, commit: true }] });
  const answer = await stack.post('/v1.0/external/connectorManifests/apply', manifest);
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  const single = await stack.post(connectorGroups, { name, region: 'eur' });
  expect(single.status, JSON.stringify(single.body)).toBeGreaterThanOrEqual(500);
  expect(stack.graph.connectorGroups().filter((group) => group.name === name)).toHaveLength(1);
  await reconcile();

  const token = await stack.token();
  let status: ApiResponse = answer;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline && status.status === 202; await sleep(1_000)) {
    status = await call(answer.headers.get('location')!, { headers: { authorization: `Bearer ${token}` } });
  }
  expect(status.status, JSON.stringify(status.body)).toBe(200);
  expect(status.body).toMatchObject({ status: 'completed', outcome: 'failed' });
  expect(status.body.connectorGroups).toEqual([expect.objectContaining({ name, outcome: 'failed', error: expect.objectContaining({ code: 'createOutcomeUnknown' }) })]);
  // Nothing was sent beside the open attempts: still the one group.
  expect(stack.graph.connectorGroups().filter((group) => group.name === name)).toHaveLength(1);
});
