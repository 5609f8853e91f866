import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

it('100 concurrent requests on a cold instance make exactly one identity request', async () => {
  expect((await stack.post('/v1.0/external/connections', { id: 'tokens', name: 'Tokens' })).status).toBe(201);
  // A second, cold instance; a slow identity endpoint keeps all 100 requests waiting on one token.
  const cold = await stack.startAnotherHost();
  stack.identity.setFault({ kind: 'slow', delayMs: 300 });
  const before = stack.identity.requestCount;
  const responses = await Promise.all(
    Array.from({ length: 100 }, (_, index) => stack.postTo(cold.apiUrl, '/v1.0/external/connections/tokens/groups', { id: `g${index}` })),
  );
  expect(responses.map((response) => response.status)).toEqual(Array(100).fill(201));
  expect(stack.identity.requestCount - before).toBe(1);
});
