import type { TokenCredential } from '@azure/identity';
import type { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { QueueStorageSettings } from '../config';

/**
 * The storage account's queues: asynchronous work handed from one function to a queue-triggered
 * one (`registerQueue`), so any instance can pick it up and a recycled instance's message
 * reappears. One client per process, identity-based or by connection string like the table.
 *
 * Messages are JSON, base64-encoded: what the Functions queue trigger decodes by default
 * (host.json `extensions.queues.messageEncoding: base64`); the trigger hands the function the
 * parsed JSON.
 *
 * The queue SDK is loaded on first use, so an instance that only serves HTTP creates does not pay
 * for it at cold start.
 */

export interface QueuesOptions {
  storage: QueueStorageSettings | undefined;
  /** Builds the managed-identity credential for identity-based storage connections. */
  credentialFor: (clientId: string | undefined) => TokenCredential;
  /** Each queue call gives up after this long, so an outage fails fast instead of hanging. */
  timeoutMs?: number;
}

export interface SendOptions {
  /** Keep the message invisible this long before a function may receive it (default 0). */
  visibilityDelaySeconds?: number;
  /** How long the message lives unless received and deleted (storage default 7 days; -1 never expires). */
  timeToLiveSeconds?: number;
}

export interface SentMessage {
  messageId: string;
  insertedOn: Date;
  expiresOn: Date;
}

/**
 * The queue of asynchronous work (work accepted with 202 and finished by a queue-triggered
 * function). infra/app/storage.bicep declares it and its poison queue under this name.
 */
export const asyncWorkQueueName = 'async-work';

/** The queue service's limit on one message, as sent (after base64). */
export const maxQueueMessageBytes = 64 * 1024;

/** A poison queue's name: where the Functions host moves a message that failed `maxDequeueCount` times. */
export function poisonQueueName(queueName: string): string {
  return `${queueName}-poison`;
}

/** The queue message text of a JSON value, as the queue trigger expects it (base64 of UTF-8 JSON). */
export function encodeQueueMessage(message: unknown): string {
  const json = JSON.stringify(message);
  if (json === undefined) throw new TypeError('A queue message must be a JSON value.');
  return Buffer.from(json, 'utf8').toString('base64');
}

export class QueueMessageTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(
      `A queue message of ${bytes} bytes (base64) exceeds the ${maxQueueMessageBytes}-byte limit of Azure Storage queues: ` +
        'keep the work in Table Storage and send its key.',
    );
  }
}

export class Queues {
  private service: Promise<QueueServiceClient> | undefined;
  private readonly clients = new Map<string, QueueClient>();
  private readonly created = new Map<string, Promise<unknown>>();
  readonly timeoutMs: number;

  constructor(private readonly options: QueuesOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Whether a queue service is configured (`AuditStorage`, or `AuditStorage__queueServiceUri`). */
  get configured(): boolean {
    return this.options.storage !== undefined;
  }

  /** The client of one queue (cached); for receiving, peeking or deleting. */
  async client(queueName: string): Promise<QueueClient> {
    const { storage, credentialFor } = this.options;
    if (!storage) {
      throw new Error('No queue storage is configured (setting AuditStorage or AuditStorage__queueServiceUri).');
    }
    this.service ??= createServiceClient(storage, credentialFor);
    const service = await this.service;
    let client = this.clients.get(queueName);
    if (!client) {
      client = service.getQueueClient(queueName);
      this.clients.set(queueName, client);
    }
    return client;
  }

  /**
   * Sends `message` (any JSON value) to `queueName`, creating the queue on its first use in this
   * process. Throws `QueueMessageTooLarge` past the 64 KiB limit, and the storage error (or a
   * timeout) when the queue service cannot take it: the caller decides what the request answers.
   */
  async send(queueName: string, message: unknown, options: SendOptions = {}): Promise<SentMessage> {
    const text = encodeQueueMessage(message);
    if (text.length > maxQueueMessageBytes) throw new QueueMessageTooLarge(text.length);
    const client = await this.ready(queueName);
    const sent = await client.sendMessage(text, {
      ...(options.visibilityDelaySeconds !== undefined ? { visibilityTimeout: options.visibilityDelaySeconds } : {}),
      ...(options.timeToLiveSeconds !== undefined ? { messageTimeToLive: options.timeToLiveSeconds } : {}),
      abortSignal: AbortSignal.timeout(this.timeoutMs),
    });
    return { messageId: sent.messageId, insertedOn: sent.insertedOn, expiresOn: sent.expiresOn };
  }

  private async ready(queueName: string): Promise<QueueClient> {
    const client = await this.client(queueName);
    let created = this.created.get(queueName);
    if (!created) {
      created = client.createIfNotExists({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).catch((error: unknown) => {
        // Forget the failure so the next send tries again once storage is back.
        this.created.delete(queueName);
        throw error;
      });
      this.created.set(queueName, created);
    }
    await created;
    return client;
  }
}

async function createServiceClient(storage: QueueStorageSettings, credentialFor: QueuesOptions['credentialFor']): Promise<QueueServiceClient> {
  const { QueueServiceClient } = await import('@azure/storage-queue');
  // Few and short SDK retries, as for the table: a caller of the facade may be waiting.
  const retryOptions = { maxTries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 1_000 };
  if (storage.kind === 'connectionString') {
    return QueueServiceClient.fromConnectionString(storage.connectionString, { retryOptions });
  }
  return new QueueServiceClient(storage.queueServiceUri, credentialFor(storage.clientId), { retryOptions });
}
