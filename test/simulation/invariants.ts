import type { Creation } from '../../dev/graphEmulator';
import { graphAssignsId } from '../../shared/operations/operation';
import type { Answer, Observation, ObservedRequest } from './execute';
import { simulationSettings } from './world';

/**
 * The guarantees, checked after a schedule against what Graph holds (the emulator's entities and
 * the request that made each), what the callers were answered, and the audit table:
 * - every entity in Graph has an audit record (of the request that made it) that does not say
 *   `failed`, and says why when it says `unknown`, `orphaned` or `unresolved`;
 * - nothing in Graph that no request asked for, and no create Graph received from anything but a
 *   caller's request (reconciliation sends none);
 * - at most one entity per Idempotency-Key (within its retention: after that the key is new), and
 *   every success answered under a key names it;
 * - a success names an entity that exists and that this request made, or another request of the
 *   same caller for the same path and body (a retry is the same ask), or one with the same key;
 *   a 4xx other than 409 means the request made nothing;
 * - the entity index points at the record of the request that made the entity (or of a retry of it:
 *   which attempt of one ask made it cannot always be told, and need not be);
 * - a connector group's record says `succeeded` only if its id reached a caller, else `orphaned`
 *   (unless the request that settled it — itself, or a keyed retry answering with it — died or
 *   stalled after settling: whether that answer reached its caller, nobody can know);
 * - every request that was not abandoned was answered, Graph-shaped, a 5xx with a retry hint;
 * - a bulk request's results: a member reported `created` exists and was made by this ask (this
 *   request, or another of the same caller for the same member and body, or with the same key), one
 *   reported `alreadyMember` exists, and one that `failed` with a 4xx was not made by this request.
 */

const isSuccess = (answer: Answer) => answer.kind === 'answered' && answer.status >= 200 && answer.status < 300;
const describe = (request: ObservedRequest) =>
  `${request.bulk ? 'bulk ' : ''}request ${request.step} (caller ${request.caller}${request.key ? `, key ${request.key}` : ''}, body ${request.body}, ${request.path})`;
const entityPathOf = (graphPath: string, id: string) => `${graphPath.replace(/^\/[^/]+\//, '')}/${encodeURIComponent(id)}`;
/** The body a request asked an entity with (a bulk request asks for several). */
const bodyFor = (request: ObservedRequest, entityId: string) => (request.bulk ? request.bodies[entityId] : String(request.body));
/**
 * The same ask of an entity: the same caller, Graph path and body (an unkeyed retry; a single add
 * and a bulk request's item alike), or the same key (keys are per operation: single or bulk).
 */
const sameAsk = (one: ObservedRequest, other: ObservedRequest, entityId: string) =>
  one === other ||
  (one.caller === other.caller && one.path === other.path && bodyFor(one, entityId) !== undefined && bodyFor(one, entityId) === bodyFor(other, entityId)) ||
  (one.caller === other.caller && one.key !== null && one.key === other.key && one.bulk === other.bulk);

const retentionMs = Number(simulationSettings.IDEMPOTENCY_RETENTION_HOURS) * 3_600_000;

export function checkInvariants(observation: Observation): string[] {
  const violations: string[] = [];
  const { requests, creations, audit } = observation;
  const requestBy = new Map(requests.map((request) => [request.clientRequestId, request]));
  const madeAt = new Map(creations.map((creation) => [creation.path, creation]));
  const recordsOf = (clientRequestId: string) => audit.records.filter((record) => record.clientRequestId === clientRequestId);
  /** The record of the request that made an entity (a bulk request has one per member). */
  const recordOfMaker = (clientRequestId: string, entityId: string) => {
    const records = recordsOf(clientRequestId);
    return records.find((record) => record.entityId === entityId) ?? records.find((record) => !record.entityId) ?? (records.length === 1 ? records[0] : undefined);
  };

  for (const post of observation.graphPosts) {
    const id = post.headers['client-request-id'] ?? '';
    if (!requestBy.has(id)) violations.push(`Graph received a create no caller's request sent (${post.path}, client-request-id ${id})`);
  }

  const answeredIds = new Set(
    requests.flatMap((request) => (!request.bulk && isSuccess(request.answer) && request.answer.kind === 'answered' ? [String(request.answer.body?.id)] : [])),
  );
  for (const creation of creations) {
    const maker = requestBy.get(creation.clientRequestId);
    if (!maker) {
      violations.push(`${creation.path} exists in Graph, made by no caller's request`);
      continue;
    }
    const record = recordOfMaker(creation.clientRequestId, creation.id);
    if (!record) {
      violations.push(`${creation.path} exists in Graph with no audit record of ${describe(maker)}, which made it`);
      continue;
    }
    if (record.status === 'failed') violations.push(`${creation.path} exists in Graph, but the record of ${describe(maker)}, which made it, says failed`);
    if (observation.final && record.status === 'pending') violations.push(`${creation.path}: the record of ${describe(maker)} is still pending`);
    if (['unknown', 'orphaned', 'unresolved'].includes(record.status) && !record.reason) {
      violations.push(`${creation.path}: the record of ${describe(maker)} says ${record.status} without a reason`);
    }
    if (graphAssignsId(observation.target.operation)) {
      const settler = record.settledBy
        ? requestBy.get(audit.records.find((candidate) => candidate.rowKey === record.settledBy)?.clientRequestId ?? '')
        : record.recovery === undefined
          ? maker
          : undefined;
      const settlerDied = settler?.answer.kind === 'crashed';
      if (record.status === 'succeeded' && !answeredIds.has(creation.id) && !settlerDied) {
        violations.push(`connector group ${creation.id} is recorded succeeded, but its id never reached a caller (orphaned)`);
      }
      if (record.status === 'orphaned' && answeredIds.has(creation.id)) {
        violations.push(`connector group ${creation.id} is recorded orphaned, but a caller was answered with it`);
      }
    }
  }

  for (const record of audit.records) {
    if ((record.status === 'succeeded' || record.status === 'orphaned') && record.entityId) {
      const path = entityPathOf(record.graphPath, record.entityId);
      if (!madeAt.has(path)) violations.push(`record ${record.rowKey} says ${record.status} for ${path}, which is not in Graph`);
    }
  }

  // A key lives for the retention from its first use; a request after that starts it afresh.
  const keyed = new Map<string, ObservedRequest[]>();
  const lifetimes = new Map<string, { started: number; generation: number }>();
  for (const request of [...requests].sort((one, other) => one.at - other.at)) {
    // A bulk request makes several entities; its key's guarantees are checked per member below.
    if (!request.key || request.bulk) continue;
    const name = `${request.caller}/${request.key}`;
    let lifetime = lifetimes.get(name);
    if (!lifetime || request.at >= lifetime.started + retentionMs) {
      lifetime = { started: request.at, generation: (lifetime?.generation ?? 0) + 1 };
      lifetimes.set(name, lifetime);
    }
    const key = lifetime.generation === 1 ? name : `${name} (after its retention, use ${lifetime.generation})`;
    keyed.set(key, [...(keyed.get(key) ?? []), request]);
  }
  for (const [key, sharing] of keyed) {
    const ids = new Set(sharing.map((request) => request.clientRequestId));
    const made = creations.filter((creation) => ids.has(creation.clientRequestId));
    if (made.length > 1) violations.push(`Idempotency-Key ${key}: ${made.length} entities in Graph (${made.map((creation) => creation.id).join(', ')})`);
    const answered = new Set(
      sharing.flatMap((request) => (isSuccess(request.answer) && request.answer.kind === 'answered' ? [String(request.answer.body?.id)] : [])),
    );
    if (answered.size > 1) violations.push(`Idempotency-Key ${key}: successes name different entities (${[...answered].join(', ')})`);
    for (const id of answered) {
      if (made.length === 1 && made[0]!.id !== id) violations.push(`Idempotency-Key ${key}: answered ${id}, but the key made ${made[0]!.id}`);
    }
  }

  for (const request of requests) {
    const { answer } = request;
    if (answer.kind === 'hung') {
      violations.push(`${describe(request)} was never answered`);
      continue;
    }
    if (answer.kind === 'crashed') continue;
    if (answer.status === 0) {
      violations.push(`${describe(request)}: the handler threw ${JSON.stringify(answer.body)}`);
      continue;
    }
    if (request.bulk && isSuccess(answer)) {
      violations.push(...bulkViolations(request, answer.body, madeAt, requestBy, creations));
      continue;
    }
    if (isSuccess(answer)) {
      const id = answer.body?.id;
      if (typeof id !== 'string') {
        violations.push(`${describe(request)} was answered ${answer.status} without an id`);
        continue;
      }
      const path = entityPathOf(request.path, id);
      const creation = madeAt.get(path);
      if (!creation) {
        violations.push(`${describe(request)} was answered ${answer.status} for ${path}, which is not in Graph`);
        continue;
      }
      const maker = requestBy.get(creation.clientRequestId);
      if (!maker || !sameAsk(maker, request, id)) {
        violations.push(`${describe(request)} was answered ${answer.status} for ${path}, which ${maker ? describe(maker) : 'no caller'} made`);
      }
      continue;
    }
    const code = (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
    if (typeof code !== 'string') violations.push(`${describe(request)}: ${answer.status} is not Graph-shaped`);
    if (answer.status >= 500 && !answer.headers['retry-after']) {
      violations.push(`${describe(request)}: ${answer.status} ${String(code)} without Retry-After`);
    }
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 409) {
      const made = creations.filter((creation) => creation.clientRequestId === request.clientRequestId);
      if (made.length > 0) violations.push(`${describe(request)} was answered ${answer.status} ${String(code)}, but made ${made[0]!.path}`);
    }
  }

  for (const [path, rowKey] of audit.index) {
    const record = audit.records.find((candidate) => candidate.rowKey === rowKey);
    const creation = madeAt.get(path);
    if (!record) violations.push(`the entity index of ${path} points at no record (${rowKey})`);
    else if (!creation) violations.push(`the entity index names ${path}, which is not in Graph`);
    else {
      const maker = requestBy.get(creation.clientRequestId);
      const indexed = requestBy.get(record.clientRequestId);
      if (!maker || !indexed || !sameAsk(maker, indexed, creation.id)) {
        violations.push(`the entity index of ${path} points at the record of ${indexed ? describe(indexed) : 'no request'}, but ${maker ? describe(maker) : 'no request'} made it`);
      }
    }
  }
  return violations;
}

/** What a bulk request's 200 says of each member, against what Graph holds and who made it. */
function bulkViolations(
  request: ObservedRequest,
  body: Record<string, unknown> | undefined,
  madeAt: Map<string, Creation>,
  requestBy: Map<string, ObservedRequest>,
  creations: Creation[],
): string[] {
  const violations: string[] = [];
  const results = (body as { results?: { id: string; status: string; error?: { httpStatus?: number; code?: string } }[] } | undefined)?.results;
  if (!Array.isArray(results) || results.length !== Object.keys(request.bodies).length) {
    return [`${describe(request)} was answered 200 without a result per member: ${JSON.stringify(body).slice(0, 200)}`];
  }
  for (const result of results) {
    const path = entityPathOf(request.path, result.id);
    const creation = madeAt.get(path);
    if (result.status === 'created' || result.status === 'alreadyMember') {
      if (!creation) {
        violations.push(`${describe(request)} reported ${result.id} ${result.status}, but it is not in Graph`);
        continue;
      }
      const maker = requestBy.get(creation.clientRequestId);
      if (result.status === 'created' && (!maker || !sameAsk(maker, request, result.id))) {
        violations.push(`${describe(request)} reported ${result.id} created, which ${maker ? describe(maker) : 'no caller'} made`);
      }
      continue;
    }
    const status = result.error?.httpStatus ?? 0;
    if (status >= 400 && status < 500 && creations.some((made) => made.path === path && made.clientRequestId === request.clientRequestId)) {
      violations.push(`${describe(request)} reported ${result.id} failed with ${status} ${String(result.error?.code)}, but made it`);
    }
  }
  return violations;
}
