import type { OperationDefinition } from '../operations/operation';
import type { Runtime } from '../runtime';

/** What a record says was asked of Graph. */
export interface CreateAttempt {
  graphPath: string;
  entityId: string;
  requestBody: string;
  requestedAt: Date | string;
  rowKey?: string;
}

export type Lookup = { found: true; entityId: string; entity: Record<string, unknown> } | { found: false };

/** How far around the request time a connector group's creation time may lie. */
const creationWindowSlackMs = 60_000;

/**
 * Does the entity an attempt would have created exist in Graph? Caller-chosen ids are read back
 * by id. Graph chooses connector group ids, so those are matched by name and creation time,
 * skipping groups another audit record already accounts for.
 */
export async function lookUpCreatedEntity(runtime: Runtime, operation: OperationDefinition, attempt: CreateAttempt): Promise<Lookup> {
  const deadlineAt = Date.now() + runtime.settings.graphDeadlineMs;
  if (operation.entityId !== 'generatedByGraph') {
    const { response } = await runtime.graph.send(
      { method: 'GET', path: `${attempt.graphPath}/${encodeURIComponent(attempt.entityId)}` },
      { deadlineAt, retryMode: 'all' },
    );
    if (response.status === 404) return { found: false };
    if (response.status !== 200) throw new Error(`Graph answered ${response.status} to the read-back`);
    return { found: true, entityId: attempt.entityId, entity: response.body as Record<string, unknown> };
  }

  const name = (JSON.parse(attempt.requestBody) as { name?: unknown }).name;
  const { response } = await runtime.graph.send({ method: 'GET', path: attempt.graphPath }, { deadlineAt, retryMode: 'all' });
  if (response.status !== 200) throw new Error(`Graph answered ${response.status} to the list`);
  const requestedAt = new Date(attempt.requestedAt).getTime();
  const latest = requestedAt + runtime.settings.graphDeadlineMs + creationWindowSlackMs;
  const candidates = ((response.body as { value?: Record<string, unknown>[] }).value ?? []).filter((group) => {
    if (group.name !== name || typeof group.id !== 'string') return false;
    const created = typeof group.createdDateTime === 'string' ? Date.parse(group.createdDateTime) : Number.NaN;
    return Number.isNaN(created) || (created >= requestedAt - creationWindowSlackMs && created <= latest);
  });
  const entityPathOf = (id: string) => `${attempt.graphPath.replace(/^\/[^/]+\//, '')}/${encodeURIComponent(id)}`;
  for (const group of candidates) {
    const id = group.id as string;
    const claimedBy = await runtime.audit.findByEntity(operation.entityType, entityPathOf(id));
    if (!claimedBy || claimedBy.rowKey === attempt.rowKey) return { found: true, entityId: id, entity: group };
  }
  return { found: false };
}
