import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestStack, type ApiResponse, type HostProcess, type TestStack } from '../support/stack';
import { waitFor } from '../support/queues';

/**
 * A manifest apply whose instance is killed (SIGKILL) while it adds members: its queue message
 * reappears, the other instance claims the apply once the dead run's lease has ended, reads what
 * exists, and finishes, with every entity made once in Graph.
 */

// A crashed instance's queue message reappears after 2 s (the Functions host keeps it 10 minutes).
const settings = { LOCAL_QUEUE_LEASE_SECONDS: '2' };
let stack: TestStack;
let other: HostProcess;
let table: TableClient;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const users = (count: number) => Array.from({ length: count }, () => ({ id: randomUUID(), type: 'user' }));

beforeAll(async () => {
  stack = await startTestStack(settings);
  other = await stack.startAnotherHost();
  table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

async function pollUntilDone(location: string, token: string, timeoutMs: number): Promise<ApiResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call(location, { headers: { authorization: `Bearer ${token}` } });
    // 503 (the audit store did not answer in time, on a loaded machine) means: ask again later.
    if (answer.status !== 202 && answer.status !== 503) return answer;
    if (Date.now() > deadline) throw new Error(`still 202 after ${timeoutMs} ms: ${JSON.stringify(answer.body)}`);
    await sleep(300);
  }
}

describe('an apply whose instance dies mid-members', () => {
  it('is finished by the queue on the other instance, every entity made once', async () => {
    const manifest = {
      connection: { id: 'killedmanifest', name: 'Killed mid-members' },
      groups: [
        { id: 'killedg1', displayName: 'One', members: users(300) },
        { id: 'killedg2', displayName: 'Two', members: users(300) },
      ],
      connectorGroups: [{ name: 'Killed manifest connectors' }],
    };
    const total = 1 + 2 + 600 + 1;
    // Slow batches: the run is mid-members for several seconds.
    stack.graph.addFault({ method: 'POST', path: '\\$batch$', steps: Array(40).fill({ delayMs: 800 }) });
    const token = await stack.token();
    const accepted = await stack.post('/v1.0/external/connectorManifests/apply', manifest, { prefer: 'respond-async', 'client-request-id': 'manifest-killed' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const id = accepted.body.id as string;

    const runner = await waitFor('a run mid-members', async () => {
      const record = await table.getEntity<Record<string, unknown>>('applyConnectorManifest', id);
      const steps = stack.graph.batchSteps().filter((step) => step.headers['client-request-id'] === 'manifest-killed').length;
      return steps >= 60 && record.runs === 1 && String(record.leaseOwner).startsWith('pid-') ? record : undefined;
    }, 30_000);
    const pid = Number(/^pid-(\d+)\//.exec(String(runner.leaseOwner))![1]);
    const doomed = [stack.host, other].find((host) => host.pid === pid)!;
    const survivor = doomed === stack.host ? other : stack.host;
    expect(doomed, `the run's instance (pid ${pid}) is one of ours (${stack.host.pid}, ${other.pid})`).toBeDefined();
    const membersBefore = stack.graph.entityCounts().members;
    process.kill(pid, 'SIGKILL');
    await doomed.stop();
    expect(membersBefore).toBeLessThan(600);

    const final = await pollUntilDone(`${survivor.apiUrl}/connectorManifestApplies/${id}`, token, 120_000);
    expect(final.status, JSON.stringify(final.body).slice(0, 500)).toBe(200);
    expect(final.body).toMatchObject({ status: 'completed', outcome: 'succeeded' });
    // What the dead run made counts as this apply's too: every entity is created, none only found.
    expect(final.body.counts).toEqual({ created: total, exists: 0, differs: 0, failed: 0, notAttempted: 0 });

    const record = await table.getEntity<Record<string, unknown>>('applyConnectorManifest', id);
    expect(Number(record.runs)).toBeGreaterThanOrEqual(2);
    expect(String(record.leaseOwner)).not.toMatch(new RegExp(`^pid-${pid}/`));
    // Graph made each entity once, whatever was sent again.
    const made = stack.graph.creations().filter((creation) => creation.clientRequestId === 'manifest-killed');
    expect(made).toHaveLength(total);
    expect(new Set(made.map((creation) => creation.path)).size).toBe(total);
    expect(stack.graph.entityCounts()).toMatchObject({ connections: 1, groups: 2, members: 600, connectorGroups: 1 });
    const sent = stack.graph.batchSteps().filter((step) => step.headers['client-request-id'] === 'manifest-killed').length;
    process.stdout.write(`manifest apply of ${total} entities, its first instance killed after ${membersBefore} members: ${sent} member adds sent for 600 members\n`);
  }, 180_000);
});
