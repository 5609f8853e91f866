import type { StoredAuditRecord } from '../audit/auditStore';
import { FacadeError } from '../errors';
import { naturalKeyOf } from '../operations/operation';
import { isOpen, type Attribution, type OwnAttempt, type RecoveryDependencies } from './attribution';
import { entityAnsweredTo, reasonOf } from './conflict';
import { findMadeEntity } from './naturalKey';

/**
 * A request that takes over an Idempotency-Key from earlier requests accounts for their attempts
 * before it may send anything:
 * - one of them is known to have made the entity (its answer was not stored): answer with it;
 * - some are still open, for an id the caller chose: sending is safe (Graph refuses a second
 *   entity with the id, and its 409 is then recognised as this ask's);
 * - some are still open, for an id Graph chooses: find the entity they made by its natural key
 *   and answer with it; when none can be found or told apart, answer 409 `createOutcomeUnknown`
 *   and send nothing, now or later, until reconciliation has settled them.
 */
export type EarlierVerdict = { kind: 'send' } | { kind: 'answered'; attribution: Attribution };

const outcomeUnknown = (reason: string, retryAfterSeconds: number) =>
  new FacadeError(
    409,
    'createOutcomeUnknown',
    `An earlier request with this Idempotency-Key may have created the entity, and what it made cannot be told now (${reason}). Nothing was sent again; retry after the earlier attempt is settled (see its audit record).`,
    { retryAfterSeconds },
  );

export async function accountForEarlierAttempts(deps: RecoveryDependencies, own: OwnAttempt, earlierRowKeys: readonly string[]): Promise<EarlierVerdict> {
  if (earlierRowKeys.length === 0) return { kind: 'send' };
  const { operation } = own;
  let records: StoredAuditRecord[];
  try {
    records = (await Promise.all(earlierRowKeys.map((rowKey) => deps.audit.get({ partitionKey: operation.name, rowKey })))).filter(
      (record): record is StoredAuditRecord => record !== undefined,
    );
  } catch (error) {
    throw new FacadeError(503, 'auditStoreUnavailable', 'The earlier attempts of this request cannot be read, so nothing was sent to Microsoft Graph. Retry later.', {
      retryAfterSeconds: 10,
      cause: error,
    });
  }
  return judgeEarlierAttempts(deps, own, records);
}

/** The same, for earlier records already read (a bulk request reads them by the range). */
export async function judgeEarlierAttempts(deps: RecoveryDependencies, own: OwnAttempt, records: readonly StoredAuditRecord[]): Promise<EarlierVerdict> {
  if (records.length === 0) return { kind: 'send' };
  const { operation } = own;
  const made = records.find((record) => (record.status === 'succeeded' || record.status === 'orphaned') && record.entityId);
  if (made) {
    const entity = entityAnsweredTo(made) ?? { id: made.entityId };
    const maker = made.madeBy ?? made.rowKey;
    return {
      kind: 'answered',
      attribution: {
        entity,
        recovery: 'earlierAttempt',
        madeBy: maker,
        // An orphan's id reaches its caller now.
        settles: made.status === 'orphaned' ? [{ record: made, outcome: { status: 'succeeded', entityId: made.entityId, recovery: 'laterRequest', reason: 'a later request with the same Idempotency-Key was answered with it' } }] : [],
      },
    };
  }

  const open = records.filter(isOpen);
  const naturalKey = naturalKeyOf(operation);
  if (open.length === 0 || naturalKey === undefined) return { kind: 'send' };

  const waitSeconds = Math.ceil(deps.reconcileAfterMs / 1000) + 60;
  let finding;
  try {
    finding = await findMadeEntity(deps, operation, naturalKey, open, own.deadlineAt, new Set([own.rowKey]));
  } catch (error) {
    throw new FacadeError(503, 'serviceNotAvailable', `Whether an earlier request with this Idempotency-Key created the entity cannot be checked now (${reasonOf(error)}); nothing was sent. Retry later.`, {
      retryAfterSeconds: 5,
      cause: error,
    });
  }
  if (finding.kind === 'absent') throw outcomeUnknown('no new entity of that name is in Microsoft Graph yet', waitSeconds);
  if (finding.kind === 'unknowable') throw outcomeUnknown(finding.reason, waitSeconds);
  const { entity, maker } = finding;
  const entityId = entity.id as string;
  return {
    kind: 'answered',
    attribution: {
      entity,
      recovery: 'earlierAttempt',
      madeBy: maker.rowKey,
      settles: open.map((record) =>
        record.rowKey === maker.rowKey
          ? { record, outcome: { status: 'succeeded', entityId, recovery: 'laterRequest', reason: 'a later request with the same Idempotency-Key found the entity it made' } }
          : { record, outcome: { status: 'failed', recovery: 'laterRequest', reason: `a later request with the same Idempotency-Key found that ${maker.rowKey} made the entity` } },
      ),
    },
  };
}
