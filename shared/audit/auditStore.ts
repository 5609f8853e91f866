import { TableClient, RestError, type TableEntityResult } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { AuditStorageSettings } from '../config';
import { serviceUnavailable } from '../errors';
import {
  auditKeyFor,
  cappedJson,
  entityIndexPartition,
  entityIndexRowKey,
  type AuditEntity,
  type AuditIntent,
  type AuditKey,
  type AuditOutcome,
} from './auditRecord';

export interface AuditStoreOptions {
  storage: AuditStorageSettings | undefined;
  tableName: string;
  /** Builds the managed-identity credential for identity-based storage connections. */
  credentialFor: (clientId: string | undefined) => TokenCredential;
  /** Each table call gives up after this long, so an outage answers 503 instead of hanging. */
  timeoutMs?: number;
}

interface EntityIndexRow {
  partitionKey: string;
  rowKey: string;
  auditPartitionKey: string;
  auditRowKey: string;
}

const unavailable = (cause: unknown) =>
  serviceUnavailable(
    'auditStoreUnavailable',
    'The audit store cannot be written, so nothing was sent to Microsoft Graph. Retry later.',
    10,
    cause,
  );

export class AuditStore {
  private readonly client: TableClient | undefined;
  private tableReady: Promise<void> | undefined;
  private readonly timeoutMs: number;

  constructor(options: AuditStoreOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.client = options.storage ? createTableClient(options.storage, options.tableName, options.credentialFor) : undefined;
  }

  /** Writes the `pending` record that must exist before Graph is called. Fails with a 503. */
  async recordIntent(intent: AuditIntent): Promise<AuditKey> {
    const key = auditKeyFor(intent);
    const body = cappedJson(intent.requestBody);
    const entity: AuditEntity = {
      ...key,
      operation: intent.operation,
      entityType: intent.entityType,
      entityId: intent.entityId,
      graphPath: intent.graphPath,
      graphVersion: intent.graphVersion,
      status: 'pending',
      requestId: intent.requestId,
      clientRequestId: intent.clientRequestId,
      callerId: intent.callerId,
      ...(intent.callerAppId ? { callerAppId: intent.callerAppId } : {}),
      ...(intent.callerName ? { callerName: intent.callerName } : {}),
      ...(intent.callerTenantId ? { callerTenantId: intent.callerTenantId } : {}),
      requestedAt: intent.requestedAt,
      requestBody: body.json,
      requestBodyTruncated: body.truncated,
    };
    try {
      const client = await this.ready();
      await client.createEntity(entity, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw unavailable(error);
    }
    return key;
  }

  /** Settles a record and, for a created entity, indexes it by its Graph path. */
  async recordOutcome(
    key: AuditKey,
    intent: Pick<AuditIntent, 'entityType' | 'requestedAt'>,
    outcome: AuditOutcome,
    entityPath?: string,
  ): Promise<void> {
    const body = cappedJson(outcome.responseBody);
    const client = await this.ready();
    const update: Partial<AuditEntity> & AuditKey = {
      ...key,
      status: outcome.status,
      httpStatus: outcome.httpStatus,
      ...(outcome.entityId ? { entityId: outcome.entityId } : {}),
      ...(outcome.graphRequestId ? { graphRequestId: outcome.graphRequestId } : {}),
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      ...(outcome.retries !== undefined ? { retries: outcome.retries } : {}),
      ...(outcome.recovery ? { recovery: outcome.recovery } : {}),
      completedAt: outcome.completedAt,
      durationMs: outcome.completedAt.getTime() - intent.requestedAt.getTime(),
      responseBody: body.json,
      responseBodyTruncated: body.truncated,
    };
    const signal = () => AbortSignal.timeout(this.timeoutMs);
    await client.updateEntity(update, 'Merge', { abortSignal: signal() });
    if ((outcome.status === 'succeeded' || outcome.status === 'orphaned') && entityPath) {
      const index: EntityIndexRow = {
        partitionKey: entityIndexPartition(intent.entityType),
        rowKey: entityIndexRowKey(entityPath),
        auditPartitionKey: key.partitionKey,
        auditRowKey: key.rowKey,
      };
      await client.upsertEntity(index, 'Replace', { abortSignal: signal() });
    }
  }

  async get(key: AuditKey): Promise<AuditEntity | undefined> {
    const client = await this.ready();
    try {
      return stripMetadata(await client.getEntity<AuditEntity>(key.partitionKey, key.rowKey));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** The record of the request that created the entity at this Graph path (`external/connections/c1`). */
  async findByEntity(entityType: string, entityPath: string): Promise<AuditEntity | undefined> {
    const client = await this.ready();
    try {
      const index = await client.getEntity<EntityIndexRow>(
        entityIndexPartition(entityType),
        entityIndexRowKey(entityPath),
      );
      return await this.get({ partitionKey: index.auditPartitionKey, rowKey: index.auditRowKey });
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** An operation's records requested in [from, to), oldest first: one partition range query. */
  async listByOperation(operation: string, from: Date, to: Date): Promise<AuditEntity[]> {
    const client = await this.ready();
    const records: AuditEntity[] = [];
    const filter = `PartitionKey eq '${operation.replace(/'/g, "''")}' and RowKey ge '${from.toISOString()}' and RowKey lt '${to.toISOString()}'`;
    for await (const entity of client.listEntities<AuditEntity>({ queryOptions: { filter } })) {
      records.push(stripMetadata(entity));
    }
    return records;
  }

  private async ready(): Promise<TableClient> {
    const client = this.client;
    if (!client) throw new Error('No audit storage is configured (setting AuditStorage or AuditStorage__tableServiceUri).');
    this.tableReady ??= client.createTable({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).catch((error: unknown) => {
      // Forget the failure so the next request tries again once storage is back.
      this.tableReady = undefined;
      throw error;
    });
    await this.tableReady;
    return client;
  }
}

function createTableClient(
  storage: AuditStorageSettings,
  tableName: string,
  credentialFor: (clientId: string | undefined) => TokenCredential,
): TableClient {
  const retryOptions = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 1_000 };
  if (storage.kind === 'connectionString') {
    const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:/i.test(storage.connectionString);
    return TableClient.fromConnectionString(storage.connectionString, tableName, {
      allowInsecureConnection: insecure,
      retryOptions,
    });
  }
  return new TableClient(storage.tableServiceUri, tableName, credentialFor(storage.clientId), { retryOptions });
}

function stripMetadata<T extends object>(entity: TableEntityResult<T>): T {
  const { etag: _etag, timestamp: _timestamp, ...rest } = entity as TableEntityResult<T> & { timestamp?: string };
  return rest as unknown as T;
}
