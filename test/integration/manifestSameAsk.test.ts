import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * A member the caller's own single add made (its every answer lost, so its record stays
 * `unknown`) is the same ask as the apply's add of it: the apply's add is answered with what the
 * single add made. That add was not this apply's: the apply reports the member `exists`, the first
 * time and when the manifest is applied again, never `created`. Found by the exactly-once
 * simulation's manifest step (re-applying reported such a member created).
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

it('reports a member the caller’s own earlier single add made as exists, also when applied again', { timeout: 120_000 }, async () => {
  const member = { id: randomUUID(), type: 'user' };
  const connection = { id: 'sameaskconn', name: 'Contoso same ask', description: 'Tickets' };
  const group = { id: 'sameaskgroup', displayName: 'Same ask' };
  const first = await stack.post('/v1.0/external/connectorManifests/apply', { connection, groups: [group] });
  expect(first.status, JSON.stringify(first.body)).toBe(200);

  const garbage = { garbage: true };
  stack.graph.addFault({ method: 'POST', path: '/sameaskgroup/members$', body: member.id, steps: [{ ...garbage, commit: true }, garbage, garbage, garbage] });
  const single = await stack.post(`/v1.0/external/connections/${connection.id}/groups/${group.id}/members`, member);
  expect(single.status, JSON.stringify(single.body)).toBe(502);

  const manifest = { connection, groups: [{ ...group, members: [member] }] };
  for (const attempt of ['apply', 'apply again']) {
    const answer = await stack.post('/v1.0/external/connectorManifests/apply', manifest);
    expect(answer.status, `${attempt}: ${JSON.stringify(answer.body)}`).toBe(200);
    expect(answer.body, attempt).toMatchObject({ outcome: 'succeeded', groups: [{ id: group.id, outcome: 'exists', members: [{ id: member.id, outcome: 'exists' }] }] });
  }
  expect(stack.graph.creations().filter((creation) => creation.id === member.id)).toHaveLength(1);
});
