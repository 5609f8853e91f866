import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { queueTriggerOptions } from '../../dev/queueTriggers';
import { encodeQueueMessage, poisonQueueName, type Queues } from '../../shared/storage/queue';
import type { ProbeEvent, ProbeMessage } from '../support/queueProbe';
import { queuesOn, waitFor } from '../support/queues';
import { startHostProcess, type HostProcess } from '../support/stack';

/**
 * Queue-triggered functions served by the local host as the Functions host serves them, with
 * real host processes on Azurite's queue service: a test-only function (test/support/queueProbe.ts)
 * that succeeds, fails some attempts, always fails, or hangs until its instance is killed.
 */

const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as unknown;
const { maxDequeueCount } = queueTriggerOptions(hostJson);
/** Retries after 1 s instead of host.json's value, through the host's own override setting. */
const retryAfterMs = 1_000;
/**
 * A short lease (renewed every 1.5 s while the function runs) so a killed instance's message is
 * back soon, with room for a busy machine to renew late.
 */
const leaseSeconds = 3;

let azurite: RunningAzurite;
let queues: Queues;
/** One instance serving a queue per test below that needs no instance of its own. */
let shared: HostProcess;
const hosts: HostProcess[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  queues = queuesOn(azurite);
  shared = await startProbeHost(['probe-once', 'probe-twice', 'probe-never', 'probe-plain']);
});

afterAll(async () => {
  await Promise.allSettled(hosts.map((host) => host.stop()));
  await azurite?.stop();
});

async function startProbeHost(queueNames: string[]): Promise<HostProcess> {
  const host = await startHostProcess(
    {
      AuditStorage: azurite.connectionString,
      PROBE_QUEUES: queueNames.join(','),
      AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
      LOCAL_QUEUE_LEASE_SECONDS: String(leaseSeconds),
      // Everything else configured (unused), so the host starts no part of its own.
      GRAPH_BASE_URL: 'http://127.0.0.1:9',
      IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
      IDENTITY_HEADER: 'unused',
      AUTH_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      AUTH_AUDIENCE: 'api://queue-probe',
    },
    30_000,
    'test/support/queueProbe.ts',
  );
  hosts.push(host);
  return host;
}

function eventsOf(host: HostProcess, id: string): ProbeEvent[] {
  return host
    .output()
    .split('\n')
    .filter((line) => line.startsWith('queue-probe '))
    .map((line) => JSON.parse(line.slice('queue-probe '.length)) as ProbeEvent)
    .filter((event) => event.id === id);
}

async function messagesIn(queueName: string): Promise<string[]> {
  const client = await queues.client(queueName);
  if (!(await client.exists())) return [];
  return (await client.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((message) => message.messageText);
}

const sendProbe = (queueName: string, message: ProbeMessage) => queues.send(queueName, message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Each case has a queue of its own, so they run side by side.
describe.concurrent('queue-triggered functions on the local host', () => {
  it('runs the function once with the parsed message and its trigger metadata, then deletes the message', async ({ expect }) => {
    const queueName = 'probe-once';
    const message = { id: 'once', nested: { members: [1, 2, 3] } };
    const sent = await sendProbe(queueName, message);
    const [started, succeeded] = await waitFor('the run', () => {
      const events = eventsOf(shared, 'once');
      return events.length >= 2 ? events : undefined;
    });
    expect(started).toMatchObject({ event: 'started', dequeueCount: 1, messageId: sent.messageId, item: message, pid: shared.pid });
    expect(succeeded?.event).toBe('succeeded');
    await waitFor('the message deleted', async () => (await messagesIn(queueName)).length === 0);
    await sleep(leaseSeconds * 1_000 + 500);
    expect(eventsOf(shared, 'once')).toHaveLength(2);
  });

  it('fails twice, then succeeds on the third receipt; each retry comes after visibilityTimeout', async ({ expect }) => {
    const queueName = 'probe-twice';
    await sendProbe(queueName, { id: 'twice', failTimes: 2 });
    const events = await waitFor('the third attempt to succeed', () => {
      const seen = eventsOf(shared, 'twice');
      return seen.some((event) => event.event === 'succeeded') ? seen : undefined;
    });
    expect(events.map((event) => `${event.event}@${event.dequeueCount}`)).toEqual([
      'started@1', 'failed@1', 'started@2', 'failed@2', 'started@3', 'succeeded@3',
    ]);
    const failures = events.filter((event) => event.event === 'failed');
    const retries = events.filter((event) => event.event === 'started').slice(1);
    retries.forEach((retry, index) => expect(retry.at - failures[index]!.at).toBeGreaterThanOrEqual(retryAfterMs - 100));
    await waitFor('the message deleted', async () => (await messagesIn(queueName)).length === 0);
    expect(await messagesIn(poisonQueueName(queueName))).toEqual([]);
  });

  it(`always fails: after maxDequeueCount (${maxDequeueCount}, host.json) attempts the message moves, unchanged, to the poison queue`, async ({ expect }) => {
    const queueName = 'probe-never';
    const message = { id: 'never', alwaysFail: true };
    await sendProbe(queueName, message);
    const poisoned = await waitFor('the poison queue', async () => {
      const texts = await messagesIn(poisonQueueName(queueName));
      return texts.length > 0 ? texts : undefined;
    }, 30_000);
    expect(poisoned).toEqual([encodeQueueMessage(message)]);
    const attempts = eventsOf(shared, 'never').filter((event) => event.event === 'started');
    expect(attempts.map((event) => event.dequeueCount)).toEqual(Array.from({ length: maxDequeueCount }, (_, index) => index + 1));
    expect(await messagesIn(queueName)).toEqual([]);
    await sleep(retryAfterMs + 500);
    expect(eventsOf(shared, 'never').filter((event) => event.event === 'started')).toHaveLength(maxDequeueCount);
  }, 40_000);

  it('a message that is not base64 goes to the poison queue without running', async ({ expect }) => {
    const queueName = 'probe-plain';
    const client = await queues.client(queueName);
    await client.createIfNotExists();
    await client.sendMessage('{"id":"plain"} is not base64');
    await waitFor('the poison queue', async () => (await messagesIn(poisonQueueName(queueName))).includes('{"id":"plain"} is not base64'));
    expect(eventsOf(shared, 'plain')).toEqual([]);
    expect(await messagesIn(queueName)).toEqual([]);
  });

  it('a message received more than maxDequeueCount times (its instances died) goes to the poison queue without running', async ({ expect }) => {
    const queueName = 'probe-doomed';
    const client = await queues.client(queueName);
    await client.createIfNotExists();
    await client.sendMessage(encodeQueueMessage({ id: 'doomed' }));
    // Receive it as instances that die would: each receipt counts, nothing completes it.
    for (let receipt = 1; receipt <= maxDequeueCount; receipt += 1) {
      const received = await waitFor('the message to be visible', async () => {
        const items = (await client.receiveMessages({ visibilityTimeout: 1 })).receivedMessageItems;
        return items.length > 0 ? items : undefined;
      });
      expect(received[0]?.dequeueCount).toBe(receipt);
    }
    const host = await startProbeHost([queueName]);
    await waitFor('the poison queue', async () => (await messagesIn(poisonQueueName(queueName))).length > 0);
    expect(eventsOf(host, 'doomed')).toEqual([]);
    expect(await messagesIn(queueName)).toEqual([]);
  }, 40_000);

  it('a message whose instance is killed mid-work stays invisible while it runs, then reappears for another instance', async ({ expect }) => {
    const queueName = 'probe-crash';
    const first = await startProbeHost([queueName]);
    await sendProbe(queueName, { id: 'orphan', hangOnFirstAttempt: true });
    await waitFor('the first instance to start it', () => eventsOf(first, 'orphan').find((event) => event.event === 'started'));

    // A second instance polls the same queue; the lease, renewed at half-time, keeps the message
    // from it for as long as the first instance works on it.
    const second = await startProbeHost([queueName]);
    await sleep(2 * leaseSeconds * 1_000);
    expect(eventsOf(second, 'orphan')).toEqual([]);

    process.kill(first.pid!, 'SIGKILL');
    const events = await waitFor('the second instance to finish it', () => {
      const seen = eventsOf(second, 'orphan');
      return seen.some((event) => event.event === 'succeeded') ? seen : undefined;
    });
    expect(events.map((event) => `${event.event}@${event.dequeueCount}`)).toEqual(['started@2', 'succeeded@2']);
    expect(events[0]?.pid).toBe(second.pid);
    expect(events[0]?.pid).not.toBe(first.pid);
    await waitFor('the message deleted', async () => (await messagesIn(queueName)).length === 0);
  }, 40_000);
});
