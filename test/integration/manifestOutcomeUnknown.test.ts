import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, startTestStack, type ApiResponse, type TestStack } from '../support/stack';

/**
 * Connector-group creates of an apply whose first answer is Graph's 503, found by the exactly-once
 * simulation's manifest step (seed 20261205).
 *
 * An apply whose connector-group create Graph answered 503 (nothing made) waits and is carried on
 * from the queue; the queued run's create of the group, under the apply's Idempotency-Key for it,
 * finds that first attempt still open (a connector group's outcome cannot be read back by id) and
 * is answered 409 `createOutcomeUnknown`, a "retry later". The apply must keep waiting on it, not
 * report the group `exists` and complete `succeeded` while Graph holds no such group (found by the
 * exactly-once simulation, seed 20261205: a re-apply of the "succeeded" manifest then created it).
 */

let stack: TestStack;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stack = await startTestStack();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

it('an apply never reports a connector group exists while an earlier attempt of its create is unsettled and Graph holds none', { timeout: 60_000 }, async () => {
  const name = 'On-premises unsettled';
  const manifest = { connection: { id: 'unsettledcg', name: 'Contoso unsettled', description: 'Tickets' }, connectorGroups: [{ name, region: 'eur' }] };
  stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ status: 503, commit: false }] });
  const answer = await stack.post('/v1.0/external/connectorManifests/apply', manifest);
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  expect(answer.body).toMatchObject({ step: 'connectorGroups' });

  // The queue carries the apply on; follow its status URL for a while.
  const token = await stack.token();
  let status: ApiResponse = answer;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(300)) {
    status = await call(answer.headers.get('location')!, { headers: { authorization: `Bearer ${token}` } });
    if (status.status !== 202) break;
  }
  // Still waiting, on the connector group, until reconciliation settles the first attempt (past
  // the reconcile age); never completed with the group `exists` while Graph holds none.
  expect(status.status, JSON.stringify(status.body)).toBe(202);
  expect(status.body).toMatchObject({ status: expect.stringMatching(/accepted|running/), step: 'connectorGroups' });
  expect(stack.graph.creations().filter((creation) => creation.path.includes('/connectorGroups/'))).toEqual([]);
});

it('an apply reports created, not exists, for the connector group its own earlier attempt made (503 after Graph carried it out)', { timeout: 60_000 }, async () => {
  const name = 'On-premises made unseen';
  const manifest = { connection: { id: 'madeunseencg', name: 'Contoso made unseen', description: 'Tickets' }, connectorGroups: [{ name, region: 'eur' }] };
  stack.graph.addFault({ method: 'POST', path: '/connectorGroups$', steps: [{ status: 503, commit: true }] });
  const answer = await stack.post('/v1.0/external/connectorManifests/apply', manifest);
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);

  // The queue carries the apply on: its run finds the group there, made by its own first attempt
  // (whose record is unknown, so no audit record names a maker).
  const token = await stack.token();
  let status: ApiResponse = answer;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && status.status === 202; await sleep(300)) {
    status = await call(answer.headers.get('location')!, { headers: { authorization: `Bearer ${token}` } });
  }
  const made = stack.graph.connectorGroups().filter((group) => group.name === name);
  expect(made).toHaveLength(1);
  expect(status.status, JSON.stringify(status.body)).toBe(200);
  expect(status.body.connectorGroups, JSON.stringify(status.body)).toEqual([expect.objectContaining({ name, id: made[0]!.id, outcome: 'created' })]);
  // Sent once: the later run accounted for the open attempt instead of creating again.
  expect(stack.graph.graphRequests({ method: 'POST', path: /connectorGroups$/ }).filter((request) => JSON.stringify(request.body).includes(name))).toHaveLength(1);
});
