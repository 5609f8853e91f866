import { randomUUID } from 'node:crypto';
import { RestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import type { AuditIntent } from '../../shared/audit/auditRecord';
import { AuditStore } from '../../shared/audit/auditStore';
import { FacadeError } from '../../shared/errors';
import { Table } from '../../shared/storage/table';

/**
 * The intent write, against Azurite with a pipeline policy standing in for what goes wrong on the
 * way: its answer lost after the transaction was carried out, a refusal the store gives once, and
 * a store that cannot be reached.
 */

let azurite: RunningAzurite;

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

type Fault = 'none' | 'answerLost' | 'refusedOnce' | 'unreachable';

/** An audit store whose transactions (`$batch`) meet `fault`; counts the transactions sent. */
function storeWith(fault: Fault): { audit: AuditStore; batches: () => number } {
  let batches = 0;
  const policy: PipelinePolicy = {
    name: 'intentFault',
    async sendRequest(request, next) {
      if (!request.url.includes('$batch')) return next(request);
      batches += 1;
      if (fault === 'unreachable') throw new RestError('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' });
      if (fault === 'refusedOnce' && batches === 1) throw new RestError('The store refused the request.', { statusCode: 400 });
      const response = await next(request);
      if (fault === 'answerLost' && batches === 1) throw new Error('the answer to the transaction could not be read');
      return response;
    },
  };
  const table = new Table({
    storage: { kind: 'connectionString', connectionString: azurite.connectionString },
    tableName: `Intents${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    credentialFor: () => {
      throw new Error('connection-string storage needs no credential');
    },
    // Per retry: every try the SDK makes meets the fault and is counted.
    policies: [{ position: 'perRetry', policy }],
  });
  return { audit: new AuditStore(table, 86_400_000), batches: () => batches };
}

function intent(): AuditIntent {
  const requestedAt = new Date();
  const requestId = randomUUID();
  return {
    operation: 'createExternalConnection',
    entityType: 'externalConnection',
    entityId: 'contosohr',
    graphPath: '/v1.0/external/connections',
    graphVersion: 'v1.0',
    requestId,
    clientRequestId: requestId,
    callerId: 'caller',
    requestedAt,
    deadlineAt: requestedAt,
    requestBody: { id: 'contosohr', name: 'Contoso HR' },
    entityKey: 'external/connections/contosohr',
    askKey: `ask-${requestId}`,
  };
}

describe('the intent write', () => {
  it('whose answer was lost after it landed: the record read back is this request\'s intent, written once', async () => {
    const { audit, batches } = storeWith('answerLost');
    const asked = intent();
    const { key, etag } = await audit.recordIntent(asked);
    expect(batches()).toBe(1);
    const stored = await audit.get(key);
    expect(stored).toMatchObject({ status: 'pending', requestId: asked.requestId, etag });
    expect(await audit.openAttempts('createExternalConnection', asked.entityKey)).toHaveLength(1);
  });

  it('refused once by a store that answered: written on the second try', async () => {
    const { audit, batches } = storeWith('refusedOnce');
    const asked = intent();
    const { key } = await audit.recordIntent(asked);
    expect(batches()).toBe(2);
    expect(await audit.get(key)).toMatchObject({ status: 'pending', requestId: asked.requestId });
  });

  it('to a store that cannot be reached: a 503 with a retry hint at once, not a second try', async () => {
    const { audit, batches } = storeWith('unreachable');
    const failure = await audit.recordIntent(intent()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FacadeError);
    expect(failure).toMatchObject({ status: 503, code: 'auditStoreUnavailable' });
    // The SDK's own retries of a connection that failed (two) and no more.
    expect(batches()).toBe(3);
  });
});

describe('a settlement that names an earlier record the maker', () => {
  it('writes it succeeded even when reconciliation recorded it orphaned since it was read (its id reaches a caller now)', async () => {
    const { audit } = storeWith('none');
    const maker = intent();
    const made = await audit.recordIntent(maker);
    const asRead = await audit.get(made.key);
    expect(asRead?.status).toBe('pending');
    const entityId = '0b5dc6f3-d8ce-490b-bd7e-d43fe5b18044';
    const at = new Date();
    const outcome = (status: 'orphaned' | 'succeeded', reason: string) => ({ status, entityId, reason, httpStatus: 201, completedAt: at, responseBody: null });
    // Reconciliation gets there first: the id never reached a caller, as far as it can tell.
    await audit.settle({ partitionKey: made.key.partitionKey, changes: [{ record: asRead!, etag: asRead!.etag, outcome: { ...outcome('orphaned', 'reconciliation found it'), recovery: 'reconciliation' as const } }] }, at);

    // A keyed retry that read the record before that answers its caller with the entity, and settles the record with what it read.
    const retry = intent();
    const own = await audit.recordIntent(retry);
    const ownRecord = await audit.get(own.key);
    const settled = await audit.settle(
      {
        partitionKey: own.key.partitionKey,
        changes: [
          { record: ownRecord!, etag: own.etag, outcome: { ...outcome('succeeded', 'answered with the entity an earlier request made'), recovery: 'earlierAttempt' as const, madeBy: made.key.rowKey } },
          { record: asRead!, etag: asRead!.etag, outcome: { ...outcome('succeeded', 'a later request found the entity it made'), recovery: 'laterRequest' as const } },
        ],
      },
      at,
    );
    expect(settled).toMatchObject({ own: true, others: true });
    expect(await audit.get(made.key)).toMatchObject({ status: 'succeeded', recovery: 'laterRequest', entityId });
  });
});
