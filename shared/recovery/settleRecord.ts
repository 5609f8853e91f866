import { indexedSpellingOf, spelledAlike } from '../audit/auditRecord';
import type { StoredAuditRecord } from '../audit/auditStore';
import { entityPathOf, splitGraphPath } from '../graph/paths';
import { naturalKeyOf, readBackOf, type OperationDefinition } from '../operations/operation';
import { isOpen, mayHaveMadeIt, oldestFirst, sentBodyOf, type RecoveryDependencies, type SettledRecord } from './attribution';
import { readEntity } from './graphReads';
import { findMadeEntity } from './naturalKey';
import { comparedWithSent } from './sameEntity';

/**
 * What reconciliation makes of one open record (its request's outcome never recorded, or lost),
 * by reading Graph and the audit table — never by sending a create:
 * - the entity index names the request that made the entity: this record made it, or did not;
 * - ids the caller chose, readable: the entity read back holds this ask's body (and no other open
 *   ask's), it is this ask's; it does not exist, or holds something else, this record made nothing;
 * - ids Graph chose: the one new entity of the natural key nobody else accounts for is this
 *   record's (its caller never learnt the id: `orphaned`); none, it made nothing;
 * - group members (Graph has no read of one): only a later request of the same ask, or the index,
 *   can tell; the record says `unknown` with the reason until then.
 * What cannot be told yet waits; past the retention it is `unresolved`, for people to decide.
 */
export type RecordVerdict =
  | { kind: 'settle'; settles: SettledRecord[]; index?: { entityPath: string; auditRowKey: string } }
  /** Not known yet: look again at `recheckAt` (`unknown` with the reason until then). */
  | { kind: 'wait'; reason: string; recheckAt: Date };

const hour = 3_600_000;

export async function judgeRecord(deps: RecoveryDependencies, operation: OperationDefinition, record: StoredAuditRecord, deadlineAt: number): Promise<RecordVerdict> {
  const now = deps.clock.now();
  const settle = (status: 'succeeded' | 'failed' | 'orphaned', reason: string, extra: Partial<SettledRecord['outcome']> = {}): RecordVerdict => ({
    kind: 'settle',
    settles: [{ record, outcome: { status, reason, recovery: 'reconciliation', ...extra } }],
  });
  const naturalKey = naturalKeyOf(operation);
  const { collectionPath } = splitGraphPath(record.graphPath);

  if (naturalKey !== undefined) {
    const finding = await findMadeEntity(deps, operation, naturalKey, [record], deadlineAt);
    if (finding.kind === 'absent') return settle('failed', 'no new entity of that name is in Microsoft Graph: the create did not take place', { errorCode: 'notCreated' });
    if (finding.kind === 'unknowable') return { kind: 'wait', reason: finding.reason, recheckAt: new Date(now + hour) };
    const entityId = finding.entity.id as string;
    return {
      kind: 'settle',
      settles: [{ record, outcome: { status: 'orphaned', entityId, recovery: 'reconciliation', reason: 'reconciliation found the entity this request made; its id never reached the caller' } }],
      index: { entityPath: entityPathOf(collectionPath, entityId), auditRowKey: record.rowKey },
    };
  }

  const entityId = record.entityId;
  const entityPath = entityPathOf(collectionPath, entityId);
  const byIndex = async (): Promise<RecordVerdict | undefined> => {
    const index = await deps.audit.indexOf(operation.name, entityPath);
    if (!index) return undefined;
    if (!spelledAlike(index, entityPath)) {
      return {
        kind: 'wait',
        reason: `request ${index.auditRowKey} made ${indexedSpellingOf(index)}, whose path differs from this one's in letter case only; whether Microsoft Graph counts them as one entity is not documented`,
        recheckAt: new Date(now + hour),
      };
    }
    if (index.auditRowKey === record.rowKey) return settle('succeeded', 'the entity index names this request as the entity’s maker', { entityId });
    const maker = await deps.audit.get({ partitionKey: operation.name, rowKey: index.auditRowKey });
    // A maker found by recovery may be any attempt of the ask; one Graph answered is the maker.
    if (maker && index.proof === 'attributed' && maker.askKey === record.askKey) {
      return settle('succeeded', `request ${maker.rowKey} of the same ask was found to have made the entity`, { entityId, madeBy: maker.rowKey });
    }
    return settle('failed', `request ${index.auditRowKey} made the entity, not this one`, { errorCode: 'notCreated' });
  };
  const indexed = await byIndex();
  if (indexed) return indexed;

  const readBack = readBackOf(operation);
  if (!readBack) {
    return {
      kind: 'wait',
      reason: 'Microsoft Graph has no read of one entity of this kind: only a later request of the same caller for the same entity can tell whether this one made it',
      // The index may tell sooner (a later request's create): looked at again hourly until the retention ends.
      recheckAt: new Date(Math.min(new Date(record.requestedAt).getTime() + deps.retentionMs, now + hour)),
    };
  }
  const read = await readEntity(deps.graph, record.graphPath, entityId, deadlineAt, readBack.version ? { version: readBack.version } : {});
  if (!read.found) return settle('failed', 'the entity is not in Microsoft Graph: the create did not take place', { errorCode: 'notCreated' });
  const sent = sentBodyOf(record);
  const held = sent ? comparedWithSent(sent, read.entity) : 'holds';
  if (held === 'not') {
    return settle('failed', 'the entity in Microsoft Graph holds something else: another request made it', { errorCode: 'entityDiffers' });
  }
  if (held === 'possibly') {
    return { kind: 'wait', reason: 'the entity in Microsoft Graph holds what this request sent only with letter case apart; whether Graph counts the two spellings as one is not documented', recheckAt: new Date(now + hour) };
  }

  // Other open attempts at the same entity: this ask's settle with it; another ask's that the entity would fit too makes it undecidable.
  const markers = await deps.audit.openAttempts(operation.name, record.entityKey);
  // The index once more, after the open attempts: a rival's settlement that landed since the first
  // look and before this read closed its attempt only after writing the index row, so it shows here.
  const indexedSince = await byIndex();
  if (indexedSince) return indexedSince;
  const attemptRecords = (await Promise.all(markers.filter((marker) => marker.recordRowKey !== record.rowKey).map((marker) => deps.audit.get({ partitionKey: operation.name, rowKey: marker.recordRowKey })))).filter(
    (other): other is StoredAuditRecord => other !== undefined,
  );
  // One of them settled since, as having made the entity: it is the maker, as the index would say.
  const settledMaker = attemptRecords.find((other) => other.status === 'succeeded' || other.status === 'orphaned');
  if (settledMaker) {
    return settledMaker.askKey === record.askKey
      ? settle('succeeded', `request ${settledMaker.rowKey} of the same ask made the entity`, { entityId, madeBy: settledMaker.madeBy ?? settledMaker.rowKey })
      : settle('failed', `request ${settledMaker.rowKey} made the entity, not this one`, { errorCode: 'notCreated' });
  }
  const others = attemptRecords.filter(mayHaveMadeIt);
  // Attempts of the same ask within the retention are settled with this one; any other that the
  // entity would fit, as well.
  const withinRetention = (other: StoredAuditRecord) => now - new Date(other.requestedAt).getTime() <= deps.retentionMs;
  const sameAsk = others.filter((other) => other.askKey === record.askKey && isOpen(other) && withinRetention(other));
  const rivals = others.filter((other) => {
    if (sameAsk.includes(other)) return false;
    const body = sentBodyOf(other);
    return body === undefined || comparedWithSent(body, read.entity) !== 'not';
  });
  if (rivals.length > 0) {
    return { kind: 'wait', reason: `another request for the same entity (${rivals.map((rival) => rival.rowKey).join(', ')}) may have made it just as well`, recheckAt: new Date(now + hour) };
  }
  const maker = oldestFirst([record, ...sameAsk])[0]!;
  const reason = 'reconciliation read the entity back: it holds what this request sent';
  return {
    kind: 'settle',
    settles: [record, ...sameAsk].map((each) => ({
      record: each,
      outcome: { status: 'succeeded', entityId, reason, recovery: 'reconciliation', ...(each.rowKey === maker.rowKey ? {} : { madeBy: maker.rowKey }) },
    })),
    index: { entityPath, auditRowKey: maker.rowKey },
  };
}
