/**
 * Keeps a facade's audit table small while the benchmark runs. Azurite keeps tables in memory
 * (LokiJS) and finds an entity by scanning its partition, and the audit rows of one operation
 * share a partition: its cost per create grows with every row (about 5 ms for a create's three
 * writes on an empty table, 40 ms at 14,000 rows), where Table Storage's point operations do not.
 * Without trimming, a 100,000-create run would measure Azurite slowing down, not the facade.
 *
 * Only rows last written more than `keepMs` ago are deleted: every request's own rows are long
 * settled by then (the facade gives up on a table call after 5 s), and it never reads them again
 * (each create has an id of its own).
 */
import { TableClient, type TableTransaction } from '@azure/data-tables';

export interface TrimOptions {
  connectionString: string;
  tableName: string;
  keepMs?: number;
}

export async function trimTable({ connectionString, tableName, keepMs = 10_000 }: TrimOptions): Promise<number> {
  const client = TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
  const before = Date.now() - keepMs;
  const old = new Map<string, string[]>();
  for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { select: ['PartitionKey', 'RowKey', 'Timestamp'] } })) {
    const { partitionKey, rowKey, timestamp } = entity;
    if (partitionKey === undefined || rowKey === undefined || !(Date.parse(String(timestamp ?? '')) < before)) continue;
    const rows = old.get(partitionKey) ?? [];
    rows.push(rowKey);
    old.set(partitionKey, rows);
  }
  let deleted = 0;
  for (const [partitionKey, rowKeys] of old) {
    // A transaction deletes up to 100 entities of one partition in one round trip.
    for (let start = 0; start < rowKeys.length; start += 100) {
      const actions: TableTransaction['actions'] = rowKeys.slice(start, start + 100).map((rowKey) => ['delete', { partitionKey, rowKey }]);
      await client.submitTransaction(actions);
      deleted += actions.length;
    }
  }
  return deleted;
}

/** Trims the table every `everyMs` until stopped; resolves `stop` once the last trim is over. */
export function startJanitor(options: TrimOptions & { everyMs?: number }): { stop(): Promise<number> } {
  let deleted = 0;
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 2_000));
      if (stopped) break;
      deleted += await trimTable(options).catch((error: unknown) => {
        failure = error;
        return 0;
      });
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      if (failure) throw failure;
      return deleted;
    },
  };
}
