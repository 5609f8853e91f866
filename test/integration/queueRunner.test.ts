import type { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { startQueueTriggers, type QueueTriggerOptions, type QueueTriggers } from '../../dev/queueTriggers';
import { loadSettings } from '../../shared/config';
import type { QueueFunctionDefinition } from '../../shared/operations/registry';
import { encodeQueueMessage, QueueMessageTooLarge, Queues } from '../../shared/storage/queue';
import { queuesOn, waitFor } from '../support/queues';

/**
 * The queue client the app sends with, and the local queue runner's polling, batching and leases,
 * in this process against Azurite's queue service.
 */

let azurite: RunningAzurite;
let queues: Queues;
const runners: QueueTriggers[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  queues = queuesOn(azurite);
});

afterAll(async () => {
  await Promise.allSettled(runners.map((runner) => runner.close()));
  await azurite?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function queueFunction(queueName: string, handler: (item: unknown, context: InvocationContext) => Promise<void>): QueueFunctionDefinition {
  return { kind: 'queue', name: `run_${queueName.replace(/-/g, '_')}`, options: { queueName, connection: 'AuditStorage', handler } };
}

async function serve(definition: QueueFunctionDefinition, options: Partial<QueueTriggerOptions> = {}): Promise<QueueTriggers> {
  const runner = await startQueueTriggers({
    definitions: [definition],
    env: { AuditStorage: azurite.connectionString },
    options,
    logHandler: () => undefined,
  });
  runners.push(runner);
  return runner;
}

describe('Queues (the app\'s queue client)', () => {
  it('sends JSON as base64 text, the Functions queue trigger\'s default encoding, creating the queue on first use', async () => {
    const message = { operation: 'bulk', members: ['a', 'b'], text: 'naïve – ✓' };
    const sent = await queues.send('client-encoding', message);
    expect(sent.messageId).toBeTruthy();
    const client = await queues.client('client-encoding');
    const [peeked] = (await client.peekMessages()).peekedMessageItems;
    expect(peeked?.messageText).toBe(encodeQueueMessage(message));
    expect(JSON.parse(Buffer.from(peeked!.messageText, 'base64').toString('utf8'))).toEqual(message);
  });

  it('refuses a message over the 64 KiB limit before sending anything', async () => {
    const tooLarge = { members: 'x'.repeat(50_000) };
    await expect(queues.send('client-large', tooLarge)).rejects.toBeInstanceOf(QueueMessageTooLarge);
    expect(await (await queues.client('client-large')).exists()).toBe(false);
  });

  it('fails fast when the queue service is unreachable', async () => {
    const { freeLoopbackPort } = await import('../../dev/azurite');
    const dead = await freeLoopbackPort();
    const unreachable = new Queues({
      storage: { kind: 'connectionString', connectionString: azurite.connectionString.replace(`:${azurite.queuePort}/`, `:${dead}/`) },
      credentialFor: () => {
        throw new Error('unused');
      },
      timeoutMs: 1_000,
    });
    const started = Date.now();
    await expect(unreachable.send('anywhere', { id: 1 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('without queue storage configured, says which settings are missing', async () => {
    const none = new Queues({ storage: undefined, credentialFor: () => { throw new Error('unused'); } });
    expect(none.configured).toBe(false);
    await expect(none.send('q', {})).rejects.toThrow(/AuditStorage__queueServiceUri/);
  });

  it('the settings: the AuditStorage connection string serves queues too; else AuditStorage__queueServiceUri with the storage identity', () => {
    expect(loadSettings({ AuditStorage: azurite.connectionString }).queueStorage).toEqual({ kind: 'connectionString', connectionString: azurite.connectionString });
    expect(loadSettings({ AuditStorage__queueServiceUri: 'https://acct.queue.core.windows.net', AZURE_CLIENT_ID: 'app-id' }).queueStorage)
      .toEqual({ kind: 'managedIdentity', queueServiceUri: 'https://acct.queue.core.windows.net', clientId: 'app-id' });
    expect(loadSettings({ AuditStorage__tableServiceUri: 'https://acct.table.core.windows.net' }).queueStorage).toBeUndefined();
    expect(() => loadSettings({ AuditStorage__queueServiceUri: 'https://acct.queue.core.windows.net', AuditStorage__credential: 'key' })).toThrow(/managedidentity/);
  });
});

describe('the local queue runner', () => {
  it('backs off while the queue is empty, and still picks a new message up within the longest polling interval', async () => {
    const seen: unknown[] = [];
    const runner = await serve(queueFunction('runner-idle', async (item) => void seen.push(item)), { maxPollingIntervalMs: 800 });
    await sleep(3_000);
    // 100, ~200, ~300, ~500, then every 800 ms: about 7 polls in 3 s, where a fixed 100 ms would make 30.
    const idlePolls = runner.stats('run_runner_idle').polls;
    expect(idlePolls).toBeGreaterThanOrEqual(4);
    expect(idlePolls).toBeLessThanOrEqual(9);
    const sentAt = Date.now();
    await queues.send('runner-idle', { id: 'late' });
    await waitFor('the message', () => seen.length === 1);
    expect(Date.now() - sentAt).toBeLessThan(800 + 700);
    expect(seen).toEqual([{ id: 'late' }]);
  });

  it('runs at most batchSize + newBatchThreshold at once, fetching again once few enough run', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    const runner = await serve(
      queueFunction('runner-batches', async (item) => {
        running += 1;
        most = Math.max(most, running);
        await sleep(300);
        running -= 1;
        done.push((item as { n: number }).n);
      }),
      { batchSize: 4, newBatchThreshold: 2, maxPollingIntervalMs: 500 },
    );
    await Promise.all(Array.from({ length: 14 }, (_, n) => queues.send('runner-batches', { n })));
    await waitFor('every message', () => done.length === 14);
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 14 }, (_, n) => n));
    expect(most).toBeLessThanOrEqual(4 + 2);
    expect(most).toBeGreaterThanOrEqual(4);
    expect(runner.stats('run_runner_batches').invocations).toBe(14);
  });

  it('keeps a long-running message invisible by renewing its lease, then deletes it', async () => {
    let finished = false;
    let invocations = 0;
    await serve(
      queueFunction('runner-long', async () => {
        invocations += 1;
        await sleep(4_500);
        finished = true;
      }),
      { leaseMs: 2_000, maxPollingIntervalMs: 500 },
    );
    await queues.send('runner-long', { id: 'long' });
    await waitFor('the run to start', () => invocations === 1);
    const client = await queues.client('runner-long');
    // Past two lease lengths the message is still not to be had: each renewal pushed it back.
    for (let check = 0; check < 4; check += 1) {
      await sleep(1_000);
      expect((await client.receiveMessages({ visibilityTimeout: 1 })).receivedMessageItems).toEqual([]);
    }
    await waitFor('the run to finish', () => finished);
    await waitFor('the message deleted', async () => (await client.peekMessages()).peekedMessageItems.length === 0);
    expect(invocations).toBe(1);
  });

  it('close lets a running function finish within the grace period', async () => {
    let finished = false;
    let started = false;
    const runner = await serve(
      queueFunction('runner-close', async () => {
        started = true;
        await sleep(500);
        finished = true;
      }),
      { maxPollingIntervalMs: 500 },
    );
    await queues.send('runner-close', { id: 'closing' });
    await waitFor('the run to start', () => started);
    await runner.close();
    expect(finished).toBe(true);
    await waitFor('the message deleted', async () => (await (await queues.client('runner-close')).peekMessages()).peekedMessageItems.length === 0);
  });

  it('a function whose connection is not configured is not served, and says why', async () => {
    const logs: unknown[][] = [];
    const runner = await startQueueTriggers({
      definitions: [queueFunction('runner-unconfigured', async () => undefined)],
      env: {},
      logHandler: (level, ...args) => logs.push([level, ...args]),
    });
    runners.push(runner);
    expect(runner.served).toEqual([]);
    expect(logs).toEqual([['error', expect.stringMatching(/'AuditStorage' is not configured/)]]);
  });
});
