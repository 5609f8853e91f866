import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';

/** A pipeline policy added to every table call. */
export type TablePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number];
import type { TokenCredential } from '@azure/identity';
import type { AuditStorageSettings } from '../config';

export interface TableOptions {
  storage: AuditStorageSettings | undefined;
  tableName: string;
  /** Builds the managed-identity credential for identity-based storage connections. */
  credentialFor: (clientId: string | undefined) => TokenCredential;
  /** Each table call gives up after this long, so an outage answers 503 instead of hanging. */
  timeoutMs?: number;
  /** Extra pipeline policies on every table call (fault injection, round-trip counting). */
  policies?: TablePolicy[];
}

/**
 * The facade's one table (audit records, their entity index and idempotency keys): one client per
 * process, the table created on first use. SDK retries are few and short, since every caller of
 * the facade waits on them.
 */
export class Table {
  private readonly client: TableClient | undefined;
  private created: Promise<void> | undefined;
  readonly timeoutMs: number;

  constructor(options: TableOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.client = options.storage ? createTableClient(options) : undefined;
  }

  signal(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }

  async ready(): Promise<TableClient> {
    const client = this.client;
    if (!client) {
      throw new Error('No audit storage is configured (setting AuditStorage or AuditStorage__tableServiceUri).');
    }
    this.created ??= client.createTable({ abortSignal: this.signal() }).catch((error: unknown) => {
      // Forget the failure so the next request tries again once storage is back.
      this.created = undefined;
      throw error;
    });
    await this.created;
    return client;
  }
}

function createTableClient({ storage, tableName, credentialFor, policies }: TableOptions): TableClient {
  const retryOptions = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 1_000 };
  const additionalPolicies = policies ?? [];
  if (storage?.kind === 'connectionString') {
    const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:/i.test(storage.connectionString);
    return TableClient.fromConnectionString(storage.connectionString, tableName, {
      allowInsecureConnection: insecure,
      retryOptions,
      additionalPolicies,
    });
  }
  if (!storage) throw new Error('no storage');
  return new TableClient(storage.tableServiceUri, tableName, credentialFor(storage.clientId), { retryOptions, additionalPolicies });
}

export function isStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as { statusCode?: unknown }).statusCode === status;
}

/** Each page of a listing must arrive within the time a single table call gets. */
export async function* pagesWithin<T>(pages: AsyncIterableIterator<T>, timeoutMs: number): AsyncGenerator<T> {
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const next = pages.next();
    // A page that arrives (or fails) after the time is up is nobody's business any more.
    next.catch(() => undefined);
    const result = await Promise.race([
      next,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the table did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (result.done) return;
    yield result.value;
  }
}
