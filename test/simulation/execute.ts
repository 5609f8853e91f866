import { randomBytes } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import type { Creation, ReceivedRequest } from '../../dev/graphEmulator';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import { bulkStages, createOperationHandler, createStages } from '../../shared/pipeline/pipeline';
import type { NamedOperation } from '../../shared/operations/operation';
import type { RequestContext, Stage } from '../../shared/pipeline/context';
import { readAuditTable, reconcileOnce, type AuditTableView } from './auditView';
import { minute, type RequestStep, type Schedule } from './schedule';
import { faultStep, targetFor, type Target } from './targets';
import { requestScope, type Lane, type RequestScope, type ScheduleClock, type Scene, type World } from './world';

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
  /** When it was sent, on the schedule's clock. */
  at: number;
}

export interface Observation {
  target: Target;
  requests: ObservedRequest[];
  creations: Creation[];
  /** Creates Graph received (each attempt). */
  graphPosts: ReceivedRequest[];
  audit: AuditTableView;
  /** Taken after the final reconciliation (when every abandoned request had time to be settled). */
  final: boolean;
}

/** Longest a request that did not crash may take: its deadline, its audit writes and a margin. */
const answerWithinMs = 15_000;

/**
 * A pipeline with a crash point before and after each stage, armed per request. A bulk pipeline
 * is shorter: a crash past its last stage happens at its last (where its work is done).
 */
function crashable<Context extends RequestContext<NamedOperation>>(stages: readonly Stage<Context>[]): readonly Stage<Context>[] {
  return stages.map((stage, index): Stage<Context> => async (context, next) => {
  const scope = requestScope.getStore();
  const crashHere = (when: 'before' | 'after') =>
    scope?.crash !== null && scope?.crash !== undefined && Math.min(scope.crash.stage, stages.length - 1) === index && scope.crash.when === when;
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function headersOf(response: HttpResponseInit): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(response.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

export async function runSchedule(
  world: World,
  lane: Lane,
  schedule: Schedule,
  check: (observation: Observation) => string[],
): Promise<string[]> {
  const target = targetFor(schedule.target);
  lane.graph.reset();
  for (const parent of target.parents) lane.graph.seed(parent.collectionName, { id: parent.id }, parent.parentIds);
  const scene = await lane.newScene();
  try {
    return await play(world, lane, scene, lane.clock, schedule, target, check);
  } finally {
    await scene.dispose();
  }
}

async function play(
  world: World,
  { graph }: Lane,
  scene: Scene,
  clock: ScheduleClock,
  schedule: Schedule,
  target: Target,
  check: (observation: Observation) => string[],
): Promise<string[]> {
  const handlers = scene.instances.map((instance) => createOperationHandler(target.operation, crashableStages, () => instance.runtime));
  const bulkTarget = target.bulk;
  const bulkHandlers = bulkTarget ? scene.instances.map((instance) => createOperationHandler(bulkTarget.operation, crashableBulkStages, () => instance.runtime)) : [];
  const requests: ObservedRequest[] = [];
  const alongside: Promise<void>[] = [];
  /** Abandoned requests that come back when time next passes, and what they do then. */
  const stalled: (() => void)[] = [];
  const resumed: Promise<unknown>[] = [];
  const stalledWork = new Map<() => void, Promise<unknown>>();
  const salt = randomBytes(3).toString('hex');

  const first = schedule.steps.find((step): step is RequestStep => step.kind === 'request');
  const runRequest = async (given: RequestStep, index: number): Promise<void> => {
    const step = given.retry && first ? { ...given, caller: first.caller, key: first.key, body: first.body, parent: first.parent, bulk: first.bulk } : given;
    const single = target.request(step);
    const bulk = step.bulk && bulkTarget ? bulkTarget : undefined;
    const call = bulk ? bulk.request(step) : single;
    const caller = world.callers[step.caller];
    const clientRequestId = `sim-${salt}-${index}`;
    const at = clock.now();
    graph.clearFaults();
    if (step.createFaults.length > 0) graph.addFault({ method: 'POST', path: target.createPath, steps: step.createFaults.map(faultStep) });
    if (step.readFaults.length > 0) graph.addFault({ method: 'GET', path: target.readPath, steps: step.readFaults.map(faultStep) });
    const request = new HttpRequest({
      method: 'POST',
      url: `http://facade.simulation/api${call.path}`,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${caller.token}`,
        'client-request-id': clientRequestId,
        ...(step.key ? { 'idempotency-key': step.key } : {}),
      },
      params: call.params,
      body: { string: JSON.stringify(call.body) },
    });
    const invocation = new InvocationContext({ functionName: bulk ? bulk.operation.name : target.operation.name, logHandler: () => undefined });
    let crashed!: () => void;
    let handling!: Promise<HttpResponseInit>;
    const crash = new Promise<void>((resolve) => (crashed = resolve));
    const scope: RequestScope = {
      tableFault: step.tableFault,
      tableCalls: 0,
      crash: step.crash,
      freeze: () => {
        crashed();
        if (!step.crash?.resumes) return new Promise<void>(() => undefined);
        return new Promise<void>((resolve) => {
          stalled.push(resolve);
          // Read when time passes, by which point the handler's promise exists.
          stalledWork.set(resolve, Promise.resolve().then(() => handling.catch(() => undefined)));
        });
      },
    };
    const handler = bulk ? bulkHandlers[step.instance]! : handlers[step.instance]!;
    handling = requestScope.run(scope, () => handler(request, invocation)) as Promise<HttpResponseInit>;
    const answer = await Promise.race([
      handling.then(
        (response): Answer => ({
          kind: 'answered',
          status: response.status ?? 200,
          headers: headersOf(response),
          body: response.jsonBody as Record<string, unknown> | undefined,
        }),
        (error: unknown): Answer => ({
          kind: 'answered',
          status: 0,
          headers: {},
          body: { thrown: String(error) },
        }),
      ),
      crash.then((): Answer => ({ kind: 'crashed' })),
      sleep(answerWithinMs).then((): Answer => ({ kind: 'hung' })),
    ]);
    const entityId = String(single.body.id ?? single.body.name ?? '');
    requests.push({
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
    });
  };

  const settleAlongside = async () => {
    await Promise.all(alongside.splice(0));
  };

  for (const [index, step] of schedule.steps.entries()) {
    if (step.kind === 'request') {
      const running = runRequest(step, index);
      if (step.overlaps) {
        alongside.push(running);
        continue;
      }
      await running;
    } else if (step.kind === 'reconcile') {
      await reconcileOnce(scene.instances[step.instance].runtime, target.operation);
    } else {
      clock.offsetMs += step.ms;
      for (const resume of stalled.splice(0)) {
        resume();
        resumed.push(stalledWork.get(resume) ?? Promise.resolve());
      }
    }
    await settleAlongside();
  }
  await settleAlongside();
  // What came back to life finishes before anyone looks (bounded: a stuck one is itself a finding).
  const leftovers = await Promise.race([
    Promise.all(resumed).then(() => 'done' as const),
    sleep(answerWithinMs).then(() => 'stuck' as const),
  ]);

  const observe = async (final: boolean): Promise<Observation> => ({
    target,
    requests,
    creations: graph.creations(),
    graphPosts: graph.graphRequests({ method: 'POST' }),
    audit: await readAuditTable(scene.table),
    final,
  });
  const violations = leftovers === 'stuck' ? ['a request that resumed after its instance stalled never finished'] : [];
  violations.push(...check(await observe(false)));
  // Later, reconciliation has had its turn on every record left open. A run that could not settle
  // a record (the audit table or Graph slower than their timeouts on a busy machine) is tried again
  // by the next ones, as the timer does, past the record's back-off (5 minutes, doubling).
  clock.offsetMs += 15 * minute;
  graph.clearFaults();
  for (let run = 0; run < 3; run += 1) {
    await reconcileOnce(scene.instances[0].runtime, target.operation);
    if (!(await readAuditTable(scene.table)).records.some((record) => record.status === 'pending')) break;
    clock.offsetMs += 30 * minute;
  }
  violations.push(...check(await observe(true)).map((violation) => `after reconciliation: ${violation}`));
  return violations;
}
