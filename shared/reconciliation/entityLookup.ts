import { containsSent } from '../graph/containsSent';
import { entityPathOf, entityUrlOf, splitGraphPath } from '../graph/paths';
import { existenceCheckOf, type OperationDefinition } from '../operations/operation';
import type { Runtime } from '../runtime';

/** What a record says was asked of Graph. */
export interface CreateAttempt {
  graphPath: string;
  entityId: string;
  requestBody: string;
  requestBodyTruncated?: boolean;
  /** JSON array: ids of entities with the same natural key that existed before the create. */
  preexistingIds?: string;
  rowKey?: string;
}

export type Lookup =
  | { found: true; entityId: string; entity: Record<string, unknown> }
  | { found: false; reason: 'absent' | 'differs' | 'ambiguous' };

/** Most pages of a collection read to find one entity. */
const maxPages = 20;

/**
 * Did the create an audit record describes take place? Each operation says how Graph lets us
 * know (`existenceCheck`): read by id, repeat the create (a 409 proves it), or find the entity
 * Graph named among those with the same natural key that were not there before.
 */
export async function lookUpCreatedEntity(
  runtime: Runtime,
  operation: OperationDefinition,
  attempt: CreateAttempt,
  deadlineAt: number,
): Promise<Lookup> {
  const check = existenceCheckOf(operation);
  const sent = attempt.requestBodyTruncated ? undefined : (JSON.parse(attempt.requestBody) as Record<string, unknown>);

  if (check === 'readById') {
    const { response } = await runtime.graph.send(
      { method: 'GET', path: entityUrlOf(attempt.graphPath, attempt.entityId) },
      { deadlineAt, retryMode: 'all' },
    );
    if (response.status === 404) return { found: false, reason: 'absent' };
    if (response.status !== 200) throw new Error(`Graph answered ${response.status} to the read-back`);
    const entity = response.body as Record<string, unknown>;
    // A truncated record cannot be compared; the id alone then has to do.
    if (sent && !containsSent(sent, entity)) return { found: false, reason: 'differs' };
    return { found: true, entityId: attempt.entityId, entity };
  }

  if (check === 'createConflict') {
    if (!sent) throw new Error('the request body was truncated in the record; the create cannot be repeated');
    const { response } = await runtime.graph.send(
      { method: 'POST', path: attempt.graphPath, body: sent },
      { deadlineAt, retryMode: 'all' },
    );
    if (response.status !== 409 && (response.status < 200 || response.status > 299)) {
      throw new Error(`Graph answered ${response.status} to the repeated create`);
    }
    return { found: true, entityId: attempt.entityId, entity: sent };
  }

  if (attempt.preexistingIds === undefined || !sent) return { found: false, reason: 'ambiguous' };
  const before = new Set(JSON.parse(attempt.preexistingIds) as string[]);
  const key = sent[check.naturalKey];
  const candidates = (await listCollection(runtime, attempt.graphPath, deadlineAt)).filter(
    (entity) => entity[check.naturalKey] === key && typeof entity.id === 'string' && !before.has(entity.id),
  );
  const { collectionPath } = splitGraphPath(attempt.graphPath);
  const unclaimed: Record<string, unknown>[] = [];
  for (const entity of candidates) {
    const claimedBy = await runtime.audit.findByEntity(operation.entityType, entityPathOf(collectionPath, entity.id as string));
    if (!claimedBy || claimedBy.rowKey === attempt.rowKey) unclaimed.push(entity);
  }
  // Two new same-named entities nobody accounts for: which one this request made cannot be told.
  if (unclaimed.length > 1) return { found: false, reason: 'ambiguous' };
  const [entity] = unclaimed;
  return entity ? { found: true, entityId: entity.id as string, entity } : { found: false, reason: 'absent' };
}

/** The ids of the collection's entities whose natural key has this value (taken before a create). */
export async function idsWithNaturalKey(
  runtime: Runtime,
  graphPath: string,
  naturalKey: string,
  value: unknown,
  deadlineAt: number,
): Promise<string[]> {
  return (await listCollection(runtime, graphPath, deadlineAt))
    .filter((entity) => entity[naturalKey] === value && typeof entity.id === 'string')
    .map((entity) => entity.id as string);
}

async function listCollection(runtime: Runtime, graphPath: string, deadlineAt: number): Promise<Record<string, unknown>[]> {
  const entities: Record<string, unknown>[] = [];
  let path: string | undefined = graphPath;
  for (let page = 0; path && page < maxPages; page += 1) {
    const { response } = await runtime.graph.send({ method: 'GET', path }, { deadlineAt, retryMode: 'all' });
    if (response.status !== 200) throw new Error(`Graph answered ${response.status} to the list`);
    const body = response.body as { value?: Record<string, unknown>[]; '@odata.nextLink'?: string };
    entities.push(...(body.value ?? []));
    path = body['@odata.nextLink'] ? runtime.graph.relativePath(body['@odata.nextLink']) : undefined;
  }
  if (path) throw new Error(`more than ${maxPages} pages in ${graphPath}`);
  return entities;
}
