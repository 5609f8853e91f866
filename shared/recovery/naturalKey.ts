import type { StoredAuditRecord } from '../audit/auditStore';
import { entityPathOf, splitGraphPath } from '../graph/paths';
import { naturalKeyCheckOf, type OperationDefinition } from '../operations/operation';
import { mayHaveMadeIt, oldestFirst, sentBodyOf, type RecoveryDependencies } from './attribution';
import { listWithNaturalKey } from './graphReads';

/**
 * For entities whose id Graph chooses (connector groups): which entity, if any, some open
 * attempts made. Each attempt noted, before it was sent, the ids of the entities with the same
 * natural key (its snapshot). A candidate is an entity with that key missing from an attempt's
 * snapshot and not already the indexed work of another request. Another open attempt for the same
 * natural key whose snapshot lacks the candidate could have made it just as well: then nobody can
 * tell, and nothing is guessed.
 */
export type NaturalKeyFinding =
  | { kind: 'found'; entity: Record<string, unknown>; maker: StoredAuditRecord }
  | { kind: 'absent' }
  | { kind: 'unknowable'; reason: string };

/** Most ids a snapshot keeps (about 20 KB of the 64 KiB a Table Storage property holds). */
export const snapshotCap = 500;

export function snapshotOf(record: Pick<StoredAuditRecord, 'preexistingIds'>): Set<string> | undefined {
  if (record.preexistingIds === undefined) return undefined;
  try {
    const ids: unknown = JSON.parse(record.preexistingIds);
    return Array.isArray(ids) ? new Set(ids.filter((id): id is string => typeof id === 'string')) : undefined;
  } catch {
    return undefined;
  }
}

export async function findMadeEntity(
  deps: RecoveryDependencies,
  operation: OperationDefinition,
  naturalKey: string,
  attempts: StoredAuditRecord[],
  deadlineAt: number,
  /** Records that are not rivals (this request's own). */
  exclude: ReadonlySet<string> = new Set(),
): Promise<NaturalKeyFinding> {
  const [first] = attempts;
  if (!first) return { kind: 'absent' };
  const snapshots = new Map<string, Set<string>>();
  for (const attempt of attempts) {
    const snapshot = snapshotOf(attempt);
    if (!snapshot) {
      return { kind: 'unknowable', reason: 'the groups that existed before the create were not listed (the list failed, or held too many), so a new one cannot be told apart' };
    }
    snapshots.set(attempt.rowKey, snapshot);
  }
  const value = sentBodyOf(first)?.[naturalKey];
  if (value === undefined) return { kind: 'unknowable', reason: 'the record does not hold the body that was sent' };

  const listed = await listWithNaturalKey(deps.graph, first.graphPath, naturalKeyCheckOf(operation) ?? { naturalKey }, value, deadlineAt);
  const { collectionPath } = splitGraphPath(first.graphPath);
  const ours = new Set(attempts.map((attempt) => attempt.rowKey));
  const unseen = listed.filter((entity) => attempts.some((attempt) => !snapshots.get(attempt.rowKey)!.has(entity.id as string)));
  if (unseen.length === 0) return { kind: 'absent' };

  // Graph's list, then the open attempts, then the index: an attempt that made a listed entity was
  // recorded before the list, so it is among the open attempts or, settled since, in the index; a
  // settlement landing between the last two reads shows in one of them (it writes the index row
  // before it closes its attempt). Read the other way round, it could show in neither.
  const markers = await deps.audit.openAttempts(operation.name, first.entityKey);
  const candidates: Record<string, unknown>[] = [];
  for (const entity of unseen) {
    const index = await deps.audit.indexOf(operation.name, entityPathOf(collectionPath, entity.id as string));
    if (index && !ours.has(index.auditRowKey)) continue;
    candidates.push(entity);
  }
  if (candidates.length === 0) return { kind: 'absent' };

  const others = markers.filter((marker) => !ours.has(marker.recordRowKey) && !exclude.has(marker.recordRowKey));
  const read = (await Promise.all(others.map((marker) => deps.audit.get({ partitionKey: operation.name, rowKey: marker.recordRowKey })))).filter(
    (record): record is StoredAuditRecord => record !== undefined,
  );
  // A rival settled since its row was read as open claims the group it made, as the index would.
  const claimed = new Set(read.filter((record) => record.status === 'succeeded' || record.status === 'orphaned').map((record) => record.entityId));
  const unclaimed = candidates.filter((entity) => !claimed.has(entity.id as string));
  candidates.length = 0;
  candidates.push(...unclaimed);
  if (candidates.length === 0) return { kind: 'absent' };
  const rivals = read.filter(mayHaveMadeIt);
  const explainedByRival = candidates.filter((entity) =>
    rivals.some((rival) => {
      const snapshot = snapshotOf(rival);
      return !snapshot || !snapshot.has(entity.id as string);
    }),
  );
  if (explainedByRival.length > 0) {
    return {
      kind: 'unknowable',
      reason: `another create of the same name (${rivals.map((rival) => rival.rowKey).join(', ')}) may have made the new group just as well`,
    };
  }
  if (candidates.length > 1) {
    return { kind: 'unknowable', reason: `${candidates.length} new groups of that name (${candidates.map((entity) => entity.id).join(', ')}); which one this made cannot be told` };
  }
  const entity = candidates[0]!;
  const maker = oldestFirst(attempts.filter((attempt) => !snapshots.get(attempt.rowKey)!.has(entity.id as string)))[0]!;
  return { kind: 'found', entity, maker };
}
