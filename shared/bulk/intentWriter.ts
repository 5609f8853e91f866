import type { TransactionAction } from '@azure/data-tables';
import type { AuditIntent, AuditKey } from '../audit/auditRecord';
import { auditStoreUnavailable, type AuditStore, type StoredAuditRecord } from '../audit/auditStore';
import { reasonOf } from '../recovery/conflict';
import { itemRowKey } from './bulkRecord';
import { instanceLatency } from './estimate';
import { maxTransactionActions, parallelTransactions } from './transactionWriter';

/** An item whose intent is to be written: its place in the request, its record's key and intent. */
export interface IntentItem {
  index: number;
  key: AuditKey;
  intent: AuditIntent;
}

export interface IntentWriterOptions<Item extends IntentItem> {
  audit: Pick<AuditStore, 'submit' | 'intentActions' | 'getRow' | 'rowsBetween'>;
  /** The bulk request's record and request id: intents that landed are recognised as its own. */
  bulkKey: AuditKey;
  requestId: string;
  /** Written with the first intents, in the same transaction (the bulk request's own record). */
  leadActions: TransactionAction[];
  /** These items' intents landed (by their answer or read back): their etags by row key. */
  onWritten: (chunk: Item[], etags: Map<string, string>) => void;
  /** These items' intents could not be confirmed: nothing of them may be sent (they may have landed all the same). */
  onRefused: (chunk: Item[], failure: unknown) => void;
  log: (level: 'error', event: string, fields: Record<string, unknown>) => void;
}

const retryDelaysMs = [0, 200, 800];

/**
 * Writes the `pending` intents of a bulk request's items, in request order, 50 items (100 actions)
 * to an entity group transaction: the lead actions (the bulk request's own record) first and alone
 * in flight, then a couple of transactions at a time. A transaction that fails is read back before
 * it is written again, as `AuditStore.recordIntent` does for one intent: its answer may have been
 * lost after it landed (a second write of it then gets 409), and what landed as this request's
 * `pending` records is its intents. A lead transaction that cannot be confirmed fails the request
 * (503); any other leaves its items unsent, and after it nothing more is written.
 */
export class IntentWriter<Item extends IntentItem> {
  private failure: unknown;
  private readonly chunks: Item[][] = [];

  constructor(
    private readonly options: IntentWriterOptions<Item>,
    items: readonly Item[],
  ) {
    const lead = options.leadActions.length;
    for (let start = 0, room = Math.floor((maxTransactionActions - lead) / 2); start < items.length; start += room, room = maxTransactionActions / 2) {
      this.chunks.push(items.slice(start, start + room));
    }
  }

  /** Resolves when every chunk is written or refused; rejects (503) only when the lead chunk is refused. */
  async writeAll(): Promise<void> {
    const [first, ...rest] = this.chunks;
    if (first || this.options.leadActions.length > 0) await this.writeChunk(first ?? [], this.options.leadActions);
    let next = 0;
    await Promise.all(
      Array.from({ length: parallelTransactions }, async () => {
        while (next < rest.length) await this.writeChunk(rest[next++]!, []);
      }),
    );
  }

  private async writeChunk(chunk: Item[], leading: TransactionAction[]): Promise<void> {
    const { audit, onWritten, onRefused } = this.options;
    if (this.failure === undefined) {
      const actions = [...leading, ...chunk.flatMap((item) => audit.intentActions(item.intent, item.key))];
      let failure: unknown;
      for (const delay of retryDelaysMs) {
        if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
        const began = Date.now();
        try {
          const etags = await audit.submit(actions);
          instanceLatency.observeTransaction(Date.now() - began);
          onWritten(chunk, etags);
          return;
        } catch (error) {
          failure = error;
          const landed = await this.landed(chunk, leading.length > 0).catch(() => undefined);
          if (landed) {
            onWritten(chunk, landed);
            return;
          }
        }
      }
      this.failure = failure;
      if (leading.length > 0) throw auditStoreUnavailable(failure);
      this.options.log('error', 'intents of a bulk request could not be written; their items were not sent', { reason: reasonOf(failure) });
    }
    onRefused(chunk, this.failure);
  }

  /** The etags of a chunk's intents when its transaction landed (this request's records, all `pending`); else undefined. */
  private async landed(chunk: Item[], withBulkRecord: boolean): Promise<Map<string, string> | undefined> {
    const { audit, bulkKey, requestId } = this.options;
    if (withBulkRecord) {
      const bulk = await audit.getRow<{ requestId?: string }>(bulkKey);
      if (bulk?.requestId !== requestId) return undefined;
    }
    const [first, last] = [chunk[0], chunk.at(-1)];
    if (!first || !last) return withBulkRecord ? new Map() : undefined;
    const low = first.index === 0 ? bulkKey.rowKey : itemRowKey(bulkKey.rowKey, first.index - 1);
    const rows = await audit.rowsBetween<StoredAuditRecord>(bulkKey.partitionKey, low, itemRowKey(bulkKey.rowKey, last.index + 1));
    const mine = new Map(rows.filter((row) => row.kind === 'record' && row.status === 'pending' && row.requestId === requestId).map((row) => [row.rowKey, row.etag]));
    return chunk.every((item) => mine.has(item.key.rowKey)) ? mine : undefined;
  }
}
