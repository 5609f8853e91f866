import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTimeSpan, PollingBackoff, queueStorageFor, queueTriggerOptions } from '../../dev/queueTriggers';

/** The local host's queue trigger settings: host.json as the Functions host reads it, and its polling back-off. */

describe('queueTriggerOptions', () => {
  it('applies the Storage Queues extension defaults when host.json says nothing', () => {
    const options = queueTriggerOptions({}, {}, { development: false, processorCount: 2 });
    expect(options).toMatchObject({
      maxPollingIntervalMs: 60_000,
      minPollingIntervalMs: 100,
      batchSize: 16,
      newBatchThreshold: 16, // batchSize / 2 × processors
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
      leaseMs: 600_000,
    });
  });

  it('polls an idle queue every 2 s at most when run locally, unless host.json sets another interval', () => {
    expect(queueTriggerOptions({}, {}, { development: true }).maxPollingIntervalMs).toBe(2_000);
    const set = { extensions: { queues: { maxPollingInterval: '00:00:05' } } };
    expect(queueTriggerOptions(set, {}, { development: true }).maxPollingIntervalMs).toBe(5_000);
  });

  it('reads the app\'s host.json', () => {
    const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as unknown;
    expect(queueTriggerOptions(hostJson, {}, { development: false })).toMatchObject({
      maxPollingIntervalMs: 2_000,
      visibilityTimeoutMs: 30_000,
      batchSize: 4,
      newBatchThreshold: 2,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
  });

  it('lets AzureFunctionsJobHost__extensions__queues__* settings override host.json, case-insensitively, as the host does', () => {
    const hostJson = { extensions: { queues: { visibilityTimeout: '00:00:30', maxDequeueCount: 5 } } };
    const options = queueTriggerOptions(hostJson, {
      AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
      azurefunctionsjobhost__extensions__queues__MaxDequeueCount: '3',
      AzureFunctionsJobHost__extensions__queues__batchSize: '8',
    });
    expect(options).toMatchObject({ visibilityTimeoutMs: 1_000, maxDequeueCount: 3, batchSize: 8 });
  });

  it.each([
    [{ batchSize: 33 }, /batchSize must be an integer from 1 to 32/],
    [{ batchSize: 0 }, /batchSize/],
    [{ maxDequeueCount: 0 }, /maxDequeueCount/],
    [{ newBatchThreshold: -1 }, /newBatchThreshold/],
    [{ maxPollingInterval: '00:00:00.050' }, /at least 100 ms/],
    [{ visibilityTimeout: '30' }, /duration like "00:00:30"/],
    [{ messageEncoding: 'utf8' }, /"base64" or "none"/],
  ])('refuses %j', (queues, message) => {
    expect(() => queueTriggerOptions({ extensions: { queues } })).toThrow(message);
  });
});

describe('parseTimeSpan', () => {
  it.each([
    ['00:00:30', 30_000],
    ['00:10:00', 600_000],
    ['1.02:00:00', 26 * 3_600_000],
    ['00:00:01.5', 1_500],
  ])('%s → %i ms', (text, ms) => {
    expect(parseTimeSpan(text, 'x')).toBe(ms);
  });
});

describe('PollingBackoff (randomised exponential, as the host)', () => {
  it('grows from the minimum to the maximum while the queue stays empty, and drops back once messages came', () => {
    const backoff = new PollingBackoff(100, 2_000, () => 0.5); // no jitter
    const delays = Array.from({ length: 7 }, () => backoff.next(false));
    expect(delays).toEqual([100, 200, 300, 500, 900, 1_700, 2_000]);
    expect(backoff.next(false)).toBe(2_000);
    expect(backoff.next(true)).toBe(100);
    expect(backoff.next(false)).toBe(200);
  });

  it('jitters each step by ±20 %', () => {
    const low = new PollingBackoff(100, 60_000, () => 0);
    const high = new PollingBackoff(100, 60_000, () => 0.999_999);
    for (const backoff of [low, high]) backoff.next(false);
    expect(low.next(false)).toBeCloseTo(180);
    expect(high.next(false)).toBeCloseTo(220);
  });
});

describe('queueStorageFor (a function\'s connection, as the host resolves it)', () => {
  it('a connection string wins; else the identity-based queue service URI with its client id', () => {
    expect(queueStorageFor('AuditStorage', { AuditStorage: 'UseDevelopmentStorage=true', AuditStorage__queueServiceUri: 'https://a.queue.core.windows.net' }))
      .toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(queueStorageFor('AuditStorage', { AuditStorage__queueServiceUri: 'https://a.queue.core.windows.net', AZURE_CLIENT_ID: 'app' }))
      .toEqual({ kind: 'managedIdentity', queueServiceUri: 'https://a.queue.core.windows.net', clientId: 'app' });
    expect(queueStorageFor('AuditStorage', { AuditStorage__queueServiceUri: 'https://a.queue.core.windows.net', AuditStorage__clientId: 'own', AZURE_CLIENT_ID: 'app' }))
      .toMatchObject({ clientId: 'own' });
    expect(queueStorageFor('AuditStorage', { AuditStorage__tableServiceUri: 'https://a.table.core.windows.net' })).toBeUndefined();
  });
});
