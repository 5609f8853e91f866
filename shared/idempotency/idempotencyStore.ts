import { createHash } from 'node:crypto';
import { odata, type TransactionAction } from '@azure/data-tables';
import type { Table } from '../storage/table';
import { isStatus, pagesWithin } from '../storage/table';

/**
 * Idempotency keys (draft-ietf-httpapi-idempotency-key-header) in Table Storage, so every
 * instance sees them: one row per operation, caller and key, in the operation's partition of the
 * audit table (so a request's answer and its key are settled in one transaction). A row moves
 * inFlight (leased to one request) → completed (its answer stored, replayed from then on) or open
 * (free for the next request with the key). It lists the audit records of every request that held
 * it (`attempts`), from the moment each claims it: a later request with the key knows which
 * earlier attempts to account for before it may create anything. Every write after the claim is
 * conditional on the row being the one claimed, so a request whose lease ran out cannot undo its
 * successor's.
 */

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  jsonBody: unknown;
}

interface KeyRow {
  partitionKey: string;
  rowKey: string;
  kind: 'idempotencyKey';
  state: 'inFlight' | 'completed' | 'open';
  fingerprint: string;
  /** When the first request with this key was made (kept across takeovers). */
  claimedAt: Date;
  leaseUntil: Date;
  expiresAt: Date;
  /** JSON array: the audit record row keys of the requests that held the key, oldest first. */
  attempts: string;
  answerChunks?: number;
  [chunk: `answer${number}`]: string;
}

export type Claim =
  | {
      kind: 'claimed';
      etag: string;
      /** Audit records (row keys) of earlier requests with this key, oldest first. */
      earlierAttempts: string[];
    }
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'mismatch' }
  | { kind: 'inFlight'; retryAfterSeconds: number }
  /**
   * The key already lists `maxAttempts` attempts: taking it once more would mean forgetting one,
   * and an attempt of unknown outcome is never forgotten while its key lives. Refused until the
   * key's retention ends.
   */
  | { kind: 'exhausted'; attempts: number; retryAfterSeconds: number };

export interface KeyScope {
  operation: string;
  callerId: string;
  key: string;
}

/**
 * Table Storage strings hold 32K UTF-16 characters and an entity 1 MiB, so the answer is split;
 * the chunks are Base64 of its UTF-8, plain ASCII, which every store (Azurite included) keeps intact.
 */
const chunkLength = 30_000;
const maxChunks = 15;
/**
 * Attempts a key lists (about 5,300 characters of the 32K a Table Storage string holds). A request
 * past it is refused; none is ever dropped to make room.
 */
export const maxAttempts = 100;

/**
 * An answer that tells the caller to come back later — a 5xx, 408, 429, or any error with a
 * `Retry-After` (`createOutcomeUnknown`, `idempotencyKeyInUse`) — is never a key's answer: the
 * same request is answered otherwise once what it waits for is settled. Such an answer frees the
 * key instead, whoever hands it to the store.
 */
export function saysRetryLater(answer: StoredAnswer): boolean {
  if (answer.status < 400) return false;
  const retryAfter = Object.keys(answer.headers).some((name) => name.toLowerCase() === 'retry-after');
  return answer.status >= 500 || answer.status === 408 || answer.status === 429 || retryAfter;
}

export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}

/** JSON with object keys sorted, so the same body always has the same fingerprint. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const keyRowPrefix = 'key_';
const rowOf = (scope: KeyScope) => `${keyRowPrefix}${createHash('sha256').update(`${scope.callerId}\n${scope.key}`).digest('hex')}`;

/** The answer as row properties; an answer too large for a row keeps its status and the created id. */
function answerProperties(answer: StoredAnswer): Record<string, string | number> {
  let encoded = Buffer.from(JSON.stringify(answer), 'utf8').toString('base64');
  if (encoded.length > chunkLength * maxChunks) {
    const id = (answer.jsonBody as { id?: unknown } | undefined)?.id;
    const trimmed = { ...answer, headers: { ...answer.headers, 'idempotent-replay-truncated': 'true' }, jsonBody: { id } };
    encoded = Buffer.from(JSON.stringify(trimmed), 'utf8').toString('base64');
  }
  const properties: Record<string, string | number> = { answerChunks: Math.ceil(encoded.length / chunkLength) };
  for (let index = 0; index * chunkLength < encoded.length; index += 1) {
    properties[`answer${index}`] = encoded.slice(index * chunkLength, (index + 1) * chunkLength);
  }
  return properties;
}

function answerOf(row: KeyRow): StoredAnswer | undefined {
  if (!row.answerChunks) return undefined;
  const encoded = Array.from({ length: row.answerChunks }, (_, index) => row[`answer${index}`] ?? '').join('');
  return JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as StoredAnswer;
}

function attemptsOf(row: KeyRow): string[] {
  try {
    const parsed: unknown = JSON.parse(row.attempts ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

export class IdempotencyStore {
  constructor(
    private readonly table: Table,
    private readonly retentionMs: number,
  ) {}

  /**
   * Claims the key for this request, whose audit record will be `recordRowKey`, or says why the
   * request must not run.
   */
  async claim(scope: KeyScope, fingerprint: string, leaseMs: number, now: Date, recordRowKey: string): Promise<Claim> {
    const client = await this.table.ready();
    const fresh = {
      partitionKey: scope.operation,
      rowKey: rowOf(scope),
      kind: 'idempotencyKey' as const,
      state: 'inFlight' as const,
      fingerprint,
      claimedAt: now,
      leaseUntil: new Date(now.getTime() + leaseMs),
      expiresAt: new Date(now.getTime() + this.retentionMs),
      attempts: JSON.stringify([recordRowKey]),
    };
    // A row can vanish between our failed insert and our read (its retention ended): try again.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const created = await client.createEntity(fresh, { abortSignal: this.table.signal() });
        return { kind: 'claimed', etag: created.etag ?? '*', earlierAttempts: [] };
      } catch (error) {
        if (!isStatus(error, 409)) throw error;
      }
      let existing: KeyRow & { etag: string };
      try {
        existing = await client.getEntity<KeyRow>(fresh.partitionKey, fresh.rowKey, { abortSignal: this.table.signal() });
      } catch (error) {
        if (isStatus(error, 404)) continue;
        throw error;
      }
      const expired = new Date(existing.expiresAt).getTime() <= now.getTime();
      if (!expired && existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
      const answer = expired ? undefined : answerOf(existing);
      // A retry-later answer stored before the store refused them is not replayed: the key is free.
      if (existing.state === 'completed' && answer && !saysRetryLater(answer)) return { kind: 'replay', answer };
      const leaseLeft = new Date(existing.leaseUntil).getTime() - now.getTime();
      if (!expired && existing.state === 'inFlight' && leaseLeft > 0) {
        return { kind: 'inFlight', retryAfterSeconds: Math.max(1, Math.min(30, Math.ceil(leaseLeft / 1000))) };
      }
      // Expired: a new key. Free, or abandoned by a request that died with its lease: taken over,
      // and its attempts are this request's earlier attempts.
      const earlierAttempts = expired ? [] : attemptsOf(existing);
      if (earlierAttempts.length >= maxAttempts) {
        const keyLeftMs = new Date(existing.expiresAt).getTime() - now.getTime();
        return { kind: 'exhausted', attempts: earlierAttempts.length, retryAfterSeconds: Math.max(1, Math.ceil(keyLeftMs / 1000)) };
      }
      const takeover = {
        ...fresh,
        ...(expired ? {} : { claimedAt: new Date(existing.claimedAt), expiresAt: new Date(existing.expiresAt) }),
        attempts: JSON.stringify([...earlierAttempts, recordRowKey]),
      };
      try {
        const taken = await client.updateEntity(takeover, 'Replace', { etag: existing.etag, abortSignal: this.table.signal() });
        return { kind: 'claimed', etag: taken.etag ?? '*', earlierAttempts };
      } catch (error) {
        if (isStatus(error, 412)) return { kind: 'inFlight', retryAfterSeconds: 1 };
        throw error;
      }
    }
    return { kind: 'inFlight', retryAfterSeconds: 1 };
  }

  /** The write that stores the answer to replay (or frees the key, for a retry-later answer), for the request's settlement transaction. */
  completion(scope: KeyScope, etag: string, answer: StoredAnswer): TransactionAction {
    if (saysRetryLater(answer)) return this.releasing(scope, etag);
    return ['update', { partitionKey: scope.operation, rowKey: rowOf(scope), state: 'completed', ...answerProperties(answer) }, 'Merge', { etag }];
  }

  /** The write that frees the key (keeping its attempts), for the request's settlement transaction. */
  releasing(scope: KeyScope, etag: string): TransactionAction {
    return ['update', { partitionKey: scope.operation, rowKey: rowOf(scope), state: 'open', leaseUntil: new Date(0) }, 'Merge', { etag }];
  }

  /**
   * Stores the answer to replay (a retry-later answer frees the key instead). False when the claim
   * was lost (the lease ran out and another request took the key).
   */
  async complete(scope: KeyScope, etag: string, answer: StoredAnswer): Promise<boolean> {
    if (saysRetryLater(answer)) return this.release(scope, etag);
    return this.settle(scope, etag, { state: 'completed', ...answerProperties(answer) });
  }

  /**
   * Frees the key for the next request with it, keeping what it knows of this and earlier
   * attempts: a retry must account for them before it creates anything.
   */
  async release(scope: KeyScope, etag: string): Promise<boolean> {
    return this.settle(scope, etag, { state: 'open', leaseUntil: new Date(0) });
  }

  /**
   * Deletes keys of an operation whose retention has ended (Table Storage has no expiry of its
   * own); at most `limit` per call. Returns how many were deleted.
   */
  async purgeExpired(operation: string, now: Date, limit: number): Promise<number> {
    const client = await this.table.ready();
    const filter = odata`PartitionKey eq ${operation} and RowKey ge ${keyRowPrefix} and RowKey lt ${'key`'} and expiresAt lt ${now}`;
    let deleted = 0;
    const pages = client.listEntities<KeyRow>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } }).byPage({ maxPageSize: limit });
    // Each page within a table call's time, as every listing: one that hangs must not hold reconciliation's run for good.
    for await (const page of pagesWithin(pages, this.table.timeoutMs)) {
      for (const row of page) {
        if (deleted >= limit) return deleted;
        try {
          await client.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag, abortSignal: this.table.signal() });
          deleted += 1;
        } catch (error) {
          // Taken over or deleted by someone else meanwhile: nothing to do.
          if (!isStatus(error, 404) && !isStatus(error, 412)) throw error;
        }
      }
      if (deleted >= limit) break;
    }
    return deleted;
  }

  private async settle(scope: KeyScope, etag: string, change: Record<string, unknown>): Promise<boolean> {
    const client = await this.table.ready();
    try {
      await client.updateEntity({ partitionKey: scope.operation, rowKey: rowOf(scope), ...change }, 'Merge', {
        etag,
        abortSignal: this.table.signal(),
      });
      return true;
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 412)) return false;
      throw error;
    }
  }
}
