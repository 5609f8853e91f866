import type { Creation, FaultStep } from '../../dev/graphEmulator';
import type { AuditRecordView, AuditTableView } from './auditView';
import { existenceCheckOf, graphAssignsId, naturalKeyOf } from '../../shared/operations/operation';
import { outsideOrigin, type Answer, type Observation, type ObservedRegistration, type ObservedRequest } from './execute';
import { manifestResults } from './manifestTargets';
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
 * Grown with issue 16 (each named in docs, "The simulation"):
 * - who made an entity is told by the tag the emulator read on the create (`x-emulator-origin`:
 *   which request, job run or reconciliation sent it), never by the forwarded `client-request-id`;
 *   reconciliation sends no create;
 * - entities are compared as Graph identifies them (a connection id in any letter case is one);
 * - every `succeeded`/`orphaned` record belongs to the ask that made its entity; no record is
 *   `pending` at the end; `unknown` at the end only for members (Graph has no read of one);
 * - a bulk item's result agrees with its record and with Graph (`created` ⇒ this ask made it and
 *   its record says so; `alreadyMember` ⇒ another request made it; never either while its record
 *   is `unknown`; "nothing was sent" ⇒ its record says `failed` and Graph received none);
 * - a stored keyed answer (replayed) is final, never a "retry later";
 * - a request whose ask made the entity in an earlier request, whose attempt is still open, is
 *   never answered Graph's 409 (another's) for it: the entity, or "outcome unknown";
 * - every accepted job ends once faults stop (200 with a result per item), its message never
 *   poisoned; a status URL's 5xx carries `Retry-After`, as every 5xx does.
 * - a request whose instance stalled and came back when time passed finishes (execute.ts), and
 *   what it answered then is judged as any answer.
 * - every accepted schema registration ends once faults stop and its caller follows its status URL
 *   past the abandon age (200: `succeeded`, Graph having completed an operation on its connection,
 *   or `failed` with a reason), also when its queue message went to the poison queue; its request
 *   and its status URL are answered, Graph-shaped, a 5xx with `Retry-After`.
 */

const isSuccess = (answer: Answer) => answer.kind === 'answered' && answer.status >= 200 && answer.status < 300;
const describe = (request: ObservedRequest) =>
  `${request.bulk ? 'bulk ' : request.manifest ? 'manifest ' : ''}request ${request.step} (caller ${request.caller}${request.key ? `, key ${request.key}` : ''}, body ${request.body}, ${request.path})`;
/**
 * Every answer a request gave, each judged alike: the one its caller saw when the step ended, and
 * the one it gave after its instance stalled and came back (whether that one still reached the
 * caller nobody can know; the facade must not have told anyone a falsehood either way).
 */
const answersOf = (request: ObservedRequest): { request: ObservedRequest; answer: Answer; label: string }[] => [
  { request, answer: request.answer, label: describe(request) },
  ...(request.resumed ? [{ request, answer: request.resumed, label: `${describe(request)}, resumed after its instance stalled,` }] : []),
];
/**
 * An entity's path as Graph identifies it: connection ids compared without regard to case
 * (docs/graph-facts.md), so two spellings of one connection are one path.
 */
export const canonicalPath = (path: string) =>
  path.replace(/^(\/?(?:[^/]+\/)?external\/connections\/)([^/]+)/, (_whole, head: string, id: string) => `${head}${decodeURIComponent(id).toLowerCase()}`);
const entityPathOf = (graphPath: string, id: string) => canonicalPath(`${graphPath.replace(/^\/[^/]+\//, '')}/${encodeURIComponent(id)}`);
/**
 * Whether more than one request asked for an entity of this collection and one of them made it:
 * Graph's read shows the entity but not which request made it, and a rival's attempt that never
 * reached Graph looks, to the facade, like one whose answer was lost — so those requests' records
 * may rightly stay unknown (the oracle knows the maker by its origin tag; the facade cannot).
 */
function rivalsMadeIt(observation: Observation, graphPath: string): boolean {
  const collection = canonicalPath(graphPath.replace(/^\/[^/]+\//, ''));
  const askers = observation.requests.filter((request) => canonicalPath(request.path.replace(/^\/[^/]+\//, '')) === collection);
  const origins = new Set(askers.map((request) => request.origin));
  const made = observation.creations.some((creation) => canonicalPath(creation.path).startsWith(`${collection}/`));
  return origins.size > 1 && made;
}

/**
 * An entity whose id Graph chooses is told apart from one that existed before only by the list
 * taken before the create (shared/recovery/naturalKey.ts); when that list could not be read, no
 * later read can say whether the entity Graph holds is the one this create made.
 */
function beforeListMissing(observation: Observation, record: AuditRecordView): boolean {
  return naturalKeyOf(observation.target.operation) !== undefined && /existed before the create were not listed/.test(record.reason ?? '');
}

/**
 * Graph holds the entity under another spelling (letter case) than this record's: whether Graph
 * counts the two as one is not documented (docs/graph-facts.md), so the facade leaves the record
 * undecided rather than guess (issue rule: possibly the same entity, never a success by guess).
 */
function otherSpellingMade(observation: Observation, record: AuditRecordView): boolean {
  if (!record.entityId) return false;
  const asSpelled = `${record.graphPath.replace(/^\/[^/]+\//, '')}/${encodeURIComponent(record.entityId)}`;
  return observation.creations.some((creation) => canonicalPath(creation.path) === canonicalPath(asSpelled) && creation.path !== asSpelled);
}

/** The body a request asked an entity with (a bulk request asks for several). */
const bodyFor = (request: ObservedRequest, entityId: string) =>
  request.bulk ? request.bodies[entityId] : request.manifest ? (request.bodies[entityId] ?? String(request.body)) : String(request.body);
/**
 * The same ask of an entity: the same caller, Graph path and body (an unkeyed retry; a single add
 * and a bulk request's item alike), or the same key (keys are per operation: single or bulk).
 */
const sameAsk = (one: ObservedRequest, other: ObservedRequest, entityId: string) =>
  one === other ||
  (one.caller === other.caller && canonicalPath(one.path) === canonicalPath(other.path) && bodyFor(one, entityId) !== undefined && bodyFor(one, entityId) === bodyFor(other, entityId)) ||
  (one.caller === other.caller && one.key !== null && one.key === other.key && one.bulk === other.bulk && Boolean(one.manifest) === Boolean(other.manifest));

const retentionMs = Number(simulationSettings.IDEMPOTENCY_RETENTION_HOURS) * 3_600_000;

/** A Graph fault after which the create's outcome is unknown to the facade (not a throttle, nor a delay alone). */
const answerLostBy = (step: FaultStep) =>
  step.status === undefined ? Boolean(step.reset || step.hang || step.garbage || step.bodyText !== undefined) : step.status >= 500 || (step.status >= 200 && step.status < 300);

export function checkInvariants(observation: Observation): string[] {
  const violations: string[] = [];
  const { requests, creations, audit } = observation;
  const requestBy = new Map(requests.map((request) => [request.clientRequestId, request]));
  const byOrigin = new Map(requests.map((request) => [request.origin, request]));
  /** Requests answered 202 with each job (a keyed retry replaying the stored 202 names the same job). */
  const byJob = new Map<string, ObservedRequest[]>();
  for (const request of requests) if (request.job) byJob.set(request.job.id, [...(byJob.get(request.job.id) ?? []), request]);
  /**
   * The request that made an entity, by the emulator's tag. A job run works for the request that
   * was accepted: the one whose scope queued the job's message (seen by the world's queue, not read
   * from the facade), not a keyed retry that was answered with the same job.
   */
  const makerOf = (creation: Creation): ObservedRequest | undefined => {
    const origin = creation.origin ?? '';
    const job = /^job \d+ (.+)$/.exec(origin);
    if (!job) return byOrigin.get(origin);
    const queuedBy = byOrigin.get(observation.jobQueuedBy.get(job[1]!) ?? '');
    if (queuedBy) return queuedBy;
    // A job whose 202 never reached its caller: its item records (row keys below the job's) name the request.
    return byJob.get(job[1]!)?.[0] ?? requestBy.get(audit.records.find((record) => record.rowKey.startsWith(job[1]!))?.clientRequestId ?? '');
  };
  const madeAt = new Map(creations.map((creation) => [canonicalPath(creation.path), creation]));
  /**
   * Another request of the same ask (the same caller, path and body: a single create beside a
   * manifest naming the entity alike) holds the entity in the audit trail (its index row): which
   * attempt of one ask made it cannot always be told, and need not be.
   */
  const claimedBySameAsk = (request: ObservedRequest, creation: Creation) => {
    const rowKey = [...audit.index].find(([path]) => canonicalPath(path) === canonicalPath(creation.path))?.[1];
    const holder = requestBy.get(audit.records.find((record) => record.rowKey === rowKey)?.clientRequestId ?? '');
    return holder !== undefined && holder !== request && sameAsk(holder, request, creation.id);
  };
  /**
   * The facade could not know what became of the request's create: Graph answered it with a fault
   * after which its outcome is unknown, its instance died, or it answered 5xx itself (its record may
   * stay open, e.g. an intent write whose answer was lost: reconciliation cannot tell it never sent).
   */
  const lostAnswerOf = (request: ObservedRequest) =>
    request.answer.kind === 'crashed' ||
    (request.answer.kind === 'answered' && request.answer.status >= 500 && codeOf(request.answer) !== 'createInProgress') ||
    observation.graphPosts.some((post) => post.fault !== null && answerLostBy(post.fault.step) && senderOf(post) === request);
  /** The request a create Graph received came from: by its origin tag; a batch's step, which carries none, by its client-request-id. */
  const senderOf = (post: Observation['graphPosts'][number]) => {
    const origin = post.headers['x-emulator-origin'];
    return origin ? makerOf({ origin } as Creation) : requestBy.get(post.headers['client-request-id'] ?? '');
  };
  /**
   * The entity made outside the facade holds what an ask sent (the first body; a member, which has
   * no read, whatever it was sent with), and an attempt of that ask lost its answer: the facade takes
   * the entity for the one that attempt made (its read holds what was sent; a member by its 409
   * alone). Nothing can tell the two apart; any other claim of an entity made outside is a violation.
   */
  const outsideTakenAfterLostAnswer = (request: ObservedRequest, creation: Creation) =>
    creation.origin === outsideOrigin &&
    (bodyFor(request, creation.id) === '0' || existenceCheckOf(observation.target.operation) === 'createConflict') &&
    requests.some((other) => sameAsk(other, request, creation.id) && lostAnswerOf(other));
  const recordsOf = (clientRequestId: string) => audit.records.filter((record) => record.clientRequestId === clientRequestId);
  /**
   * The entity a single create asked for, when an earlier request of the same ask as the facade
   * tells asks (the same caller, the path as spelled and the body; or the same key) made it within
   * the retention, and that request's record is open to the end (`unknown`: so it was open at this
   * request's 409 too). Such a 409 is this ask's to answer: the entity, or "outcome unknown";
   * Graph's 409 would tell the caller another made what its own ask may have.
   */
  const ownAskMadeItOpen = (request: ObservedRequest): Creation | undefined => {
    if (request.bulk || request.manifest || graphAssignsId(observation.target.operation)) return undefined;
    const id = Object.keys(request.bodies)[0];
    if (id === undefined) return undefined;
    const creation = madeAt.get(entityPathOf(request.path, id));
    const maker = creation && makerOf(creation);
    if (!creation || !maker || maker === request || maker.manifest || maker.bulk || maker.at > request.at || request.at >= maker.at + retentionMs) return undefined;
    // The id as spelled is part of the ask (in the path, or in the body of a connection).
    const asTheFacadeTellsAsks =
      maker.caller === request.caller && maker.path === request.path && id in maker.bodies && (bodyFor(maker, id) === bodyFor(request, id) || (maker.key !== null && maker.key === request.key));
    if (!asTheFacadeTellsAsks) return undefined;
    const record = recordOfMaker(maker.clientRequestId, creation.id);
    return record?.status === 'unknown' ? creation : undefined;
  };
  /**
   * The record of the request that made an entity (a bulk request has one per member). A manifest
   * apply has one per attempt of each create (all under its client-request-id; a later run's keyed
   * attempt that sent nothing says failed): the one that is not failed, if any.
   */
  const recordOfMaker = (clientRequestId: string, entityId: string) => {
    const records = recordsOf(clientRequestId);
    const named = records.filter((record) => record.entityId === entityId);
    const candidates = named.length > 0 ? named : records.filter((record) => !record.entityId);
    return candidates.find((record) => record.status !== 'failed') ?? candidates[0] ?? (records.length === 1 ? records[0] : undefined);
  };

  for (const post of observation.graphPosts) {
    const origin = post.headers['x-emulator-origin'];
    if (origin === 'reconciliation') violations.push(`reconciliation sent a create to Graph (${post.path}, client-request-id ${post.headers['client-request-id'] ?? ''})`);
  }
  for (const creation of creations) {
    if (creation.origin === 'reconciliation') violations.push(`${creation.path} was made by a create reconciliation sent (client-request-id ${creation.clientRequestId})`);
  }

  const answeredIds = new Set(
    requests.flatMap(answersOf).flatMap(({ request, answer }) => (!request.bulk && !request.manifest && isSuccess(answer) && answer.kind === 'answered' ? [String(answer.body?.id)] : [])),
  );
  // A connector group an apply made reaches its caller in the apply's results (its answer, or its
  // status URL's) as `created`. One an apply found there (`exists`, `differs`) is reported as another
  // request's work: it does not tell the caller of the create that made it which group that was, so
  // that create's record stays what it is (orphaned when its own caller never learnt the id).
  const madeByApply = (result: { at: string; outcome: string }) => result.at.startsWith('connectorGroups') && result.outcome === 'created';
  const applyAnswers = [...requests.flatMap((request) => (request.manifest ? [request.answer, request.resumed, request.job?.final] : [])), ...observation.polls.map((poll) => poll.answer)];
  for (const answer of applyAnswers) {
    if (answer?.kind === 'answered' && answer.status === 200) for (const result of manifestResults(observation.target, answer.body) ?? []) if (madeByApply(result)) answeredIds.add(result.id);
  }
  for (const apply of audit.applies) for (const result of manifestResults(observation.target, apply.results) ?? []) if (madeByApply(result)) answeredIds.add(result.id);
  for (const creation of creations) {
    const maker = makerOf(creation);
    if (!maker) {
      if (creation.origin !== 'reconciliation' && creation.origin !== outsideOrigin) violations.push(`${creation.path} exists in Graph, made by no caller's request (origin ${creation.origin ?? 'none'})`);
      continue;
    }
    const record = recordOfMaker(maker.clientRequestId, creation.id);
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
    const owner = requestBy.get(record.clientRequestId);
    if ((record.status === 'succeeded' || record.status === 'orphaned') && record.entityId) {
      const path = entityPathOf(record.graphPath, record.entityId);
      const creation = madeAt.get(path);
      if (!creation) violations.push(`record ${record.rowKey} says ${record.status} for ${path}, which is not in Graph`);
      else {
        // The record claims the entity: the ask that made it must be the record's own.
        const maker = makerOf(creation);
        if (owner && maker && !sameAsk(maker, owner, creation.id)) {
          violations.push(`record ${record.rowKey} of ${describe(owner)} says ${record.status} for ${path}, which ${describe(maker)} made`);
        }
        if (creation.origin === outsideOrigin && !(owner && outsideTakenAfterLostAnswer(owner, creation))) {
          violations.push(`record ${record.rowKey}${owner ? ` of ${describe(owner)}` : ''} says ${record.status} for ${path}, which no caller made`);
        }
      }
    }
    if (record.status === 'failed' && record.entityId && owner) {
      const made = creations.find((creation) => canonicalPath(creation.path) === entityPathOf(record.graphPath, record.entityId) && makerOf(creation) === owner);
      // An apply makes several attempts at one entity under its client-request-id (a run's attempt
      // that made nothing says failed, a later run's made it): the one that made it must not say failed.
      const madeByAnother = owner.manifest && recordsOf(owner.clientRequestId).some((other) => other !== record && other.entityId.toLowerCase() === record.entityId.toLowerCase() && other.status !== 'failed');
      if (made && !madeByAnother && !(owner.manifest && claimedBySameAsk(owner, made))) violations.push(`record ${record.rowKey} of ${describe(owner)} says failed, but that request made ${made.path}`);
    }
    if (observation.final && record.status === 'pending') {
      violations.push(`record ${record.rowKey}${owner ? ` of ${describe(owner)}` : ''} is still pending after every reconciliation run`);
    }
    if (observation.final && record.status === 'unknown' && existenceCheckOf(observation.target.operation) !== 'createConflict' && !rivalsMadeIt(observation, record.graphPath) && !beforeListMissing(observation, record) && !otherSpellingMade(observation, record)) {
      violations.push(`record ${record.rowKey}${owner ? ` of ${describe(owner)}` : ''} is left unknown, though Graph has a read for ${record.graphPath} (${record.reason ?? 'no reason'})`);
    }
  }

  // A key lives for the retention from its first use; a request after that starts it afresh.
  const keyed = new Map<string, ObservedRequest[]>();
  const lifetimes = new Map<string, { started: number; generation: number }>();
  for (const request of [...requests].sort((one, other) => one.at - other.at)) {
    // A bulk request makes several entities; its key's guarantees are checked per member below.
    // A manifest's key names one apply (its successes name it), whatever entities the apply makes.
    if (!request.key || request.bulk) continue;
    const name = `${request.caller}/${request.key}${request.manifest ? ' (manifest apply)' : ''}`;
    let lifetime = lifetimes.get(name);
    if (!lifetime || request.at >= lifetime.started + retentionMs) {
      lifetime = { started: request.at, generation: (lifetime?.generation ?? 0) + 1 };
      lifetimes.set(name, lifetime);
    }
    const key = lifetime.generation === 1 ? name : `${name} (after its retention, use ${lifetime.generation})`;
    keyed.set(key, [...(keyed.get(key) ?? []), request]);
  }
  for (const [key, sharing] of keyed) {
    const made = sharing.some((request) => request.manifest) ? [] : creations.filter((creation) => sharing.includes(makerOf(creation)!));
    if (made.length > 1) violations.push(`Idempotency-Key ${key}: ${made.length} entities in Graph (${made.map((creation) => creation.id).join(', ')})`);
    // An answer without an id is a violation of its own (below).
    const answered = new Set(
      sharing.flatMap(answersOf).flatMap(({ answer }) => (isSuccess(answer) && answer.kind === 'answered' && typeof answer.body?.id === 'string' ? [answer.body.id] : [])),
    );
    if (answered.size > 1) violations.push(`Idempotency-Key ${key}: successes name different ${sharing.some((request) => request.manifest) ? 'applies' : 'entities'} (${[...answered].join(', ')})`);
    for (const id of answered) {
      if (made.length === 1 && made[0]!.id !== id) violations.push(`Idempotency-Key ${key}: answered ${id}, but the key made ${made[0]!.id}`);
    }
  }

  for (const { request, answer, label } of requests.flatMap(answersOf)) {
    if (answer.kind === 'hung') {
      violations.push(`${label} was never answered`);
      continue;
    }
    if (answer.kind === 'crashed') continue;
    if (answer.headers['idempotent-replayed'] === 'true' && isRetryLater(answer)) {
      violations.push(`${label}: the Idempotency-Key's stored answer says retry later (${answer.status} ${String(codeOf(answer))}, replayed), which is never final`);
    }
    if (request.manifest && (isSuccess(answer) || answer.status === 0)) {
      violations.push(...manifestViolations(request, answer, observation, madeAt, makerOf, recordsOf, claimedBySameAsk, outsideTakenAfterLostAnswer));
      continue;
    }
    if (request.job) {
      violations.push(...jobViolations(request, observation, madeAt, makerOf, recordsOf, outsideTakenAfterLostAnswer));
      continue;
    }
    if (answer.status === 0) {
      violations.push(`${label}: the handler threw ${JSON.stringify(answer.body)}`);
      continue;
    }
    if (request.bulk && isSuccess(answer)) {
      violations.push(...bulkViolations(request, answer.body, madeAt, makerOf, recordsOf, observation.final, outsideTakenAfterLostAnswer));
      continue;
    }
    if (isSuccess(answer)) {
      const id = answer.body?.id;
      if (typeof id !== 'string') {
        violations.push(`${label} was answered ${answer.status} without an id`);
        continue;
      }
      const path = entityPathOf(request.path, id);
      const creation = madeAt.get(path);
      if (!creation) {
        violations.push(`${label} was answered ${answer.status} for ${path}, which is not in Graph`);
        continue;
      }
      const maker = makerOf(creation);
      if ((!maker || !sameAsk(maker, request, id)) && !outsideTakenAfterLostAnswer(request, creation)) {
        violations.push(`${label} was answered ${answer.status} for ${path}, which ${maker ? describe(maker) : 'no caller'} made`);
      }
      continue;
    }
    const code = (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
    if (typeof code !== 'string') violations.push(`${label}: ${answer.status} is not Graph-shaped`);
    if (answer.status >= 500 && !answer.headers['retry-after']) {
      violations.push(`${label}: ${answer.status} ${String(code)} without Retry-After`);
    }
    if ((answer.status >= 400 && answer.status < 500 && answer.status !== 409) || code === 'createInProgress') {
      const made = creations.filter((creation) => makerOf(creation) === request);
      if (made.length > 0) violations.push(`${label} was answered ${answer.status} ${String(code)}, but made ${made[0]!.path}`);
    }
    if (answer.status === 409 && typeof code === 'string' && !facadeConflictCodes.has(code)) {
      const madeByOwnAsk = ownAskMadeItOpen(request);
      if (madeByOwnAsk) violations.push(`${label} was answered Graph's 409 ${code} for ${madeByOwnAsk.path}, which an earlier request of its own ask (${describe(makerOf(madeByOwnAsk)!)}) made, its attempt still open`);
    }
  }

  if (observation.final) {
    // A job that ran, or whose 202 reached its caller (one whose request died before it was queued never runs, and nobody was told of it).
    const started = (job: AuditTableView['bulk'][number]) => job.status === 'running' || byJob.has(job.rowKey);
    for (const job of audit.bulk.filter((candidate) => candidate.async && candidate.status !== 'completed' && started(candidate))) {
      const owner = requestBy.get(job.clientRequestId);
      violations.push(`job record ${job.rowKey}${owner ? ` of ${describe(owner)}` : ''} is still ${job.status} (done ${job.done} of ${job.total}) after faults stopped and every run had its turn`);
    }
  }

  for (const poll of observation.polls) {
    const { answer } = poll;
    if (answer.kind === 'hung') violations.push(`the status URL of job ${poll.jobId} was never answered (step ${poll.step})`);
    if (answer.kind !== 'answered') continue;
    if (answer.status >= 500 && !answer.headers['retry-after']) {
      violations.push(`the status URL of job ${poll.jobId} answered ${answer.status} ${String(codeOf(answer))} without Retry-After (step ${poll.step})`);
    }
    if (answer.status === 0) violations.push(`the status URL of job ${poll.jobId}: the handler threw ${JSON.stringify(answer.body)}`);
  }

  if (!observation.final && observation.reapplied) violations.push(...reapplyViolations(observation.reapplied, observation.target));
  if (!observation.final) violations.push(...registrationViolations(observation));

  for (const [path, rowKey] of audit.index) {
    const record = audit.records.find((candidate) => candidate.rowKey === rowKey);
    const creation = madeAt.get(canonicalPath(path));
    if (!record) violations.push(`the entity index of ${path} points at no record (${rowKey})`);
    else if (!creation) violations.push(`the entity index names ${path}, which is not in Graph`);
    else {
      const maker = makerOf(creation);
      const indexed = requestBy.get(record.clientRequestId);
      const taken = indexed !== undefined && outsideTakenAfterLostAnswer(indexed, creation);
      if ((!maker || !indexed || !sameAsk(maker, indexed, creation.id)) && !taken) {
        violations.push(`the entity index of ${path} points at the record of ${indexed ? describe(indexed) : 'no request'}, but ${maker ? describe(maker) : 'no request'} made it`);
      }
    }
  }
  return violations;
}

/** 409s the facade answers itself ("retry later", "the key is busy or spent"); any other 409 is Graph's, passed on. */
const facadeConflictCodes = new Set(['createOutcomeUnknown', 'idempotencyKeyInUse', 'idempotencyKeyExhausted']);
const codeOf = (answer: Extract<Answer, { kind: 'answered' }>) => (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
/**
 * An answer that tells the caller to come back: a 5xx, a 429, an error with `Retry-After`, or
 * "the outcome is not known yet" (a 202 with its status URL is final: it names where the work is).
 */
const isRetryLater = (answer: Extract<Answer, { kind: 'answered' }>) =>
  answer.status >= 500 || answer.status === 429 || codeOf(answer) === 'createOutcomeUnknown' || (answer.status >= 400 && answer.headers['retry-after'] !== undefined);

type MakerOf = (creation: Creation) => ObservedRequest | undefined;
type RecordsOf = (clientRequestId: string) => AuditRecordView[];
/** Whether a request may claim an entity made outside the facade (`outsideTakenAfterLostAnswer`). */
type OutsideTaken = (request: ObservedRequest, creation: Creation) => boolean;

/** An accepted job: once faults stopped and runs had their turns, its status URL answers its results, which must hold as a bulk 200's. */
function jobViolations(request: ObservedRequest, observation: Observation, madeAt: Map<string, Creation>, makerOf: MakerOf, recordsOf: RecordsOf, outsideTaken: OutsideTaken): string[] {
  const final = request.job?.final;
  if (!final) return [];
  if (final.kind !== 'answered') return [`${describe(request)}: job ${request.job!.id}'s status URL was never answered`];
  if (final.status === 202) {
    return [`${describe(request)}: job ${request.job!.id} never ended: after faults stopped and every run had its turn, its status URL still says ${String(final.body?.status)} (done ${String(final.body?.done)} of ${String(final.body?.total)}) with no run holding it`];
  }
  if (final.status !== 200) return [`${describe(request)}: job ${request.job!.id}'s status URL answered ${final.status} ${JSON.stringify(final.body).slice(0, 200)}`];
  return bulkViolations(request, final.body, madeAt, makerOf, recordsOf, observation.final, outsideTaken);
}

/** What a bulk request's 200 says of each member, against its records, what Graph holds and who made it. */
function bulkViolations(
  request: ObservedRequest,
  body: Record<string, unknown> | undefined,
  madeAt: Map<string, Creation>,
  makerOf: MakerOf,
  recordsOf: RecordsOf,
  final: boolean,
  outsideTaken: OutsideTaken,
): string[] {
  const violations: string[] = [];
  const results = (body as { results?: { id: string; status: string; error?: { httpStatus?: number; code?: string } }[] } | undefined)?.results;
  if (!Array.isArray(results) || results.length !== Object.keys(request.bodies).length) {
    return [`${describe(request)} was answered 200 without a result per member: ${JSON.stringify(body).slice(0, 200)}`];
  }
  const records = recordsOf(request.clientRequestId);
  for (const result of results) {
    const path = entityPathOf(request.path, result.id);
    const creation = madeAt.get(path);
    const record = records.find((candidate) => candidate.entityId === result.id);
    const maker = creation ? makerOf(creation) : undefined;
    if (result.status === 'created' || result.status === 'alreadyMember') {
      if (!creation) {
        violations.push(`${describe(request)} reported ${result.id} ${result.status}, but it is not in Graph`);
        continue;
      }
      if (result.status === 'created' && (!maker || !sameAsk(maker, request, result.id)) && !outsideTaken(request, creation)) {
        violations.push(`${describe(request)} reported ${result.id} created, which ${maker ? describe(maker) : 'no caller'} made`);
      }
      // What a single add would answer: 409 for a member an earlier, finished request of the same
      // ask made is Graph's answer and may stand; this very request's add never is "already there".
      if (result.status === 'alreadyMember' && maker === request) {
        violations.push(`${describe(request)} reported ${result.id} alreadyMember, but this request made it`);
      }
      // An item reported created that this request's ask made (the oracle's origin tag) may keep an
      // unknown record when its settlement write was lost: a member has no read, so nothing can
      // confirm it later, as for a single add whose outcome write failed. Any other pairing of a
      // result with an unknown record is a result the facade could not know.
      const madeHere = result.status === 'created' && maker !== undefined && sameAsk(maker, request, result.id);
      if (record?.status === 'unknown' && !madeHere) violations.push(`${describe(request)} reported ${result.id} ${result.status}, but its record says unknown`);
      // (The unknown record allowed just above stays allowed at the end: reconciliation cannot settle a member.)
      if (final && result.status === 'created' && record && record.status !== 'succeeded' && !(record.status === 'unknown' && madeHere)) {
        violations.push(`${describe(request)} reported ${result.id} created, but its record says ${record.status}`);
      }
      continue;
    }
    const status = result.error?.httpStatus ?? 0;
    if (status >= 400 && status < 500 && status !== 409 && maker === request) {
      violations.push(`${describe(request)} reported ${result.id} failed with ${status} ${String(result.error?.code)}, but made it`);
    }
    const nothingSent = result.error?.code === 'deadlineExceeded' || /nothing was sent/i.test(String((result.error as { message?: unknown } | undefined)?.message ?? ''));
    if (nothingSent) {
      // "Nothing was sent": Graph received no add of it from this request, and its record (if any) says failed.
      const code = String(result.error?.code);
      if (maker === request) violations.push(`${describe(request)} reported ${result.id} ${code} (nothing sent), but made it`);
      if (final && record && record.status !== 'failed') {
        violations.push(`${describe(request)} reported ${result.id} ${code} (nothing sent), but its record says ${record.status}${record.reason ? ` (${record.reason})` : ''}`);
      }
    }
  }
  return violations;
}

/**
 * A manifest apply's answer (its 200, or for a 202 its status URL's answer once faults stopped and
 * every run had its turn), against Graph and the audit trail: an entity reported `created` was made
 * by this apply's ask (by the creates' origin tags) and its audit record is this apply's; `exists`
 * or `differs` was made by another request or existed before, never by this apply; `failed` or
 * `notAttempted` was not made by this apply; a failed apply says why.
 */
/**
 * Whether Graph holds the entity a result names: at its path, or, for a result without one (a
 * connector group, whose id Graph chooses), any entity of the target's collection.
 */
function heldByGraph(result: { graphPath?: string | undefined }, observation: Observation, creation: Creation | undefined): boolean {
  if (result.graphPath) return creation !== undefined;
  const collection = `${observation.target.operation.graphPath.replace(/^\//, '')}/`;
  return observation.creations.some((candidate) => candidate.path.startsWith(collection));
}

function manifestViolations(
  request: ObservedRequest,
  answer: Answer,
  observation: Observation,
  madeAt: Map<string, Creation>,
  makerOf: MakerOf,
  recordsOf: RecordsOf,
  claimedBySameAsk: (request: ObservedRequest, creation: Creation) => boolean,
  outsideTaken: OutsideTaken,
): string[] {
  let ended = answer;
  if (ended.kind === 'answered' && ended.status === 0) return [`${describe(request)}: the handler threw ${JSON.stringify(ended.body)}`];
  if (request.job) {
    const final = request.job.final;
    const id = request.job.id;
    if (!final || final.kind !== 'answered') return [`${describe(request)}: manifest apply ${id}'s status URL was never answered`];
    if (final.status === 202) {
      return [`${describe(request)}: manifest apply ${id} never ended: after faults stopped and every run had its turn, its status URL still says ${String(final.body?.status)} (step ${String(final.body?.step)}: ${String(final.body?.waitingOn)})`];
    }
    if (final.status !== 200) return [`${describe(request)}: manifest apply ${id}'s status URL answered ${final.status} ${JSON.stringify(final.body).slice(0, 200)}`];
    ended = final;
  }
  if (ended.kind !== 'answered') return [];
  const results = manifestResults(observation.target, ended.body);
  if (ended.body?.status !== 'completed' || !results) return [`${describe(request)}: manifest apply answered 200 without its results: ${JSON.stringify(ended.body).slice(0, 200)}`];
  const violations: string[] = [];
  // A keyed retry is answered with the first request's apply: its records carry that request's client-request-id.
  const apply = observation.audit.applies.find((candidate) => candidate.rowKey === ended.body?.id);
  const records = recordsOf(apply?.clientRequestId ?? request.clientRequestId);
  if (ended.body.outcome === 'failed' && !results.some((result) => result.outcome === 'failed' || result.outcome === 'notAttempted')) {
    violations.push(`${describe(request)}: manifest apply answered failed, but no entity of it failed`);
  }
  for (const result of results) {
    const creation = result.graphPath ? madeAt.get(canonicalPath(result.graphPath)) : undefined;
    const maker = creation ? makerOf(creation) : undefined;
    const named = `${result.at} (${result.id})`;
    switch (result.outcome) {
      case 'created':
        if (!creation) violations.push(`${describe(request)} reported ${named} created, but it is not in Graph`);
        else if ((!maker || !sameAsk(maker, request, creation.id)) && !outsideTaken(request, creation)) violations.push(`${describe(request)} reported ${named} created, which ${maker ? describe(maker) : 'no caller'} made`);
        if (result.auditRecordId && !records.some((record) => record.rowKey === result.auditRecordId) && !observation.audit.applies.some((apply) => apply.rowKey === result.auditRecordId)) {
          violations.push(`${describe(request)} reported ${named} created with audit record ${result.auditRecordId}, which is not a record of this apply`);
        }
        break;
      case 'exists':
      case 'differs':
        if (result.target && !creation) violations.push(`${describe(request)} reported ${named} ${result.outcome}, but it is not in Graph`);
        // Unless the audit trail credits another request of the same ask with it (which of the two made it cannot always be told).
        if (creation && maker === request && !claimedBySameAsk(request, creation)) violations.push(`${describe(request)} reported ${named} ${result.outcome}, but this apply made it`);
        break;
      case 'failed':
        if (!result.error?.message) violations.push(`${describe(request)} reported ${named} failed without a reason`);
        // Unless it says the outcome is unknown (an add whose answer was lost, beside another request's), as a bulk item may.
        if (creation && maker === request && result.error?.code !== 'createOutcomeUnknown') violations.push(`${describe(request)} reported ${named} failed (${String(result.error?.httpStatus)} ${String(result.error?.code)}), but this apply made it`);
        // A failure that tells the caller Graph holds the entity (found there, or Graph's 409) is true.
        if (result.target && /Microsoft Graph has it now/.test(result.error?.message ?? '') && !heldByGraph(result, observation, creation)) {
          violations.push(`${describe(request)} reported ${named} failed saying Microsoft Graph has it, but Graph holds no such entity`);
        }
        break;
      case 'notAttempted':
        if (creation && maker === request) violations.push(`${describe(request)} reported ${named} notAttempted, but this apply made it`);
        break;
      default:
        violations.push(`${describe(request)} reported ${named} with an outcome no apply gives: ${result.outcome}`);
    }
  }
  return violations;
}

/** The same manifest applied again after an apply of it succeeded: nothing is created, every entity `exists` (or `differs`). */
function reapplyViolations(reapplied: NonNullable<Observation['reapplied']>, target: Observation['target']): string[] {
  const violations: string[] = [];
  const of = `re-applying the manifest of ${describe(reapplied.of)}`;
  if (reapplied.creates > 0) violations.push(`${of} made ${reapplied.creates} entities in Graph`);
  const { answer } = reapplied;
  if (answer.kind !== 'answered' || answer.status !== 200) return [...violations, `${of} was answered ${answer.kind === 'answered' ? `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}` : answer.kind}, not 200`];
  for (const result of manifestResults(target, answer.body) ?? []) {
    if (result.outcome !== 'exists' && result.outcome !== 'differs') violations.push(`${of} reported ${result.at} (${result.id}) ${result.outcome}, not exists`);
  }
  return violations;
}

const describeRegistration = (registration: ObservedRegistration) =>
  `schema registration request ${registration.step} (caller ${registration.caller}${registration.key ? `, key ${registration.key}` : ''}, connection ${registration.connectionId})`;

/**
 * Schema registrations: each answer of the request and of its status URL is answered, Graph-shaped,
 * a 5xx with `Retry-After`; an accepted one names its id, and once faults stopped and its caller
 * followed its status URL past the abandon age it has ended (200), `succeeded` only if Graph
 * completed an operation on its connection, `failed` with a reason.
 */
function registrationViolations(observation: Observation): string[] {
  const violations: string[] = [];
  const judge = (label: string, answer: Answer) => {
    if (answer.kind === 'hung') return violations.push(`${label} was never answered`);
    if (answer.kind === 'crashed') return;
    if (answer.status === 0) return violations.push(`${label}: the handler threw ${JSON.stringify(answer.body)}`);
    if (answer.status >= 400) {
      const code = codeOf(answer);
      if (typeof code !== 'string') violations.push(`${label}: ${answer.status} is not Graph-shaped`);
      if (answer.status >= 500 && !answer.headers['retry-after']) violations.push(`${label}: ${answer.status} ${String(code)} without Retry-After`);
    }
  };
  for (const registration of observation.registrations) {
    const label = describeRegistration(registration);
    judge(label, registration.answer);
    if (registration.resumed) judge(`${label}, resumed after its instance stalled,`, registration.resumed);
    if (!registration.id) continue;
    const final = registration.final;
    if (!final || final.kind !== 'answered') {
      violations.push(`${label}: registration ${registration.id}'s status URL was never answered`);
      continue;
    }
    if (final.status === 202) {
      violations.push(`${label}: registration ${registration.id} never ended: after faults stopped and its status URL was followed past the abandon age, it still says ${String(final.body?.status)}`);
      continue;
    }
    if (final.status !== 200) {
      violations.push(`${label}: registration ${registration.id}'s status URL answered ${final.status} ${JSON.stringify(final.body).slice(0, 200)}`);
      continue;
    }
    const status = final.body?.status;
    const error = final.body?.error as { message?: unknown } | undefined;
    if (status === 'failed' && !(typeof error?.message === 'string' && error.message.length > 0)) violations.push(`${label}: registration ${registration.id} ended failed without a reason`);
    else if (status === 'succeeded') {
      const completed = observation.schemaOperations.some((operation) => operation.connectionId.toLowerCase() === registration.connectionId.toLowerCase() && operation.status === 'completed');
      if (!completed) violations.push(`${label}: registration ${registration.id} ended succeeded, but Graph completed no schema operation on its connection`);
    } else if (status !== 'failed') violations.push(`${label}: registration ${registration.id}'s status URL answered 200 with status ${String(status)}`);
  }
  for (const poll of observation.registrationPolls) {
    judge(`the status URL of schema registration ${poll.id} (step ${poll.step})`, poll.answer);
  }
  return violations;
}
