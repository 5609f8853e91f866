import { randomBytes } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import type { Creation, ReceivedRequest } from '../../dev/graphEmulator';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import { bulkStages, createOperationHandler, createStages } from '../../shared/pipeline/pipeline';
import type { NamedOperation } from '../../shared/operations/operation';
import type { RequestContext, Stage } from '../../shared/pipeline/context';
import { runQueuedBulkJob, type BulkJobMessage } from '../../shared/bulk/job';
import { isApplyMessage, runQueuedApply, type ApplyMessage } from '../../shared/manifest/applyJob';
import { applyConnectorManifest, applyStages, applyStatusFunction, applyStatusStages } from '../../functions/connectorManifests';
import { registerConnectionSchema, registerSchemaStages, schemaStatusFunction, schemaStatusStages } from '../../functions/registerConnectionSchema';
import { isSchemaRegistrationMessage, runSchemaRegistration, type SchemaRegistrationMessage } from '../../shared/manifest/schemaRegistration';
import type { ConnectionOperation } from '../../dev/schemaRegistration';
import { bulkStatus } from '../../shared/pipeline/stages/bulkStatus';
import { authenticate } from '../../shared/pipeline/stages/authenticate';
import { respond } from '../../shared/pipeline/stages/respond';
import { createHandler } from '../../shared/pipeline/pipeline';
import { asyncWorkQueueName } from '../../shared/storage/queue';
import type { Runtime } from '../../shared/runtime';
import { readAuditTable, reconcileOnce, type AuditTableView } from './auditView';
import { Interleaving } from './interleaving';
import { canonicalPath } from './invariants';
import { crashPointOf, minute, type Crash, type GraphFault, type JobStep, type ManifestStep, type RequestStep, type Schedule, type SchemaStep, type TableFault } from './schedule';
import { Stalls, type Stall } from './stalls';
import { faultStep, parentConnections, targetFor, type Target } from './targets';
import { manifestConnectionOfConnectorGroups, manifestFor, type ManifestRequest } from './manifestTargets';
import { requestScope, StorageWire, type Lane, type RequestScope, type ScheduleClock, type Scene, type World } from './world';

/** What a caller saw of one request: its answer, or nothing (the instance died), or no end at all. */
export type Answer =
  | { kind: 'answered'; status: number; headers: Record<string, string>; body: Record<string, unknown> | undefined }
  | { kind: 'crashed' }
  | { kind: 'hung' };

export interface ObservedRequest {
  step: number;
  /** A bulk request (its path is then the collection its members go to, as a single add's). */
  bulk: boolean;
  /** Which body each entity the request asks for was asked with (entity id → body), for "the same ask". */
  bodies: Record<string, string>;
  caller: 'A' | 'B';
  callerId: string;
  key: string | null;
  body: 0 | 1;
  /** The Graph call's path (version included), which is the facade route below /api. */
  path: string;
  clientRequestId: string;
  answer: Answer;
  /** Where its instance died, if it did. */
  crash: RequestStep['crash'];
  /**
   * Its instance stalled (answer `crashed`) and came back when time passed: what it answered
   * then, judged as any answer. Absent while it stays frozen, or when it never finished (a
   * violation of its own).
   */
  resumed?: Answer;
  /** When it was sent, on the schedule's clock. */
  at: number;
  /** The `x-emulator-origin` tag of its Graph calls (the oracle's: which creates this request sent). */
  origin: string;
  /** An async bulk request accepted (202): its job's id, and the status URL's last answer after every run had its turn. */
  job?: { id: string; final: Answer | undefined };
  /**
   * A manifest apply (its `bodies` are those of the entities of the target's kind it names; its
   * `path` the collection they go to), and the manifest it applied. Accepted (202): `job` is the apply's.
   */
  manifest?: ManifestRequest['body'];
}

/** A schema registration a `schema` step asked for, and what became of it. */
export interface ObservedRegistration {
  step: number;
  caller: 'A' | 'B';
  key: string | null;
  connectionId: string;
  origin: string;
  clientRequestId: string;
  answer: Answer;
  /** Its instance stalled and came back: what it answered then. */
  resumed?: Answer;
  /** Accepted (202, or 200 when Graph's operation already ended): the registration's id its status URL names. */
  id?: string;
  /** The status URL's last answer after faults stopped and it was followed past the abandon age. */
  final?: Answer;
}

/** One answer of a registration's status URL (during the schedule or while it is followed after). */
export interface ObservedRegistrationPoll {
  step: number;
  id: string;
  answer: Answer;
}

/**
 * What a schedule reached, as observed: reconciliation (inside the schedule) examined an open
 * record; a keyed request came after a request with the key whose instance died; a storage write
 * landed with its answer lost; a job was run by more than one run (taken over); a job's lease
 * renewal was written while its run paused; one entity was asked for under two spellings; a
 * request whose instance stalled came back and answered; a late storage call was passed on the
 * wire by a write of another request or run (`lateCallOvertaken`).
 */
export type ScenarioHit =
  | 'reconcileExaminedRecord'
  | 'keyedRetryAfterCrash'
  | 'storageAnswerLost'
  | 'jobTakenOver'
  | 'jobRunPaused'
  | 'renewalAnswerLost'
  | 'entityMadeOutside'
  | 'twoSpellings'
  | 'manifestBesideSingle'
  | 'requestResumed'
  | 'lateCallOvertaken'
  | 'registrationMessageLost'
  | 'askInFlightAnswered';
/**
 * `askInFlightAnswered`: a request was answered 503 `createInProgress` (Graph's 409 while another
 * request of its ask was still waiting for Graph's answer).
 */
/**
 * `manifestBesideSingle`: a manifest apply ended (200, or its job's status URL 200) in a schedule
 * where a single or bulk request asked for an entity the manifest names.
 */
/**
 * `registrationMessageLost`: an accepted schema registration's queue message went to the poison
 * queue (its runs failed on storage until then), and its status URL was read after that.
 */
export const scenarioHits: ScenarioHit[] = [
  'reconcileExaminedRecord',
  'keyedRetryAfterCrash',
  'storageAnswerLost',
  'jobTakenOver',
  'jobRunPaused',
  'renewalAnswerLost',
  'entityMadeOutside',
  'twoSpellings',
  'manifestBesideSingle',
  'requestResumed',
  'lateCallOvertaken',
  'registrationMessageLost',
  'askInFlightAnswered',
];

/** One answer of a status URL during the schedule (slow storage included). */
export interface ObservedPoll {
  step: number;
  jobId: string;
  answer: Answer;
}

export interface Observation {
  target: Target;
  requests: ObservedRequest[];
  creations: Creation[];
  /** Creates Graph received (each attempt). */
  graphPosts: ReceivedRequest[];
  audit: AuditTableView;
  polls: ObservedPoll[];
  /** A bulk job's id → the origin of the request that queued it (test/simulation/world.ts `jobQueuedBy`). */
  jobQueuedBy: ReadonlyMap<string, string>;
  /** The dangerous scenarios this schedule actually reached (not only aimed at): counted against their floor. */
  hits: Set<ScenarioHit>;
  /** Taken after the final reconciliation (when every abandoned request had time to be settled). */
  final: boolean;
  /** Manifest applies that ended (answered 200, or their job's status URL 200), counted per schedule. */
  manifestsApplied: number;
  /**
   * The same manifest applied again once faults stopped and every job ended, after an apply of it
   * ended `succeeded`: its answer, and the creates Graph received from it (it must make none).
   */
  reapplied?: { of: ObservedRequest; answer: Answer; creates: number };
  /** Schema registrations asked for, the answers of their status URLs, and Graph's connection operations. */
  registrations: ObservedRegistration[];
  registrationPolls: ObservedRegistrationPoll[];
  schemaOperations: ConnectionOperation[];
}

/** Longest a request that did not crash may take: its deadline, its audit writes and a margin. */
const answerWithinMs = 15_000;

/**
 * A pipeline with a crash point before and after each stage, armed per request (a crash inside a
 * stage is taken at its storage call or Graph attempt instead: world.ts). A bulk pipeline is
 * shorter: a crash past its last stage happens at its last (where its work is done).
 */
export function crashable<Context extends RequestContext<NamedOperation>>(stages: readonly Stage<Context>[]): readonly Stage<Context>[] {
  return stages.map((stage, index): Stage<Context> => async (context, next) => {
  const scope = requestScope.getStore();
  const crashHere = (when: 'before' | 'after') =>
    scope?.crash !== null &&
    scope?.crash !== undefined &&
    crashPointOf(scope.crash) === 'stageBoundary' &&
    Math.min(scope.crash.stage, stages.length - 1) === index &&
    scope.crash.when === when;
  if (crashHere('before')) await scope!.freeze();
  let result: HttpResponseInit | undefined;
  let failure: unknown;
  let failed = false;
  try {
    result = await stage(context, next);
  } catch (error) {
    failed = true;
    failure = error;
  }
  if (crashHere('after')) await scope!.freeze();
  if (failed) throw failure;
  return result as HttpResponseInit;
  });
}

const crashableStages = crashable(createStages);
const crashableBulkStages = crashable(bulkStages);
const crashableApplyStages = crashable(applyStages);
const crashableSchemaStages = crashable(registerSchemaStages);

/** A schema Graph takes (test/integration/schemaRegistration.test.ts). */
export const simulatedSchema = {
  baseType: 'microsoft.graph.externalItem',
  properties: [
    { name: 'ticketTitle', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] },
    { name: 'priority', type: 'String', isQueryable: true, isRetrievable: true, isSearchable: false },
    { name: 'assignee', type: 'String', isRetrievable: true },
  ],
};
/** How long Graph's connection operation runs (real time: the emulator's clock is not the schedule's). */
const schemaProvisioningMs = 150;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const responseAnswer = (response: HttpResponseInit): Answer => ({
  kind: 'answered',
  status: response.status ?? 200,
  headers: headersOf(response),
  body: response.jsonBody as Record<string, unknown> | undefined,
});
const thrownAnswer = (error: unknown): Answer => ({ kind: 'answered', status: 0, headers: {}, body: { thrown: String(error) } });
/** The job an accepted (202) bulk request names. */
const jobIdOf = (bulk: unknown, answer: Answer): string | undefined =>
  bulk && answer.kind === 'answered' && answer.status === 202 && typeof answer.body?.id === 'string' ? answer.body.id : undefined;

function headersOf(response: HttpResponseInit): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(response.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

/**
 * A stalled instance that comes back finishes the request: its answer is kept to be judged too (an
 * accepted job or apply it names is then followed as any other). Kept only once the stall resumed:
 * the facade's own timers can end a handler whose storage call or Graph attempt is frozen (its
 * instance dead), and nobody hears that answer.
 */
function recordResumed(observed: ObservedRequest, running: Promise<HttpResponseInit>, stall: Stall, runsAsJob: boolean): Promise<void> {
  return Promise.all([running.then(responseAnswer, thrownAnswer), stall.resumed]).then(([resumed]) => {
    observed.resumed = resumed;
    const resumedJob = jobIdOf(runsAsJob, resumed);
    if (resumedJob && !observed.job) observed.job = { id: resumedJob, final: undefined };
  });
}

/** How a manifest apply ended, as its caller was told (its 200, or its status URL's last 200); undefined while not ended. */
export function manifestOutcomeOf(request: ObservedRequest): string | undefined {
  const ended = request.job?.final ?? request.resumed ?? request.answer;
  if (ended.kind !== 'answered' || ended.status !== 200 || ended.body?.status !== 'completed') return undefined;
  return String(ended.body.outcome);
}

/** What the caller of a handler sees: its answer, nothing (its instance died), or no end within the bound. */
function answerOf(running: Promise<HttpResponseInit>, died: Promise<void>): Promise<Answer> {
  return Promise.race([
    running.then(responseAnswer, thrownAnswer),
    died.then((): Answer => ({ kind: 'crashed' })),
    sleep(answerWithinMs).then((): Answer => ({ kind: 'hung' })),
  ]);
}

/**
 * Runs one schedule and checks it. `interleaving` records the order its calls completed in (and,
 * made from a recording, holds each call until its turn: a failure replayed).
 */
export async function runSchedule(
  world: World,
  lane: Lane,
  schedule: Schedule,
  check: (observation: Observation) => string[],
  interleaving: Interleaving = new Interleaving(),
): Promise<string[]> {
  const target = targetFor(schedule.target);
  lane.graph.reset();
  for (const parent of target.parents) lane.graph.seed(parent.collectionName, { id: parent.id }, parent.parentIds);
  // A manifest names a connection; connector groups have none of their own, so one is there.
  if (target.kind === 'connectorGroup' && schedule.steps.some((step) => step.kind === 'manifest')) lane.graph.seed('connections', { id: manifestConnectionOfConnectorGroups }, []);
  // A schema is registered on one of the two connections: seeded where the target does not hold them.
  lane.graph.schemaRegistrations.provisioningMs = schemaProvisioningMs;
  if (schedule.steps.some((step) => step.kind === 'schema')) {
    for (const id of parentConnections) {
      if (!lane.graph.entities('connections').some((connection) => String(connection.id).toLowerCase() === id)) lane.graph.seed('connections', { id, name: id, state: 'draft' }, []);
    }
  }
  if (schedule.outside) {
    const made = madeOutside(target);
    lane.graph.seed(target.operation.graph.collectionName, made.entity, made.parentIds);
  }
  const scene = await lane.newScene();
  try {
    return await play(world, lane, scene, lane.clock, schedule, target, check, interleaving);
  } finally {
    await scene.dispose();
  }
}

/** The origin the oracle gives an entity made outside the facade before the schedule. */
export const outsideOrigin = 'outside';

/** The target entity as made outside the facade: the first body, under the first parent; a connector group gets an id of Graph's. */
function madeOutside(target: Target): { entity: Record<string, unknown> & { id: string }; parentIds: string[]; creation: Creation } {
  const { path, params, body } = target.request({ body: 0, parent: 0, spelling: 0 });
  const id = typeof body.id === 'string' ? body.id : '0f0e0d0c-0b0a-4909-8807-060504030201';
  const parentIds = Object.entries(params).filter(([name]) => name !== 'version').map(([, value]) => value);
  return {
    entity: { ...body, id },
    parentIds,
    creation: { path: `${path.replace(/^\/[^/]+\//, '')}/${encodeURIComponent(id)}`, id, clientRequestId: outsideOrigin, origin: outsideOrigin, at: new Date(0).toISOString() },
  };
}

/** A job run's log goes nowhere: the invariants read what the run left in the table. */
const quiet = () => undefined;

async function play(
  world: World,
  { graph }: Lane,
  scene: Scene,
  clock: ScheduleClock,
  schedule: Schedule,
  target: Target,
  check: (observation: Observation) => string[],
  interleaving: Interleaving,
): Promise<string[]> {
  const handlers = scene.instances.map((instance) => createOperationHandler(target.operation, crashableStages, () => instance.runtime));
  const bulkTarget = target.bulk;
  const bulkHandlers = bulkTarget ? scene.instances.map((instance) => createOperationHandler(bulkTarget.operation, crashableBulkStages, () => instance.runtime)) : [];
  const statusHandlers = bulkTarget
    ? scene.instances.map((instance) => createHandler({ name: 'bulkJobStatus', operations: [bulkTarget.operation] }, [respond, authenticate, bulkStatus], () => instance.runtime))
    : [];
  const applyHandlers = scene.instances.map((instance) => createHandler(applyConnectorManifest, crashableApplyStages, () => instance.runtime));
  const applyStatusHandlers = scene.instances.map((instance) => createHandler(applyStatusFunction, applyStatusStages, () => instance.runtime));
  const schemaHandlers = scene.instances.map((instance) => createHandler(registerConnectionSchema, crashableSchemaStages, () => instance.runtime));
  const schemaStatusHandlers = scene.instances.map((instance) => createHandler(schemaStatusFunction, schemaStatusStages, () => instance.runtime));
  const registrations: ObservedRegistration[] = [];
  const registrationPolls: ObservedRegistrationPoll[] = [];
  /** Registration ids whose queue message went to the poison queue. */
  const poisonedRegistrations = new Set<string>();
  const requests: ObservedRequest[] = [];
  const polls: ObservedPoll[] = [];
  const alongside: Promise<void>[] = [];
  /** Requests and runs whose instance stopped at their crash point: frozen, resumed when time next passes, or dead for good. */
  const stalls = new Stalls();
  const salt = randomBytes(3).toString('hex');
  /** The schedule's storage calls as they land: what a late call waits to be passed by. */
  const wire = new StorageWire();

  /** Graph faults meant for one origin only: an overlapping request never takes another's. */
  const routeFaults = (origin: string, createFaults: GraphFault[], readFaults: GraphFault[]) => {
    if (createFaults.length > 0) graph.addFault({ method: 'POST', path: target.createPath, origin, steps: createFaults.map(faultStep) });
    if (readFaults.length > 0) graph.addFault({ method: 'GET', path: target.readPath, origin, steps: readFaults.map(faultStep) });
  };

  /** A scope for one request or run: its storage faults, its crash point, and what its crash does. */
  const scopeFor = (origin: string, tableFaults: TableFault[], crash: Crash | null, work: () => Promise<unknown>, storageDelayMs = 0) => {
    let crashed!: () => void;
    const died = new Promise<void>((resolve) => (crashed = resolve));
    const stall = stalls.add(origin, crash?.resumes ?? false);
    const scope: RequestScope = {
      origin,
      tableFaults,
      tableCalls: 0,
      graphAttempts: 0,
      crash,
      interleaving,
      storageDelayMs,
      wire,
      noteLate: (overtaken) => {
        if (overtaken) hits.add('lateCallOvertaken');
      },
      noteFault: (kind, whilePaused) => {
        if (kind === 'landedTimeout') lostAnswers.count += 1;
        if (kind === 'landedTimeout' && whilePaused) lostAnswers.whilePaused += 1;
      },
      freeze: () => {
        const frozen = stall.freeze();
        crashed();
        return frozen;
      },
    };
    const running = requestScope.run(scope, work);
    stall.holds(running);
    return { running, died, stall };
  };

  const first = schedule.steps.find((step): step is RequestStep => step.kind === 'request');
  const runRequest = async (given: RequestStep, index: number, repetition: number): Promise<void> => {
    const step = given.retry && first
      ? { ...given, caller: first.caller, key: first.key, body: first.body, parent: first.parent, bulk: first.bulk, async: first.async, spelling: first.spelling }
      : given;
    const single = target.request(step);
    const bulk = step.bulk && bulkTarget ? bulkTarget : undefined;
    const call = bulk ? bulk.request(step) : single;
    const caller = world.callers[step.caller];
    const origin = repetition === 0 ? `request ${index}` : `request ${index}.${repetition}`;
    const clientRequestId = `sim-${salt}-${index}${repetition === 0 ? '' : `.${repetition}`}`;
    const at = clock.now();
    routeFaults(origin, step.createFaults, step.readFaults);
    const request = new HttpRequest({
      method: 'POST',
      url: `http://facade.simulation/api${call.path}`,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${caller.token}`,
        'client-request-id': clientRequestId,
        ...(step.key ? { 'idempotency-key': step.key } : {}),
        ...(bulk && step.async ? { prefer: 'respond-async' } : {}),
      },
      params: call.params,
      body: { string: JSON.stringify(call.body) },
    });
    const invocation = new InvocationContext({ functionName: bulk ? bulk.operation.name : target.operation.name, logHandler: () => undefined });
    const handler = bulk ? bulkHandlers[step.instance]! : handlers[step.instance]!;
    const { running, died, stall } = scopeFor(origin, step.tableFaults, step.crash, () => handler(request, invocation), step.storageDelayMs ?? 0);
    const answer = await answerOf(running as Promise<HttpResponseInit>, died);
    const entityId = String(single.body.id ?? single.body.name ?? '');
    const jobId = jobIdOf(bulk, answer);
    const observed: ObservedRequest = {
      step: index,
      bulk: Boolean(bulk),
      bodies: { [entityId]: String(step.body), ...(bulk ? { [bulk.companionId]: 'companion' } : {}) },
      caller: step.caller,
      callerId: caller.id,
      key: step.key,
      body: step.body,
      // The collection the creates go to: a single add's path, also for a bulk request.
      path: single.path,
      clientRequestId,
      answer,
      crash: step.crash,
      at,
      origin,
      ...(jobId ? { job: { id: jobId, final: undefined } } : {}),
    };
    requests.push(observed);
    if (answer.kind === 'crashed' && step.crash?.resumes) stall.holds(recordResumed(observed, running as Promise<HttpResponseInit>, stall, Boolean(bulk)));
  };

  /** The manifest step each manifest request was sent for (a re-apply sends the same manifest). */
  const manifestSteps = new Map<ObservedRequest, ManifestStep>();
  /**
   * A manifest step: the apply as a caller sends it. Its plan's reads and its creates (inside the
   * request, or in its job's runs) carry this origin, so Graph faults meant for it reach it.
   */
  const runManifest = async (step: ManifestStep, index: number, origin = `request ${index}`): Promise<ObservedRequest> => {
    const manifest = manifestFor(target, step);
    const caller = world.callers[step.caller];
    const clientRequestId = `sim-${salt}-${index}`;
    const at = clock.now();
    routeFaults(origin, step.createFaults, step.readFaults);
    const request = new HttpRequest({
      method: 'POST',
      url: `http://facade.simulation/api${manifest.path}`,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${caller.token}`,
        'client-request-id': clientRequestId,
        ...(step.key ? { 'idempotency-key': step.key } : {}),
        ...(step.async ? { prefer: 'respond-async' } : {}),
      },
      params: manifest.params,
      body: { string: JSON.stringify(manifest.body) },
    });
    const invocation = new InvocationContext({ functionName: applyConnectorManifest.name, logHandler: () => undefined });
    const { running, died, stall } = scopeFor(origin, step.tableFaults, step.crash, () => applyHandlers[step.instance]!(request, invocation), step.storageDelayMs);
    const answer = await answerOf(running as Promise<HttpResponseInit>, died);
    const jobId = answer.kind === 'answered' && answer.status === 202 && typeof answer.body?.id === 'string' ? answer.body.id : undefined;
    const observed: ObservedRequest = {
      step: index,
      bulk: false,
      bodies: manifest.bodies,
      caller: step.caller,
      callerId: caller.id,
      key: step.key,
      body: step.body,
      path: manifest.collectionPath,
      clientRequestId,
      answer,
      crash: step.crash,
      at,
      origin,
      manifest: manifest.body,
      ...(jobId ? { job: { id: jobId, final: undefined } } : {}),
    };
    requests.push(observed);
    manifestSteps.set(observed, step);
    if (answer.kind === 'crashed' && step.crash?.resumes) stall.holds(recordResumed(observed, running as Promise<HttpResponseInit>, stall, true));
    return observed;
  };

  /**
   * A schema step: the registration as a caller sends it (its PATCH's faults routed to its origin;
   * Graph's operation made to fail when the step says so). Accepted: followed by its status URL.
   */
  const runSchema = async (step: SchemaStep, index: number): Promise<void> => {
    const caller = world.callers[step.caller];
    const origin = `request ${index}`;
    const clientRequestId = `sim-${salt}-${index}`;
    const connectionId = parentConnections[step.parent];
    if (step.patchFaults.length > 0) graph.addFault({ method: 'PATCH', path: '/schema$', origin, steps: step.patchFaults.map(faultStep) });
    if (step.operationFails) graph.schemaRegistrations.failNext(1, 'Simulated: the schema could not be provisioned.');
    const request = new HttpRequest({
      method: 'POST',
      url: `http://facade.simulation/api/v1.0/external/connections/${connectionId}/schema`,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${caller.token}`,
        'client-request-id': clientRequestId,
        ...(step.key ? { 'idempotency-key': step.key } : {}),
      },
      params: { version: 'v1.0', connectionId },
      body: { string: JSON.stringify(simulatedSchema) },
    });
    const invocation = new InvocationContext({ functionName: registerConnectionSchema.name, logHandler: () => undefined });
    const { running, died, stall } = scopeFor(origin, step.tableFaults, step.crash, () => schemaHandlers[step.instance]!(request, invocation));
    const answer = await answerOf(running as Promise<HttpResponseInit>, died);
    const observed: ObservedRegistration = { step: index, caller: step.caller, key: step.key, connectionId, origin, clientRequestId, answer };
    const accepted = (given: Answer) => (given.kind === 'answered' && (given.status === 202 || given.status === 200) && typeof given.body?.id === 'string' ? given.body.id : undefined);
    observed.id = accepted(answer);
    registrations.push(observed);
    if (answer.kind === 'crashed' && step.crash?.resumes) {
      stall.holds(
        Promise.all([(running as Promise<HttpResponseInit>).then(responseAnswer, thrownAnswer), stall.resumed]).then(([resumed]) => {
          observed.resumed = resumed;
          observed.id ??= accepted(resumed);
        }),
      );
    }
  };

  /** The status URL of a registration, read by the caller that asked for it. */
  const pollRegistration = async (instance: 0 | 1, tableFaults: TableFault[], index: number, registration: ObservedRegistration): Promise<Answer> => {
    const id = registration.id!;
    const httpRequest = new HttpRequest({
      method: 'GET',
      url: `http://facade.simulation/api/schemaRegistrations/${id}`,
      headers: { authorization: `Bearer ${world.callers[registration.caller].token}` },
      params: { id },
    });
    const invocation = new InvocationContext({ functionName: schemaStatusFunction.name, logHandler: () => undefined });
    const { running } = scopeFor(`poll ${index}`, tableFaults, null, () => schemaStatusHandlers[instance]!(httpRequest, invocation));
    const answer = await Promise.race([(running as Promise<HttpResponseInit>).then(responseAnswer, thrownAnswer), sleep(answerWithinMs).then((): Answer => ({ kind: 'hung' }))]);
    registrationPolls.push({ step: index, id, answer });
    if (poisonedRegistrations.has(id)) hits.add('registrationMessageLost');
    return answer;
  };

  const jobQueue = () => scene.queues.client(scene.queues.sceneQueueName(asyncWorkQueueName));
  /**
   * One pass of the queue trigger on an instance, as the Functions host runs it: each message that
   * is due is run; a run that returns deletes it, one that throws leaves it for the next pass (after
   * `maxDequeueCount` failures it goes to the poison queue, and its job is never run again), one
   * whose instance dies keeps it hidden for the host's message lease (10 minutes).
   */
  const runTrigger = async (step: JobStep, index: number): Promise<void> => {
    if (!requests.some((request) => request.job || request.manifest) && registrations.length === 0) return;
    const queue = await jobQueue();
    await queue.createIfNotExists();
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 16, visibilityTimeout: 60 });
    for (const item of receivedMessageItems) {
      const due = scene.queues.dueAt.get(item.messageId) ?? 0;
      if (due > clock.now()) {
        await queue.updateMessage(item.messageId, item.popReceipt, undefined, 0);
        continue;
      }
      const message = JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as BulkJobMessage | ApplyMessage | SchemaRegistrationMessage;
      const runtime: Runtime = scene.instances[step.instance].runtime;
      const origin = `job ${index} ${message.id}`;
      const registration = isSchemaRegistrationMessage(message);
      // A registration is run again and again until Graph's operation ends (no lease): not a takeover.
      if (!registration) {
        jobRuns.set(message.id, (jobRuns.get(message.id) ?? 0) + 1);
        if ((jobRuns.get(message.id) ?? 0) > 1) hits.add('jobTakenOver');
        if (step.crash?.pauseMs) hits.add('jobRunPaused');
      }
      const runId = `instance${step.instance}/${origin}/${item.messageId}`;
      // The queue-triggered function: a schema registration's look, a manifest apply's run, or a bulk job's (a manifest's members too).
      const work = isSchemaRegistrationMessage(message)
        ? () => runSchemaRegistration(runtime, message, quiet)
        : isApplyMessage(message)
          ? () => runQueuedApply(runtime, message, runId, new InvocationContext({ functionName: 'asyncWork', logHandler: () => undefined }), quiet)
          : () => (bulkTarget ? runQueuedBulkJob(runtime, [bulkTarget.operation], message as BulkJobMessage, runId, quiet) : Promise.resolve());
      const { running, died } = scopeFor(origin, step.tableFaults, step.crash, work);
      const outcome = await Promise.race([
        running.then(() => 'returned' as const, () => 'threw' as const),
        died.then(() => 'crashed' as const),
        sleep(answerWithinMs).then(() => 'hung' as const),
      ]);
      if (outcome === 'returned') {
        await queue.deleteMessage(item.messageId, item.popReceipt);
      } else if (outcome === 'threw' && item.dequeueCount >= 5) {
        await queue.deleteMessage(item.messageId, item.popReceipt);
        // A registration's lost message is part of the world: its status URL queues it again.
        if (registration) poisonedRegistrations.add(message.id);
        else poisoned.add(message.id);
      } else {
        // Hidden for the host's lease of a message whose run died; at once again after a failure.
        scene.queues.dueAt.set(item.messageId, clock.now() + (outcome === 'threw' ? 0 : 10 * minute));
        await queue.updateMessage(item.messageId, item.popReceipt, undefined, 0).catch(() => undefined);
      }
    }
  };
  const poisoned = new Set<string>();
  const stuckRuns: string[] = [];
  const hits = new Set<ScenarioHit>();
  const lostAnswers = { count: 0, whilePaused: 0 };
  /** Job id → the runs that took it. */
  const jobRuns = new Map<string, number>();

  const poll = async (instance: 0 | 1, tableFaults: TableFault[], index: number, request: ObservedRequest): Promise<Answer> => {
    const jobId = request.job!.id;
    const httpRequest = new HttpRequest({
      method: 'GET',
      url: request.manifest ? `http://facade.simulation/api/connectorManifestApplies/${jobId}` : `http://facade.simulation/api/jobs/${jobId}`,
      headers: { authorization: `Bearer ${world.callers[request.caller].token}` },
      params: { id: jobId },
    });
    const invocation = new InvocationContext({ functionName: request.manifest ? applyStatusFunction.name : 'bulkJobStatus', logHandler: () => undefined });
    const handler = request.manifest ? applyStatusHandlers[instance]! : statusHandlers[instance]!;
    const { running } = scopeFor(`poll ${index}`, tableFaults, null, () => handler(httpRequest, invocation));
    return Promise.race([(running as Promise<HttpResponseInit>).then(responseAnswer, thrownAnswer), sleep(answerWithinMs).then((): Answer => ({ kind: 'hung' }))]);
  };

  const settleAlongside = async () => {
    await Promise.all(alongside.splice(0));
  };

  for (const [index, step] of schedule.steps.entries()) {
    if (step.kind === 'request') {
      const running = (async () => {
        for (let repetition = 0; repetition < Math.max(1, step.repeat); repetition += 1) {
          if (repetition > 0) clock.offsetMs += minute;
          await runRequest(step, index, repetition);
        }
      })();
      if (step.overlaps) {
        alongside.push(running);
        continue;
      }
      await running;
    } else if (step.kind === 'reconcile') {
      routeFaults('reconciliation', [], step.readFaults);
      const { running } = scopeFor('reconciliation', step.tableFaults, null, () => reconcileOnce(scene.instances[step.instance].runtime, target.operation));
      // A run is bounded like a request: one that does not end (a storage call without a timeout) is a finding.
      const ended = await Promise.race([
        running.then((summary) => {
          if ((summary as { examined: number }).examined > 0) hits.add('reconcileExaminedRecord');
          return true;
        }),
        sleep(answerWithinMs).then(() => false),
      ]);
      if (!ended) stuckRuns.push(`the reconciliation run of step ${index} did not end within ${answerWithinMs / 1000} s (a storage call of its own that hung without a timeout?)`);
    } else if (step.kind === 'manifest') {
      const running = runManifest(step, index);
      if (step.overlaps) {
        alongside.push(running.then(() => undefined));
        continue;
      }
      await running;
    } else if (step.kind === 'job') {
      await runTrigger(step, index);
    } else if (step.kind === 'poll') {
      for (const request of requests.filter((candidate) => candidate.job)) {
        polls.push({ step: index, jobId: request.job!.id, answer: await poll(step.instance, step.tableFaults, index, request) });
      }
      for (const registration of registrations.filter((candidate) => candidate.id)) await pollRegistration(step.instance, step.tableFaults, index, registration);
    } else if (step.kind === 'schema') {
      await runSchema(step, index);
    } else {
      clock.offsetMs += step.ms;
      stalls.timePassed(answerWithinMs);
    }
    await settleAlongside();
  }
  await settleAlongside();
  // What came back to life finishes before anyone looks (each bounded: a stuck one is itself a
  // finding); what is still frozen stays dead.
  const stallViolations = await stalls.settle();

  // Faults stop. Every accepted job must end within a bounded time: a few trigger passes on either
  // instance, each after a lease has passed; then its status URL must answer its results.
  graph.clearFaults();
  const jobs = requests.filter((request) => request.job);
  // Passes 3 minutes apart: a message whose run died is hidden for 10 (the host's lease of it).
  const jobsOpen = async () => {
    const view = await readAuditTable(scene.table);
    return view.bulk.some((job) => job.async && job.status !== 'completed') || view.applies.some((apply) => apply.status !== 'completed');
  };
  const finishJobs = async (jobs: ObservedRequest[], firstPass: number) => {
    // An apply waits on an unsettled earlier attempt of one of its creates up to twice the reconcile age (20 minutes here).
    const passes = jobs.some((request) => request.manifest) ? 10 : 6;
    for (let pass = 0; pass < passes && jobs.length > 0 && (await jobsOpen()); pass += 1) {
      clock.offsetMs += 3 * minute;
      // The reconciliation timer runs meanwhile, as it does in production: an apply may wait on an
      // earlier attempt of one of its creates that only reconciliation settles (a connector group's).
      if (jobs.some((request) => request.manifest)) await scopeFor('reconciliation', [], null, () => reconcileOnce(scene.instances[pass % 2]!.runtime, target.operation)).running;
      await runTrigger({ kind: 'job', instance: (pass % 2) as 0 | 1, tableFaults: [], crash: null }, firstPass + pass);
    }
    // A caller told 5xx with Retry-After polls again (slow storage on a busy machine): up to three times.
    for (const request of jobs.filter((candidate) => candidate.job)) {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        request.job!.final = await poll(0, [], firstPass, request);
        const final = request.job!.final;
        if (final.kind !== 'answered' || final.status < 500 || !final.headers['retry-after']) break;
      }
    }
  };
  // An apply whose instance died is carried on by its queued takeover once its lease ends.
  await finishJobs(requests.some((request) => request.manifest) ? requests.filter((request) => request.job || request.manifest) : jobs, schedule.steps.length);

  // Every accepted schema registration is followed by its caller, as its Retry-After says, while
  // the queue trigger runs: passes 3 minutes apart, past the abandon age (a registration no run
  // looked at for that long is queued again by its status URL) and past a message's lease.
  const isOver = (answer: Answer | undefined) => answer?.kind === 'answered' && answer.status === 200;
  const accepted = registrations.filter((registration) => registration.id);
  for (let pass = 0; pass < 8 && accepted.some((registration) => !isOver(registration.final)); pass += 1) {
    const index = schedule.steps.length + 20 + pass;
    clock.offsetMs += 3 * minute;
    for (const registration of accepted.filter((candidate) => !isOver(candidate.final))) registration.final = await pollRegistration((pass % 2) as 0 | 1, [], index, registration);
    await runTrigger({ kind: 'job', instance: ((pass + 1) % 2) as 0 | 1, tableFaults: [], crash: null }, index);
    // Graph's operation runs in real time.
    await sleep(schemaProvisioningMs);
  }
  for (const registration of accepted) {
    // A caller told 5xx with Retry-After polls again: up to three times.
    for (let attempt = 0; attempt < 3 && !isOver(registration.final); attempt += 1) {
      registration.final = await pollRegistration(0, [], schedule.steps.length + 30, registration);
      const final = registration.final;
      if (final.kind !== 'answered' || final.status < 500 || !final.headers['retry-after']) break;
    }
  }

  // An apply that ended `succeeded`, sent again (its manifest, no key, no faults): it must create nothing.
  let reapplied: Observation['reapplied'];
  const succeededApply = [...requests].reverse().find((request) => request.manifest && manifestOutcomeOf(request) === 'succeeded');
  if (succeededApply) {
    const index = schedule.steps.length + 7;
    const step = manifestSteps.get(succeededApply)!;
    // Sent again, as a caller would, while it is answered "retry later" (a table slower than its timeout on a busy machine).
    const sent: ObservedRequest[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const again = await runManifest({ ...step, key: null, async: false, createFaults: [], readFaults: [], tableFaults: [], crash: null, overlaps: false, storageDelayMs: 0 }, index + 2 * attempt);
      if (again.job) await finishJobs([again], index + 2 * attempt + 1);
      sent.push(again);
      const answer = again.job?.final ?? again.answer;
      if (!(answer.kind === 'answered' && answer.status >= 500 && answer.headers['retry-after'] !== undefined)) break;
      clock.offsetMs += 10_000;
    }
    const last = sent.at(-1)!;
    const origins = (origin: string | undefined) => sent.some((again) => origin === again.origin || (again.job !== undefined && origin?.endsWith(` ${again.job.id}`) === true));
    reapplied = { of: succeededApply, answer: last.job?.final ?? last.answer, creates: graph.creations().filter((creation) => origins(creation.origin)).length };
  }
  const manifests = requests.filter((request) => request.manifest && request !== reapplied?.of && manifestOutcomeOf(request) !== undefined);
  const manifestsApplied = requests.filter((request) => request.manifest && manifestOutcomeOf(request) !== undefined).length - (reapplied ? 1 : 0);
  const asks = (request: ObservedRequest) => Object.keys(request.bodies).map((id) => `${canonicalPath(request.path)}|${id.toLowerCase()}`);
  const askedOutside = new Set(requests.filter((request) => !request.manifest).flatMap(asks));
  if (manifests.some((request) => asks(request).some((ask) => askedOutside.has(ask)))) hits.add('manifestBesideSingle');

  for (const [index, request] of requests.entries()) {
    const earlier = requests.slice(0, index);
    if (request.key && earlier.some((other) => other.key === request.key && other.caller === request.caller && other.answer.kind === 'crashed')) hits.add('keyedRetryAfterCrash');
  }
  // Two spellings of one entity: more distinct (path, id) pairs as written than as Graph identifies them.
  const asWritten = new Set(requests.map((request) => `${request.path}|${Object.keys(request.bodies)[0] ?? ''}`));
  const asIdentified = new Set(requests.map((request) => `${canonicalPath(request.path)}|${(Object.keys(request.bodies)[0] ?? '').toLowerCase()}`));
  if (asWritten.size > asIdentified.size) hits.add('twoSpellings');
  if (lostAnswers.count > 0) hits.add('storageAnswerLost');
  if (lostAnswers.whilePaused > 0) hits.add('renewalAnswerLost');
  if (schedule.outside && requests.length > 0) hits.add('entityMadeOutside');
  if (requests.some((request) => request.resumed)) hits.add('requestResumed');
  const inProgress = (answer: Answer) => answer.kind === 'answered' && answer.status === 503 && (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code === 'createInProgress';
  if (requests.some((request) => inProgress(request.answer))) hits.add('askInFlightAnswered');

  const observe = async (final: boolean): Promise<Observation> => ({
    target,
    requests,
    creations: [...(schedule.outside ? [madeOutside(target).creation] : []), ...graph.creations()],
    graphPosts: graph.graphRequests({ method: 'POST' }),
    audit: await readAuditTable(scene.table),
    polls,
    jobQueuedBy: scene.queues.jobQueuedBy,
    hits,
    final,
    manifestsApplied,
    ...(reapplied ? { reapplied } : {}),
    registrations,
    registrationPolls,
    schemaOperations: graph.schemaRegistrations.list(),
  });
  const violations = [...stallViolations];
  violations.push(...stuckRuns);
  for (const id of poisoned) violations.push(`bulk job ${id}: its message went to the poison queue, so the job never ends`);
  violations.push(...check(await observe(false)));
  // Later, reconciliation has had its turn on every record left open. A run that could not settle
  // a record (the audit table or Graph slower than their timeouts on a busy machine) is tried again
  // by the next ones, as the timer does, past the record's back-off (5 minutes, doubling).
  clock.offsetMs += 15 * minute;
  for (let run = 0; run < 3; run += 1) {
    const { running } = scopeFor('reconciliation', [], null, () => reconcileOnce(scene.instances[0].runtime, target.operation));
    await running;
    // Unknown records too: one left unknown because a read timed out is settled by a later run, as in Azure.
    if (!(await readAuditTable(scene.table)).records.some((record) => record.status === 'pending' || record.status === 'unknown')) break;
    clock.offsetMs += 30 * minute;
  }
  violations.push(...check(await observe(true)).map((violation) => `after reconciliation: ${violation}`));
  return violations;
}
