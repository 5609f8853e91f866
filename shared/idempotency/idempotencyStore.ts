import { createHash } from 'node:crypto';
import type { Table } from '../storage/table';
import { isStatus } from '../storage/table';

/**
 * Idempotency keys (draft-ietf-httpapi-idempotency-key-header) in Table Storage, so every
 * instance sees them. One row per operation, caller and key; its state moves
 * inFlight → completed (answer stored) | unknown (Graph's answer was lost) | removed (a transient
 * failure: the same request may simply run again).
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
  claimedAt: Date;
  leaseUntil: Date;
  expiresAt: Date;
  answer?: string;
}

export type Claim =
  | { kind: 'claimed'; etag: string; priorOutcomeUnknown: boolean; priorClaimedAt?: Date }
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'mismatch' }
  | { kind: 'inFlight'; retryAfterSeconds: number };

export interface KeyScope {
  operation: string;
  callerId: string;
  key: string;
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

const partitionOf = (scope: KeyScope) => `idempotency_${scope.operation}`;
const rowOf = (scope: KeyScope) =>
  createHash('sha256').update(`${scope.callerId}\n${scope.key}`).digest('hex');

export class IdempotencyStore {
  constructor(
    private readonly table: Table,
    private readonly retentionMs: number,
  ) {}

  /** Claims the key for this request, or says why the request must not run. */
  async claim(scope: KeyScope, fingerprint: string, leaseMs: number, now = new Date()): Promise<Claim> {
    const client = await this.table.ready();
    const fresh: KeyRow = {
      partitionKey: partitionOf(scope),
      rowKey: rowOf(scope),
      state: 'inFlight',
      fingerprint,
      claimedAt: now,
      leaseUntil: new Date(now.getTime() + leaseMs),
      expiresAt: new Date(now.getTime() + this.retentionMs),
    };
    try {
      const created = await client.createEntity(fresh, { abortSignal: this.table.signal() });
      return { kind: 'claimed', etag: created.etag ?? '*', priorOutcomeUnknown: false };
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
    const existing = await client.getEntity<KeyRow>(fresh.partitionKey, fresh.rowKey, { abortSignal: this.table.signal() });
    const expired = new Date(existing.expiresAt).getTime() <= now.getTime();
    if (!expired && existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (!expired && existing.state === 'completed' && existing.answer) {
      return { kind: 'replay', answer: JSON.parse(existing.answer) as StoredAnswer };
    }
    const leaseLeft = new Date(existing.leaseUntil).getTime() - now.getTime();
    if (!expired && existing.state === 'inFlight' && leaseLeft > 0) {
      return { kind: 'inFlight', retryAfterSeconds: Math.max(1, Math.min(30, Math.ceil(leaseLeft / 1000))) };
    }
    // Expired, an abandoned lease, or a lost answer: take the key over, unless another instance just did.
    try {
      const taken = await client.updateEntity(fresh, 'Replace', { etag: existing.etag, abortSignal: this.table.signal() });
      const priorOutcomeUnknown = !expired && existing.state !== 'completed';
      return {
        kind: 'claimed',
        etag: taken.etag ?? '*',
        priorOutcomeUnknown,
        ...(priorOutcomeUnknown ? { priorClaimedAt: new Date(existing.claimedAt) } : {}),
      };
    } catch (error) {
      if (isStatus(error, 412)) return { kind: 'inFlight', retryAfterSeconds: 1 };
      throw error;
    }
  }

  async complete(scope: KeyScope, answer: StoredAnswer): Promise<void> {
    await this.settle(scope, { state: 'completed', answer: JSON.stringify(answer) });
  }

  async markUnknown(scope: KeyScope): Promise<void> {
    await this.settle(scope, { state: 'unknown', leaseUntil: new Date(0) });
  }

  async release(scope: KeyScope): Promise<void> {
    const client = await this.table.ready();
    await client.deleteEntity(partitionOf(scope), rowOf(scope), { abortSignal: this.table.signal() }).catch((error: unknown) => {
      if (!isStatus(error, 404)) throw error;
    });
  }

  /**
   * Deletes keys of an operation whose retention has ended (Table Storage has no expiry of its
   * own); at most `limit` per call. Returns how many were deleted.
   */
  async purgeExpired(operation: string, now: Date, limit: number): Promise<number> {
    const client = await this.table.ready();
    const filter = `PartitionKey eq 'idempotency_${operation.replace(/'/g, "''")}' and expiresAt lt datetime'${now.toISOString()}'`;
    let deleted = 0;
    for await (const row of client.listEntities<KeyRow>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } })) {
      if (deleted >= limit) break;
      await client.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag, abortSignal: this.table.signal() }).then(
        () => (deleted += 1),
        (error: unknown) => {
          // Taken over or deleted by someone else meanwhile: nothing to do.
          if (!isStatus(error, 404) && !isStatus(error, 412)) throw error;
        },
      );
    }
    return deleted;
  }

  private async settle(scope: KeyScope, change: Partial<KeyRow>): Promise<void> {
    const client = await this.table.ready();
    await client.updateEntity({ partitionKey: partitionOf(scope), rowKey: rowOf(scope), ...change }, 'Merge', {
      abortSignal: this.table.signal(),
    });
  }
}
