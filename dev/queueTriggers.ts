import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { LogHandler } from '@azure/functions';
import { ManagedIdentityCredential } from '@azure/identity';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import { InvocationContext } from '../shared/azureFunctions';
import { settingsCatalog, type QueueStorageSettings } from '../shared/config';
import type { FunctionDefinition, QueueFunctionDefinition } from '../shared/operations/registry';
import { poisonQueueName, Queues } from '../shared/storage/queue';
import { consoleLogHandler } from './logFormat';

/**
 * Serves the app's queue-triggered functions (`registerQueue`) the way the Functions host's
 * Storage Queues extension (5.x) does, for the local host:
 *
 * - polls each function's queue; an empty queue is polled again after a randomised exponential
 *   back-off from 100 ms up to `maxPollingInterval`, and right away after messages were found;
 * - fetches `batchSize` messages at a time and fetches again once no more than
 *   `newBatchThreshold` are still running (at most `batchSize + newBatchThreshold` at once);
 * - keeps a message invisible while its function runs: received with a lease (the host's fixed
 *   10 minutes, `LOCAL_QUEUE_LEASE_SECONDS` here) that is renewed at half-time for as long as the
 *   function runs, so a long run is never handed to a second instance, while the message of an
 *   instance that crashed reappears once its lease runs out;
 * - deletes the message when the function returns, and when it throws makes it visible again
 *   after `visibilityTimeout` (host.json), with its `dequeueCount` one higher on the next receipt;
 * - moves it to `{queue}-poison` after the `maxDequeueCount`th failure (a message received with a
 *   dequeue count already past it, e.g. after crashes, goes there without running), and a message
 *   that is not valid base64 (with the default `messageEncoding: base64`) at once;
 * - hands the function the message as parsed JSON (else the text) and `triggerMetadata` with
 *   `dequeueCount`, `id`, `popReceipt`, `insertionTime`, `expirationTime`, `nextVisibleTime` and
 *   `queueTrigger`, as the Node.js worker does.
 *
 * Settings come from host.json `extensions.queues`, with the host's own override mechanism,
 * `AzureFunctionsJobHost__extensions__queues__<name>` app settings. host.json `functionTimeout`
 * is not enforced here (the host would recycle the worker).
 */

/** host.json `extensions.queues` as applied, plus the lease the host keeps fixed. */
export interface QueueTriggerOptions {
  /** Longest wait between polls of an empty queue (`maxPollingInterval`; the host's default is 1 minute, 2 s when run locally). */
  maxPollingIntervalMs: number;
  /** Shortest wait between polls of an empty queue (fixed at 100 ms by the host). */
  minPollingIntervalMs: number;
  /** Messages fetched per poll, 1–32 (`batchSize`, default 16). */
  batchSize: number;
  /** Fetch more once no more than this many run (`newBatchThreshold`, default batchSize/2 × processors). */
  newBatchThreshold: number;
  /** After a failure the message is visible again after this long (`visibilityTimeout`, default 0; whole seconds). */
  visibilityTimeoutMs: number;
  /** Failures after which a message moves to the poison queue (`maxDequeueCount`, default 5). */
  maxDequeueCount: number;
  /** How message text is encoded (`messageEncoding`, default base64). */
  messageEncoding: 'base64' | 'none';
  /** Invisibility of a message while its function runs, renewed at half-time (the host: 10 minutes; whole seconds, at least 1). */
  leaseMs: number;
  /** On close, how long running functions may finish before their messages are left to reappear. */
  shutdownGraceMs: number;
}

const hostDefaults = {
  maxPollingIntervalMs: 60_000,
  minPollingIntervalMs: 100,
  batchSize: 16,
  visibilityTimeoutMs: 0,
  maxDequeueCount: 5,
  messageEncoding: 'base64',
  leaseMs: 600_000,
  shutdownGraceMs: 5_000,
} as const;

/** `[d.]hh:mm:ss[.fffffff]`, the form host.json gives durations in. */
export function parseTimeSpan(value: string, setting: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!match) throw new Error(`host.json ${setting} must be a duration like "00:00:30", got "${value}".`);
  const [, days = '0', hours, minutes, seconds, fraction = '0'] = match;
  return ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1_000 + Math.round(Number(`0.${fraction}`) * 1_000);
}

function integerIn(value: unknown, setting: string, min: number, max: number): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new Error(`host.json ${setting} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}.`);
  }
  return number;
}

/** A key of a .NET configuration section: case-insensitive. */
function valueOf(section: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(section).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : section[key];
}

/**
 * The queue trigger settings the Functions host would apply: host.json `extensions.queues`,
 * overridden by `AzureFunctionsJobHost__extensions__queues__*` settings, over the extension's
 * defaults. `development` (as `func start` runs) turns the 1-minute default polling interval into
 * 2 seconds, as the extension does.
 */
export function queueTriggerOptions(
  hostJson: unknown,
  env: Readonly<Record<string, string | undefined>> = {},
  {
    development = true,
    processorCount = availableParallelism(),
    leaseMs = hostDefaults.leaseMs,
  }: { development?: boolean; processorCount?: number; leaseMs?: number } = {},
): QueueTriggerOptions {
  const extensions = (hostJson as { extensions?: Record<string, unknown> } | undefined)?.extensions ?? {};
  const section: Record<string, unknown> = { ...((valueOf(extensions, 'queues') as Record<string, unknown> | undefined) ?? {}) };
  const prefix = 'azurefunctionsjobhost__extensions__queues__';
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && name.toLowerCase().startsWith(prefix)) {
      const key = Object.keys(section).find((candidate) => candidate.toLowerCase() === name.slice(prefix.length).toLowerCase());
      section[key ?? name.slice(prefix.length)] = value;
    }
  }
  const duration = (name: string, fallback: number) => {
    const value = valueOf(section, name);
    return value === undefined ? fallback : parseTimeSpan(String(value), `extensions.queues.${name}`);
  };
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const value = valueOf(section, name);
    return value === undefined ? fallback : integerIn(value, `extensions.queues.${name}`, min, max);
  };

  let maxPollingIntervalMs = duration('maxPollingInterval', hostDefaults.maxPollingIntervalMs);
  if (maxPollingIntervalMs < hostDefaults.minPollingIntervalMs) {
    throw new Error(`host.json extensions.queues.maxPollingInterval must be at least ${hostDefaults.minPollingIntervalMs} ms.`);
  }
  if (development && maxPollingIntervalMs === hostDefaults.maxPollingIntervalMs) maxPollingIntervalMs = 2_000;
  const batchSize = integer('batchSize', hostDefaults.batchSize, 1, 32);
  const encoding = String(valueOf(section, 'messageEncoding') ?? hostDefaults.messageEncoding).toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') {
    throw new Error(`host.json extensions.queues.messageEncoding must be "base64" or "none", got "${encoding}".`);
  }
  return {
    maxPollingIntervalMs,
    minPollingIntervalMs: hostDefaults.minPollingIntervalMs,
    batchSize,
    newBatchThreshold: integer('newBatchThreshold', Math.floor(batchSize / 2) * processorCount, 0, Number.MAX_SAFE_INTEGER),
    visibilityTimeoutMs: duration('visibilityTimeout', hostDefaults.visibilityTimeoutMs),
    maxDequeueCount: integer('maxDequeueCount', hostDefaults.maxDequeueCount, 1, Number.MAX_SAFE_INTEGER),
    messageEncoding: encoding,
    leaseMs,
    shutdownGraceMs: hostDefaults.shutdownGraceMs,
  };
}

/**
 * The host's polling back-off (RandomizedExponentialBackoffStrategy): after messages were found,
 * the minimum; after each empty poll, min + min × 2^(n-1) × (0.8–1.2), up to the maximum.
 */
export class PollingBackoff {
  private current = 0;
  private exponent = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(foundMessages: boolean): number {
    if (foundMessages) {
      this.current = this.minMs;
      this.exponent = 1;
    } else if (this.current !== this.maxMs) {
      let interval = this.minMs;
      if (this.exponent > 0) interval += (0.8 + 0.4 * this.random()) * 2 ** (this.exponent - 1) * this.minMs;
      if (interval < this.maxMs) {
        this.current = interval;
        this.exponent += 1;
      } else {
        this.current = this.maxMs;
      }
    }
    return this.current;
  }
}

/** The queue service of a function's `connection`, resolved as the Functions host does. */
export function queueStorageFor(connection: string, env: Readonly<Record<string, string | undefined>>): QueueStorageSettings | undefined {
  const connectionString = env[connection]?.trim();
  if (connectionString) return { kind: 'connectionString', connectionString };
  const queueServiceUri = env[`${connection}__queueServiceUri`]?.trim();
  if (!queueServiceUri) return undefined;
  return { kind: 'managedIdentity', queueServiceUri, clientId: env[`${connection}__clientId`]?.trim() || env.AZURE_CLIENT_ID?.trim() || undefined };
}

export interface QueueTriggersOptions {
  definitions: readonly FunctionDefinition[];
  /** Settings the connections are read from (`AuditStorage`, `AuditStorage__queueServiceUri`, …). */
  env: Readonly<Record<string, string | undefined>>;
  /** Parsed host.json; default: the app's host.json. */
  hostJson?: unknown;
  /** Replaces what host.json and the settings say (tests). */
  options?: Partial<QueueTriggerOptions>;
  /** Where function and trigger logs go; default: one JSON line each on stdout. */
  logHandler?: LogHandler;
}

export interface QueueTriggerStats {
  /** Receive calls made. */
  polls: number;
  /** Function invocations started. */
  invocations: number;
  /** Messages moved to the poison queue. */
  poisoned: number;
}

export interface QueueTriggers {
  readonly options: QueueTriggerOptions;
  /** The functions served and their queues. */
  readonly served: { name: string; queueName: string }[];
  stats(name: string): QueueTriggerStats;
  /** Function invocations running now, over every queue. */
  inFlight(): number;
  /** Stops polling, lets running functions finish within `shutdownGraceMs`, and returns. */
  close(): Promise<void>;
}

export async function startQueueTriggers(init: QueueTriggersOptions): Promise<QueueTriggers> {
  const hostJson = init.hostJson ?? JSON.parse(readFileSync(new URL('../host.json', import.meta.url), 'utf8'));
  const leaseSetting = init.env.LOCAL_QUEUE_LEASE_SECONDS?.trim() || settingsCatalog.find((setting) => setting.name === 'LOCAL_QUEUE_LEASE_SECONDS')?.default;
  const leaseSeconds = Number(leaseSetting);
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1) {
    throw new Error(`Setting LOCAL_QUEUE_LEASE_SECONDS must be a whole number of seconds of at least 1, got "${leaseSetting}".`);
  }
  const options = { ...queueTriggerOptions(hostJson, init.env, { leaseMs: leaseSeconds * 1_000 }), ...init.options };
  // Printed as the local host prints the HTTP functions' lines: one JSON object per line, or a short line in a terminal.
  const log = init.logHandler ?? consoleLogHandler();
  const credentials = new Map<string, ManagedIdentityCredential>();
  const credentialFor = (clientId: string | undefined) => {
    let credential = credentials.get(clientId ?? '');
    if (!credential) {
      credential = clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
      credentials.set(clientId ?? '', credential);
    }
    return credential;
  };

  const listeners: QueueListener[] = [];
  for (const definition of init.definitions) {
    if (definition.kind !== 'queue') continue;
    const storage = queueStorageFor(definition.options.connection, init.env);
    if (!storage) {
      log('error', `The queue function '${definition.name}' is not served: its connection '${definition.options.connection}' is not configured (a connection string, or ${definition.options.connection}__queueServiceUri).`);
      continue;
    }
    listeners.push(new QueueListener(definition, new Queues({ storage, credentialFor }), options, log));
  }
  for (const listener of listeners) listener.start();

  return {
    options,
    served: listeners.map((listener) => ({ name: listener.definition.name, queueName: listener.queueName })),
    stats: (name) => {
      const listener = listeners.find((candidate) => candidate.definition.name === name);
      if (!listener) throw new Error(`No queue function '${name}' is served.`);
      return { ...listener.stats };
    },
    inFlight: () => listeners.reduce((count, listener) => count + listener.inFlight, 0),
    close: async () => {
      await Promise.all(listeners.map((listener) => listener.close()));
    },
  };
}

const statusOf = (error: unknown) => (error as { statusCode?: number } | undefined)?.statusCode;
const codeOf = (error: unknown) => (error as { code?: string } | undefined)?.code;
/** The message or queue is gone, or another receiver owns the message now: nothing left to do. */
const lostOwnership = (error: unknown) => statusOf(error) === 404 || (statusOf(error) === 400 && codeOf(error) === 'PopReceiptMismatch');
const isBase64 = (text: string) => text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);

function tryJsonParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One function's queue: polling, invocations, leases, retries and the poison queue. */
class QueueListener {
  readonly queueName: string;
  readonly stats: QueueTriggerStats = { polls: 0, invocations: 0, poisoned: 0 };
  private readonly running = new Set<Promise<void>>();
  private readonly backoff: PollingBackoff;
  private readonly hasPoisonQueue: boolean;
  private stopped = false;
  private readonly whenStopped: Promise<void>;
  private stop!: () => void;
  private currentPoll: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private foundSinceLastDelay = false;
  private failing = false;

  constructor(
    readonly definition: QueueFunctionDefinition,
    private readonly queues: Queues,
    private readonly options: QueueTriggerOptions,
    private readonly log: LogHandler,
  ) {
    // The host lower-cases queue names; a queue that is itself a poison queue (or whose poison
    // queue name would be too long) has none.
    this.queueName = definition.options.queueName.toLowerCase();
    this.hasPoisonQueue = !this.queueName.endsWith('-poison') && poisonQueueName(this.queueName).length <= 63;
    this.backoff = new PollingBackoff(options.minPollingIntervalMs, options.maxPollingIntervalMs);
    this.whenStopped = new Promise((resolve) => (this.stop = resolve));
  }

  get inFlight(): number {
    return this.running.size;
  }

  start(): void {
    this.loop = this.poll().catch((error: unknown) => {
      this.log('error', `The queue function '${this.definition.name}' stopped polling '${this.queueName}': ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.stop();
    this.currentPoll?.abort();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.shutdownGraceMs))),
    ]);
    clearTimeout(timer);
  }

  private async poll(): Promise<void> {
    const queue = await this.queues.client(this.queueName);
    while (!this.stopped) {
      let messages: DequeuedMessageItem[];
      try {
        messages = await this.receive(queue);
        if (this.failing) this.log('information', `Queue '${this.queueName}' is reachable again.`);
        this.failing = false;
      } catch (error) {
        if (this.stopped) break;
        // A missing queue is an empty one (its first sender creates it); any other failure is
        // logged once per outage, and polling backs off as for an empty queue.
        if (codeOf(error) !== 'QueueNotFound' && !this.failing) {
          this.failing = true;
          this.log('warning', `Polling queue '${this.queueName}' failed; backing off: ${error instanceof Error ? error.message : String(error)}`);
        }
        messages = [];
      }
      if (messages.length === 0) {
        await this.sleep(this.backoff.next(this.foundSinceLastDelay));
        this.foundSinceLastDelay = false;
        continue;
      }
      this.foundSinceLastDelay = true;
      for (const message of messages) {
        const work = this.process(queue, message).catch((error: unknown) => {
          this.log('error', `Queue '${this.queueName}': message ${message.messageId} could not be completed: ${error instanceof Error ? error.message : String(error)}`);
        });
        this.running.add(work);
        void work.finally(() => this.running.delete(work));
      }
      while (this.running.size > this.options.newBatchThreshold && !this.stopped) {
        await Promise.race([...this.running, this.whenStopped]);
      }
    }
  }

  private async receive(queue: QueueClient): Promise<DequeuedMessageItem[]> {
    const poll = new AbortController();
    this.currentPoll = poll;
    const timer = setTimeout(() => poll.abort(), 30_000);
    try {
      this.stats.polls += 1;
      const response = await queue.receiveMessages({
        numberOfMessages: this.options.batchSize,
        visibilityTimeout: this.leaseSeconds,
        abortSignal: poll.signal,
      });
      return response.receivedMessageItems;
    } finally {
      clearTimeout(timer);
      this.currentPoll = undefined;
    }
  }

  private get leaseSeconds(): number {
    return Math.max(1, Math.round(this.options.leaseMs / 1_000));
  }

  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), this.whenStopped]);
    clearTimeout(timer);
  }

  private async process(queue: QueueClient, received: DequeuedMessageItem): Promise<void> {
    const message = { ...received };
    if (this.hasPoisonQueue && message.dequeueCount > this.options.maxDequeueCount) {
      await this.moveToPoison(queue, message);
      return;
    }
    let text = message.messageText;
    if (this.options.messageEncoding === 'base64') {
      if (!isBase64(text)) {
        this.log('warning', `Queue '${this.queueName}': message ${message.messageId} is not valid base64.`);
        if (this.hasPoisonQueue) await this.moveToPoison(queue, message);
        return;
      }
      text = Buffer.from(text, 'base64').toString('utf8');
    }

    const lease = this.keepInvisible(queue, message);
    const invocationId = randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: this.definition.name,
      logHandler: this.log,
      triggerMetadata: {
        queueTrigger: text,
        dequeueCount: message.dequeueCount,
        id: message.messageId,
        popReceipt: message.popReceipt,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
      },
      options: { trigger: { type: 'queueTrigger', name: 'queueItem', queueName: this.queueName, connection: this.definition.options.connection } },
    });
    this.stats.invocations += 1;
    const started = Date.now();
    let succeeded: boolean;
    try {
      await this.definition.options.handler(tryJsonParse(text), context);
      succeeded = true;
    } catch (error) {
      succeeded = false;
      context.error(`Executed '${this.definition.name}' (Failed, Id=${invocationId}, Duration=${Date.now() - started}ms)`, error instanceof Error ? error.stack : String(error));
    }
    await lease.stop();
    if (lease.lost) return; // another receiver holds the message now; it completes it
    if (succeeded) {
      await this.ignoringLostOwnership(queue.deleteMessage(message.messageId, message.popReceipt));
    } else if (!this.hasPoisonQueue) {
      // No poison queue: leave the message invisible until its lease ends rather than retry it in a tight loop.
    } else if (message.dequeueCount >= this.options.maxDequeueCount) {
      await this.moveToPoison(queue, message);
    } else {
      await this.ignoringLostOwnership(
        queue.updateMessage(message.messageId, message.popReceipt, undefined, Math.floor(this.options.visibilityTimeoutMs / 1_000)),
      );
    }
  }

  /**
   * Renews the message's invisibility at half its lease while the function runs (sooner after a
   * failed renewal), keeping the pop receipt current for the final delete or release.
   */
  private keepInvisible(queue: QueueClient, message: DequeuedMessageItem): { stop(): Promise<void>; readonly lost: boolean } {
    const normalMs = this.options.leaseMs / 2;
    const minimumMs = normalMs / 5;
    let delayMs = normalMs;
    let lost = false;
    let stopped = false;
    let renewing: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout;
    const schedule = () => {
      timer = setTimeout(() => {
        renewing = (async () => {
          try {
            const updated = await queue.updateMessage(message.messageId, message.popReceipt, undefined, this.leaseSeconds);
            message.popReceipt = updated.popReceipt!;
            message.nextVisibleOn = updated.nextVisibleOn!;
            delayMs = normalMs;
          } catch (error) {
            if (lostOwnership(error)) {
              lost = true;
              return;
            }
            delayMs = Math.max(delayMs / 2, minimumMs);
          }
          if (!stopped) schedule();
        })();
      }, delayMs);
    };
    schedule();
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await renewing;
      },
      get lost() {
        return lost;
      },
    };
  }

  private async moveToPoison(queue: QueueClient, message: DequeuedMessageItem): Promise<void> {
    const poisonName = poisonQueueName(this.queueName);
    this.log('warning', `Message has reached MaxDequeueCount of ${this.options.maxDequeueCount}. Moving message to queue '${poisonName}'.`);
    const poison = await this.queues.client(poisonName);
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    this.stats.poisoned += 1;
    await this.ignoringLostOwnership(queue.deleteMessage(message.messageId, message.popReceipt));
  }

  private async ignoringLostOwnership(operation: Promise<unknown>): Promise<void> {
    try {
      await operation;
    } catch (error) {
      if (!lostOwnership(error)) throw error;
    }
  }
}
