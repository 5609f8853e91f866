import { createHash } from 'node:crypto';
import type { AuditKey } from '../audit/auditRecord';
import type { Table } from '../storage/table';
import { isStatus } from '../storage/table';

/**
 * Idempotency keys (draft-ietf-httpapi-idempotency-key-header) in Table Storage, so every
 * instance sees them. One row per operation, caller and key; its state moves
 * inFlight → completed (answer stored) | unknown (Graph's answer was lost) | removed (a transient
 * failure: the same request may simply run again). Every write after the claim is conditional on
 * the row being the one claimed, so a request whose lease ran out cannot undo its successor's.
 */

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  jsonBody: unknown;
}

interface KeyRow {
  partitionKey: string;
  rowKey: string;
  state: 'inFlight' | 'completed' | 'unknown';
  fingerprint: string;
  /** When the first request with this key was made (kept across takeovers). */
  claimedAt: Date;
  leaseUntil: Date;
  expiresAt: Date;
  answerChunks?: number;
  /** The audit record of the attempt whose answer was lost. */
  auditPartitionKey?: string;
  auditRowKey?: string;
  [chunk: `answer${number}`]: string;
}

export type Claim =
  | { kind: 'claimed'; etag: string; priorOutcomeUnknown: boolean; priorAuditKey?: AuditKey }
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'mismatch' }
  | { kind: 'inFlight'; retryAfterSeconds: number };

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

const partitionOf = (scope: KeyScope | string) => `idempotency_${typeof scope === 'string' ? scope : scope.operation}`;
const rowOf = (scope: KeyScope) => createHash('sha256').update(`${scope.callerId}\n${scope.key}`).digest('hex');

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

export class IdempotencyStore {
  constructor(
    private readonly table: Table,
    private readonly retentionMs: number,
  ) {}

  /** Claims the key for this request, or says why the request must not run. */
  async claim(scope: KeyScope, fingerprint: string, leaseMs: number, now = new Date()): Promise<Claim> {
    const client = await this.table.ready();
    const fresh = {
      partitionKey: partitionOf(scope),
      rowKey: rowOf(scope),
      state: 'inFlight' as const,
      fingerprint,
      claimedAt: now,
      leaseUntil: new Date(now.getTime() + leaseMs),
      expiresAt: new Date(now.getTime() + this.retentionMs),
    };
    // A row can vanish between our failed insert and our read (its request released it): try again.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const created = await client.createEntity(fresh, { abortSignal: this.table.signal() });
        return { kind: 'claimed', etag: created.etag ?? '*', priorOutcomeUnknown: false };
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
      if (existing.state === 'completed' && answer) return { kind: 'replay', answer };
      const leaseLeft = new Date(existing.leaseUntil).getTime() - now.getTime();
      if (!expired && existing.state === 'inFlight' && leaseLeft > 0) {
        return { kind: 'inFlight', retryAfterSeconds: Math.max(1, Math.min(30, Math.ceil(leaseLeft / 1000))) };
      }
      // Expired, abandoned (its request died with the lease) or a lost answer: take the key over.
      // An abandoned or lost attempt may have created the entity; the retry must look first.
      const priorOutcomeUnknown = !expired;
      const priorAuditKey =
        priorOutcomeUnknown && existing.auditPartitionKey && existing.auditRowKey
          ? { partitionKey: existing.auditPartitionKey, rowKey: existing.auditRowKey }
          : undefined;
      const takeover = {
        ...fresh,
        ...(priorOutcomeUnknown ? { claimedAt: new Date(existing.claimedAt) } : {}),
        ...(priorAuditKey ? { auditPartitionKey: priorAuditKey.partitionKey, auditRowKey: priorAuditKey.rowKey } : {}),
      };
      try {
        const taken = await client.updateEntity(takeover, 'Replace', { etag: existing.etag, abortSignal: this.table.signal() });
        return { kind: 'claimed', etag: taken.etag ?? '*', priorOutcomeUnknown, ...(priorAuditKey ? { priorAuditKey } : {}) };
      } catch (error) {
        if (isStatus(error, 412)) return { kind: 'inFlight', retryAfterSeconds: 1 };
        throw error;
      }
    }
    return { kind: 'inFlight', retryAfterSeconds: 1 };
  }

  /** Stores the answer to replay. False when the claim was lost (the lease ran out and another request took the key). */
  async complete(scope: KeyScope, etag: string, answer: StoredAnswer): Promise<boolean> {
    return this.settle(scope, etag, { state: 'completed', ...answerProperties(answer) });
  }

  /** Keeps the key, marked: the attempt's answer was lost, and a retry must look before it creates. */
  async markUnknown(scope: KeyScope, etag: string, auditKey: AuditKey | undefined): Promise<boolean> {
    return this.settle(scope, etag, {
      state: 'unknown',
      leaseUntil: new Date(0),
      ...(auditKey ? { auditPartitionKey: auditKey.partitionKey, auditRowKey: auditKey.rowKey } : {}),
    });
  }

  /** Frees the key, so the same request may run again. */
  async release(scope: KeyScope, etag: string): Promise<boolean> {
    const client = await this.table.ready();
    try {
      await client.deleteEntity(partitionOf(scope), rowOf(scope), { etag, abortSignal: this.table.signal() });
      return true;
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 412)) return false;
      throw error;
    }
  }

  /**
   * Deletes keys of an operation whose retention has ended (Table Storage has no expiry of its
   * own); at most `limit` per call. Returns how many were deleted.
   */
  async purgeExpired(operation: string, now: Date, limit: number): Promise<number> {
    const client = await this.table.ready();
    const filter = `PartitionKey eq '${partitionOf(operation).replace(/'/g, "''")}' and expiresAt lt datetime'${now.toISOString()}'`;
    let deleted = 0;
    const pages = client.listEntities<KeyRow>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } }).byPage({ maxPageSize: limit });
    for await (const page of pages) {
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
      await client.updateEntity({ partitionKey: partitionOf(scope), rowKey: rowOf(scope), ...change }, 'Merge', {
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
