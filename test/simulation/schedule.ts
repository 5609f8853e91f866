import fc from 'fast-check';
import { bulkTargetKinds, graphIdTargetKinds, spelledTargetKinds, targetKinds, unreadableTargetKinds } from './targets';
import { manifestTargetKinds } from './manifestTargets';
import { createStages } from '../../shared/pipeline/pipeline';
import { auditTrail } from '../../shared/pipeline/stages/auditTrail';
import { callGraph } from '../../shared/pipeline/stages/callGraph';

/**
 * A fault schedule: what callers ask of the facade about one entity, in which order, and what goes
 * wrong on the way. The simulation runs it against the real pipeline and checks the guarantees.
 */

/** One per registered create operation (test/simulation/targets.ts): `connection`, `group`, `member`, `connectorGroup`, … */
export type TargetKind = string;

/**
 * What Graph does to one attempt at a call. `commit`: Graph carried the call out first.
 * `oddSuccess`: Graph made the entity and answered 201 with no id (`{}`), no body, or a body
 * that is not JSON.
 */
export type GraphFault =
  | { kind: 'throttle' }
  | { kind: 'unavailable' | 'gatewayTimeout' | 'serverError' | 'reset' | 'hang' | 'garbage'; commit: boolean }
  | { kind: 'oddSuccess'; body: 'noId' | 'empty' | 'notJson' };

/**
 * What storage does to one call of a request, a reconciliation run or a job run (table calls and
 * queue messages counted together, from 0): refused before it is sent, hanging until the call's
 * own timeout, carried out with its answer lost, stalled (the instance or the network froze for
 * longer than the timeout: timers of the same run, such as a lease renewal, fire meanwhile), or
 * late: delayed on the wire while calls of other requests and runs pass it (held until another
 * origin's write has landed and the wire is quiet again, within its own timeout; world.ts).
 */
export interface TableFault {
  /**
   * The scope's storage call it hits, counted from 0; or `whilePaused`: the first one made while
   * the run is paused (a job run's lease renewal, written by its timer meanwhile).
   */
  call: number | 'whilePaused';
  kind: 'fail' | 'hang' | 'landedTimeout' | 'stall' | 'late';
}

/**
 * Where the instance dies (abandons the request): before or after a stage, or inside one — at a
 * storage call (between a bulk request's chunks, between a job's writes) or before a Graph attempt
 * (between Graph retries).
 */
export interface Crash {
  stage: number;
  when: 'before' | 'after';
  /** Inside a stage instead: before this storage call (counted as `TableFault.call`) of the request. */
  storageCall?: number;
  /** Inside a stage instead: before this Graph attempt (0 = the first) of the request. */
  graphAttempt?: number;
  /** The frozen request resumes at the next time step, as a stalled (not dead) instance would. */
  resumes: boolean;
  /**
   * Not a death: the instance pauses this long (real time) at the point and carries on, as a
   * starved or swapping instance does; a run's timers (its lease renewal) fire meanwhile.
   */
  pauseMs?: number;
}

/**
 * Where a crash is taken: at a stage boundary (`stage` and `when`), or inside a stage, at a storage
 * call or before a Graph attempt. One crash is one point: an inside crash's `stage` and `when` are
 * placeholders, never a boundary of their own.
 */
export type CrashPoint = 'stageBoundary' | 'storageCall' | 'graphAttempt';

export function crashPointOf(crash: Crash): CrashPoint {
  if (crash.storageCall !== undefined) return 'storageCall';
  if (crash.graphAttempt !== undefined) return 'graphAttempt';
  return 'stageBoundary';
}

/** How a request spells the connection it names (its own id, or its parent's): as given, or in other letter case. */
export type Spelling = 0 | 1;

export interface RequestStep {
  kind: 'request';
  /**
   * Member target only: a bulk request (`members/bulk`) holding the member and a companion
   * member, so bulk and single adds of the same member interleave. Ignored for other targets.
   */
  bulk: boolean;
  /** With `bulk`: `Prefer: respond-async`, so the request is accepted (202) and run from the queue by `job` steps. */
  async: boolean;
  /** A retry: the same caller, key, body and parent as the schedule's first request. */
  retry: boolean;
  caller: 'A' | 'B';
  instance: 0 | 1;
  /** Idempotency-Key, or none. */
  key: 'k1' | 'k2' | null;
  /** Which body: callers may ask the same thing or something else of the same entity. */
  body: 0 | 1;
  /** Groups and members: which of the two connections they belong to. */
  parent: 0 | 1;
  /** How the connection id is spelled (Graph compares connection ids without regard to case). */
  spelling: Spelling;
  /** Faults of the create's attempts, in order. */
  createFaults: GraphFault[];
  /** Faults of the reads that may follow (read-back, listing). */
  readFaults: GraphFault[];
  tableFaults: TableFault[];
  crash: Crash | null;
  /**
   * Sent this many times one after the other (a caller retrying past any internal bound), each
   * with the same faults, a minute apart on the clock.
   */
  repeat: number;
  /** Runs alongside the next step instead of before it. */
  overlaps: boolean;
  /** Slow storage: each of its storage calls waits this long first (well inside the call's timeout), which moves interleavings. */
  storageDelayMs: number;
}

export interface ReconcileStep {
  kind: 'reconcile';
  instance: 0 | 1;
  /** Faults of reconciliation's own storage calls and Graph reads. */
  tableFaults: TableFault[];
  readFaults: GraphFault[];
}

/** Time passes: past a lease, past the reconciliation age, past the retention. */
export interface AdvanceStep {
  kind: 'advance';
  ms: number;
}

/** The queue trigger on one instance takes the job messages that are due and runs each (its storage faults, its death). */
export interface JobStep {
  kind: 'job';
  instance: 0 | 1;
  tableFaults: TableFault[];
  crash: Crash | null;
}

/** The callers poll the status URL of every job accepted so far (slow storage included). */
export interface PollStep {
  kind: 'poll';
  instance: 0 | 1;
  tableFaults: TableFault[];
}

/**
 * A connector manifest applied (`…/connectorManifests/apply`) that names the schedule's entity
 * (with the body and spelling a request step would use) and the parents it lives under (which
 * exist already, with fewer properties than the manifest's: `differs`); for members, the bulk
 * request's companion too. Small: answered at once (200); `async`: `Prefer: respond-async`, so
 * accepted (202) and carried out by the queue trigger (`job` steps), polled by `poll` steps. Its
 * creates go to Graph inside this step's origin (or its job runs'), so its faults are routed to it
 * as a request's are.
 */
export interface ManifestStep {
  kind: 'manifest';
  caller: 'A' | 'B';
  instance: 0 | 1;
  /** Idempotency-Key of the apply (keys are per operation), or none. */
  key: 'k1' | 'k2' | null;
  body: 0 | 1;
  parent: 0 | 1;
  spelling: Spelling;
  async: boolean;
  createFaults: GraphFault[];
  readFaults: GraphFault[];
  tableFaults: TableFault[];
  crash: Crash | null;
  overlaps: boolean;
  storageDelayMs: number;
}

/**
 * A caller registers the schema of one of the schedule's two connections (`…/connections/{id}/schema`,
 * seeded if the target does not hold them): accepted (202 with a status URL), queued, and followed
 * by the queue trigger (`job` steps) until Graph's operation ends; `poll` steps read its status URL.
 * Its PATCH's Graph faults are routed to it as a request's are.
 */
export interface SchemaStep {
  kind: 'schema';
  caller: 'A' | 'B';
  instance: 0 | 1;
  /** Idempotency-Key of the registration (keys are per operation), or none. */
  key: 'k1' | 'k2' | null;
  /** Which of the two connections. */
  parent: 0 | 1;
  /** Faults of the PATCH's attempts inside the request (a queued run sends it without). */
  patchFaults: GraphFault[];
  /** Graph's operation ends `failed` instead of `completed`. */
  operationFails: boolean;
  tableFaults: TableFault[];
  crash: Crash | null;
}

export type Step = RequestStep | ReconcileStep | AdvanceStep | JobStep | PollStep | ManifestStep | SchemaStep;

/** The dangerous scenario a schedule was built to reach (or `random`); the run counts each against a floor. */
export type Recipe =
  | 'random'
  | 'keyedRetryAfterCrash'
  | 'reconcileMidSchedule'
  | 'crashInsideStage'
  | 'reconcileStorageFaults'
  | 'asyncJobTakeover'
  | 'spellings'
  | 'retryChain'
  | 'oddSuccess'
  | 'storageLostAnswers'
  | 'overlappingAsks'
  | 'settlementBetweenReads'
  | 'manifestBesideSingles'
  | 'retryBesideRival'
  | 'manifestCreateRetryLater'
  | 'schemaRegistrationLost'
  | 'askInFlight';

export interface Schedule {
  target: TargetKind;
  steps: Step[];
  recipe?: Recipe;
  /**
   * The entity is in Graph before the schedule, made outside the facade (the admin portal, a
   * script) with the first body: the facade's audit trail knows nothing of it.
   */
  outside?: boolean;
}

/** Stage boundaries a crash can hit (stage 0, `respond`, is where the answer leaves). */
export const stageCount = createStages.length;
/** Where the audit intent and outcome are written, and where Graph is called. */
export const auditTrailStage = createStages.indexOf(auditTrail);
export const callGraphStage = createStages.indexOf(callGraph);

const lostOrRefused: fc.Arbitrary<GraphFault> = fc.record({
  kind: fc.constantFrom('unavailable', 'gatewayTimeout', 'serverError', 'reset', 'hang', 'garbage'),
  commit: fc.boolean(),
}) as fc.Arbitrary<GraphFault>;

const oddSuccess: fc.Arbitrary<GraphFault> = fc.record({
  kind: fc.constant('oddSuccess' as const),
  body: fc.constantFrom('noId' as const, 'empty' as const, 'notJson' as const),
});

const graphFault: fc.Arbitrary<GraphFault> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<GraphFault>({ kind: 'throttle' }) },
  { weight: 8, arbitrary: lostOrRefused },
  { weight: 1, arbitrary: oddSuccess },
);

/** Faults of reads only: an odd success is a create's. */
const readFault: fc.Arbitrary<GraphFault> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<GraphFault>({ kind: 'throttle' }) },
  { weight: 4, arbitrary: lostOrRefused },
);

/** Where instances die most interestingly: around the audit intent, the Graph call and its outcome. */
const crashStage = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(auditTrailStage, callGraphStage) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: stageCount - 1 }) },
);

const storageFaultKind = fc.constantFrom('fail' as const, 'hang' as const, 'landedTimeout' as const);

const tableFault = (maxCall: number): fc.Arbitrary<TableFault> =>
  fc.record({
    call: fc.nat({ max: maxCall }),
    kind: fc.oneof({ weight: 12, arbitrary: storageFaultKind }, { weight: 1, arbitrary: fc.constant('stall' as const) }, { weight: 2, arbitrary: fc.constant('late' as const) }),
  });

const tableFaults = (maxCall: number, maxLength = 2): fc.Arbitrary<TableFault[]> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant<TableFault[]>([]) },
    { weight: 1, arbitrary: fc.array(tableFault(maxCall), { minLength: 1, maxLength }) },
  );

const stageCrash: fc.Arbitrary<Crash> = fc.record({
  stage: crashStage,
  when: fc.constantFrom('before' as const, 'after' as const),
  resumes: fc.boolean(),
});

/** Inside a stage: at a storage call (between chunks and writes) or before a Graph attempt (between retries). */
const insideCrash: fc.Arbitrary<Crash> = fc.oneof(
  fc.record({ stage: fc.constant(0), when: fc.constant('before' as const), storageCall: fc.nat({ max: 8 }), resumes: fc.boolean() }),
  fc.record({ stage: fc.constant(0), when: fc.constant('before' as const), graphAttempt: fc.integer({ min: 1, max: 3 }), resumes: fc.boolean() }),
);

const crash: fc.Arbitrary<Crash | null> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: stageCrash },
  { weight: 1, arbitrary: insideCrash },
);

const requestStep: fc.Arbitrary<RequestStep> = fc.record({
  kind: fc.constant('request' as const),
  bulk: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  async: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  retry: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  caller: fc.constantFrom('A' as const, 'B' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  key: fc.oneof(fc.constant(null), fc.constantFrom('k1' as const, 'k2' as const)),
  body: fc.oneof({ weight: 4, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  parent: fc.oneof({ weight: 4, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  spelling: fc.oneof({ weight: 3, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  createFaults: fc.oneof({ weight: 1, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 3, arbitrary: fc.array(graphFault, { minLength: 1, maxLength: 3 }) }),
  readFaults: fc.oneof({ weight: 4, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 1, arbitrary: fc.array(readFault, { minLength: 1, maxLength: 2 }) }),
  tableFaults: tableFaults(7),
  crash,
  repeat: fc.constant(1),
  overlaps: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  storageDelayMs: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(5, 20, 60) }),
});

export const minute = 60_000;

/** Steps of time that matter: a moment, past a lease, past the reconciliation age, past the retention. */
const advanceStep: fc.Arbitrary<AdvanceStep> = fc.record({
  kind: fc.constant('advance' as const),
  ms: fc.constantFrom(1_000, 2 * minute, 15 * minute, 25 * 60 * minute),
});

const reconcileStep: fc.Arbitrary<ReconcileStep> = fc.record({
  kind: fc.constant('reconcile' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  tableFaults: tableFaults(6),
  readFaults: fc.oneof({ weight: 3, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 1, arbitrary: fc.array(readFault, { minLength: 1, maxLength: 2 }) }),
});

/** A job run that pauses before its first Graph call past a third of its lease: its renewal is written meanwhile. */
const pausedJobRun: Crash = { stage: 0, when: 'before', graphAttempt: 0, resumes: true, pauseMs: 3_600 };
const jobPause: fc.Arbitrary<Crash> = fc.constant(pausedJobRun);
/** The lease renewal a paused run's timer writes meanwhile lands, and its answer is lost. */
const renewalAnswerLost: TableFault = { call: 'whilePaused', kind: 'landedTimeout' };
/** Paused past two thirds of its lease: the renewal whose answer is lost, then the next one, answered 412. */
const pausedPastTwoRenewals: Crash = { ...pausedJobRun, pauseMs: 7_200 };

const jobStep: fc.Arbitrary<JobStep> = fc.record({
  kind: fc.constant('job' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  tableFaults: tableFaults(8, 3),
  crash: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ stage: fc.constant(0), when: fc.constant('before' as const), storageCall: fc.integer({ min: 1, max: 8 }), resumes: fc.boolean() }) },
    { weight: 1, arbitrary: jobPause },
  ),
});

const pollStep: fc.Arbitrary<PollStep> = fc.record({
  kind: fc.constant('poll' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  tableFaults: tableFaults(2, 1),
});

const manifestStep: fc.Arbitrary<ManifestStep> = fc.record({
  kind: fc.constant('manifest' as const),
  caller: fc.constantFrom('A' as const, 'B' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  key: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('k1' as const, 'k2' as const) }),
  body: fc.oneof({ weight: 4, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  parent: fc.oneof({ weight: 4, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  spelling: fc.oneof({ weight: 3, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  async: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  createFaults: fc.oneof({ weight: 1, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 2, arbitrary: fc.array(graphFault, { minLength: 1, maxLength: 3 }) }),
  readFaults: fc.oneof({ weight: 4, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 1, arbitrary: fc.array(readFault, { minLength: 1, maxLength: 2 }) }),
  tableFaults: tableFaults(12),
  crash,
  overlaps: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  storageDelayMs: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(5, 20) }),
});

const schemaStep: fc.Arbitrary<SchemaStep> = fc.record({
  kind: fc.constant('schema' as const),
  caller: fc.constantFrom('A' as const, 'B' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  key: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('k1' as const, 'k2' as const) }),
  parent: fc.oneof({ weight: 3, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  patchFaults: fc.oneof({ weight: 3, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 1, arbitrary: fc.array(readFault, { minLength: 1, maxLength: 2 }) }),
  operationFails: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  tableFaults: tableFaults(5),
  crash,
});

const target = fc.constantFrom<TargetKind>(...targetKinds);

const randomSchedule: fc.Arbitrary<Schedule> = fc.record({
  target,
  steps: fc.array(
    fc.oneof(
      { weight: 7, arbitrary: requestStep as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: reconcileStep as fc.Arbitrary<Step> },
      { weight: 2, arbitrary: advanceStep as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: jobStep as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: pollStep as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: manifestStep as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: schemaStep as fc.Arbitrary<Step> },
    ),
    { minLength: 1, maxLength: 6 },
  ),
  recipe: fc.constant('random' as const),
  outside: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/** Targets whose ids the caller chooses: after a 409, told apart by who made the entity (members, which have no read) or by a read back. */
const conflictTargetKinds: TargetKind[] = targetKinds.filter((kind) => !graphIdTargetKinds.includes(kind));

/** A first answer lost (the create not carried out) and answered late enough that another request's create comes first. */
const lostThenLate: fc.Arbitrary<GraphFault[]> = fc.constantFrom<GraphFault[]>(
  [{ kind: 'hang', commit: false }],
  [{ kind: 'reset', commit: false }, { kind: 'hang', commit: false }],
  [{ kind: 'unavailable', commit: false }, { kind: 'hang', commit: false }],
);

/** A request step with some fields fixed (the rest random). */
const request = (fixed: Partial<RequestStep>): fc.Arbitrary<RequestStep> => requestStep.map((step) => ({ ...step, ...fixed }));
const noFaults: Partial<RequestStep> = { createFaults: [], readFaults: [], tableFaults: [], crash: null, overlaps: false, repeat: 1 };
const advance = (ms: number): AdvanceStep => ({ kind: 'advance', ms });

/**
 * The dangerous scenarios, built on purpose (a random schedule reaches some of them once in
 * thousands): each recipe fixes the steps that make the scenario and leaves the rest random.
 */
const recipes: Record<Exclude<Recipe, 'random'>, fc.Arbitrary<Schedule>> = {
  // Last round's defect 2: keyed create, the instance dies after Graph made it, the lease passes, a keyed retry.
  keyedRetryAfterCrash: fc
    .tuple(
      target,
      fc.constantFrom('k1' as const, 'k2' as const),
      fc.constantFrom(callGraphStage, auditTrailStage),
      fc.constantFrom(2 * minute, 15 * minute),
      request({ ...noFaults, retry: true }),
      fc.array(requestStep, { maxLength: 2 }),
    )
    .map(([kind, key, stage, wait, retry, more]) => ({
      target: kind,
      recipe: 'keyedRetryAfterCrash' as const,
      steps: [
        { ...retry, retry: false, key, crash: { stage, when: 'after' as const, resumes: false } },
        advance(wait),
        { ...retry, key, instance: (1 - retry.instance) as 0 | 1 },
        ...more,
      ],
    })),
  // Reconciliation inside the schedule, after the reconcile age, with requests before and after.
  reconcileMidSchedule: fc
    .tuple(target, requestStep, fc.array(requestStep, { minLength: 1, maxLength: 2 }), reconcileStep)
    .map(([kind, first, after, reconcile]) => ({
      target: kind,
      recipe: 'reconcileMidSchedule' as const,
      steps: [{ ...first, overlaps: false, createFaults: first.createFaults.length > 0 ? first.createFaults : [{ kind: 'reset', commit: true } as GraphFault] }, advance(15 * minute), reconcile, ...after],
    })),
  crashInsideStage: fc
    .tuple(target, request({ crash: null }), insideCrash, fc.array(requestStep, { minLength: 1, maxLength: 2 }))
    .map(([kind, first, inside, more]) => ({
      target: kind,
      recipe: 'crashInsideStage' as const,
      steps: [{ ...first, crash: inside, overlaps: false }, advance(2 * minute), ...more, advance(15 * minute), { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] }],
    })),
  reconcileStorageFaults: fc
    .tuple(target, requestStep, fc.array(tableFault(6), { minLength: 1, maxLength: 2 }), fc.array(requestStep, { maxLength: 2 }))
    .map(([kind, first, faults, more]) => ({
      target: kind,
      recipe: 'reconcileStorageFaults' as const,
      steps: [
        { ...first, overlaps: false, crash: first.crash ?? { stage: callGraphStage, when: 'after' as const, resumes: false } },
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 1 as const, tableFaults: faults, readFaults: [] },
        ...more,
      ],
    })),
  // Async bulk: accepted, a run dies or loses a lease answer mid-job, another run takes over; polls in between.
  asyncJobTakeover: fc
    .tuple(
      fc.constantFrom<TargetKind>(...bulkTargetKinds),
      request({ bulk: true, async: true, overlaps: false, crash: null, tableFaults: [] }),
      jobStep,
      jobStep,
      pollStep,
      fc.array(requestStep, { maxLength: 1 }),
    )
    .map(([kind, accepted, first, second, poll, more]) => ({
      target: kind,
      recipe: 'asyncJobTakeover' as const,
      steps: [
        accepted,
        ...more.map((step) => ({ ...step, overlaps: false })),
        first.crash || first.tableFaults.length > 0 ? first : { ...first, crash: pausedPastTwoRenewals, tableFaults: [renewalAnswerLost] },
        poll,
        advance(2 * minute),
        { ...second, instance: (1 - first.instance) as 0 | 1 },
        poll,
      ],
    })),
  // One entity (a connection, or one below it) spelled two ways by two callers (or one), a lost or refused first answer.
  spellings: fc
    .tuple(fc.constantFrom<TargetKind>(...spelledTargetKinds), request({ ...noFaults, spelling: 0 }), request({ spelling: 1, crash: null, overlaps: false }), fc.array(requestStep, { maxLength: 2 }))
    .map(([kind, made, other, more]) => ({
      target: kind,
      recipe: 'spellings' as const,
      steps: [
        { ...made, retry: false },
        { ...other, retry: false, parent: made.parent, createFaults: other.createFaults.length > 0 ? other.createFaults : [{ kind: 'unavailable', commit: false } as GraphFault] },
        ...more,
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
      ],
    })),
  // A caller that keeps retrying with its key past any internal bound (20 attempts kept) while Graph's reads fail.
  retryChain: fc
    .tuple(
      target,
      fc.constantFrom('k1' as const, 'k2' as const),
      request(noFaults),
      fc.integer({ min: 21, max: 23 }),
      fc.constantFrom<GraphFault>({ kind: 'serverError', commit: false }, { kind: 'unavailable', commit: false }),
      fc.boolean(),
    )
    .map(([kind, key, first, repeat, readFailure, made]) => ({
      target: kind,
      recipe: 'retryChain' as const,
      steps: [
        // The first attempt's connection is reset after Graph made the entity, or before it made anything.
        { ...first, retry: false, bulk: false, key, createFaults: [{ kind: 'reset', commit: made } as GraphFault] },
        { ...first, retry: true, key, repeat, readFaults: made ? [readFailure, readFailure, readFailure, readFailure] : [] },
        advance(25 * 60 * minute),
        { ...first, retry: true, key },
      ],
    })),
  oddSuccess: fc
    .tuple(target, request({ crash: null, overlaps: false }), oddSuccess, fc.array(requestStep, { maxLength: 2 }))
    .map(([kind, first, odd, more]) => ({
      target: kind,
      recipe: 'oddSuccess' as const,
      steps: [{ ...first, createFaults: [odd] }, ...more, advance(15 * minute), { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] }],
    })),
  // Every storage write with its answer lost, one at a time: settlements, keys, bulk chunks (bulk adds half the time).
  storageLostAnswers: fc
    .tuple(
      fc.oneof({ weight: 1, arbitrary: target }, { weight: 1, arbitrary: fc.constantFrom<TargetKind>(...bulkTargetKinds) }),
      request({ crash: null }),
      fc.boolean(),
      fc.array(tableFault(9), { minLength: 1, maxLength: 2 }),
      fc.array(requestStep, { maxLength: 2 }),
    )
    .map(([kind, first, bulk, faults, more]) => ({
      target: kind,
      recipe: 'storageLostAnswers' as const,
      steps: [
        { ...first, retry: false, bulk, tableFaults: faults.map((fault) => ({ ...fault, kind: fault.kind === 'stall' ? 'stall' : ('landedTimeout' as const) })) },
        ...more,
      ],
    })),
  // Requests for one entity at once (the same caller or another, the same body or another), the first one's answer lost.
  overlappingAsks: fc
    .tuple(target, request({ crash: null, retry: false, overlaps: true }), request({ crash: null, retry: false, overlaps: false }), lostOrRefused, fc.boolean(), fc.array(requestStep, { maxLength: 2 }))
    .map(([kind, first, second, lost, sameCaller, more]) => ({
      target: kind,
      recipe: 'overlappingAsks' as const,
      steps: [
        { ...first, createFaults: [lost] },
        { ...second, parent: first.parent, instance: (1 - first.instance) as 0 | 1, ...(sameCaller ? { caller: first.caller, spelling: first.spelling } : {}) },
        ...more,
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
      ],
    })),
  // Another ask's settlement landing while a request whose first answer was lost tells who made the
  // entity (its retry answered 409): the second request makes the entity on slow storage, so its
  // settlement lands while the first reads who else may have made it and who did; one or two of the
  // first request's storage calls around those reads are late, passed by the settlement on the
  // wire. Members (no read: who made it is all there is), groups and connections (read back: the
  // same body from another caller).
  settlementBetweenReads: fc
    .tuple(
      fc.constantFrom<TargetKind>(...conflictTargetKinds),
      request({ ...noFaults, bulk: false, retry: false }),
      request({ ...noFaults, bulk: false, retry: false, key: null }),
      lostThenLate,
      fc.boolean(),
      fc.constantFrom(80, 100, 120),
      fc.integer({ min: 0, max: 2 }),
      fc.boolean(),
      fc.array(requestStep, { maxLength: 1 }),
    )
    .map(([kind, first, second, lost, sameCaller, slow, late, twoLate, more]) => {
      // The first request's calls: its key row (if keyed), its intent, the open attempts read while
      // it sends, then the reads after the 409.
      const afterConflict = (first.key ? 1 : 0) + 2;
      const lateCalls = twoLate ? [afterConflict + late, afterConflict + ((late + 1) % 3)] : [afterConflict + late];
      return {
        target: kind,
        recipe: 'settlementBetweenReads' as const,
        steps: [
          { ...first, overlaps: true, createFaults: lost, tableFaults: lateCalls.map((call) => ({ call, kind: 'late' as const })) },
          {
            ...second,
            instance: (1 - first.instance) as 0 | 1,
            parent: first.parent,
            spelling: first.spelling,
            storageDelayMs: slow,
            // Another ask: the same caller with the other body, or the other caller with the same.
            ...(sameCaller ? { caller: first.caller, body: (1 - first.body) as 0 | 1 } : { caller: first.caller === 'A' ? ('B' as const) : ('A' as const), body: first.body }),
          },
          ...more.map((step) => ({ ...step, overlaps: false })),
          advance(15 * minute),
          { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
        ],
      };
    }),
  // A manifest naming the entity beside single (and bulk) creates of it: before, at once (the
  // single's first answer lost), after; the apply small or accepted and run from the queue, polled.
  manifestBesideSingles: fc
    .tuple(
      fc.constantFrom<TargetKind>(...manifestTargetKinds),
      request({ crash: null, retry: false, overlaps: true }),
      manifestStep,
      lostOrRefused,
      fc.boolean(),
      fc.array(fc.oneof({ weight: 2, arbitrary: requestStep as fc.Arbitrary<Step> }, { weight: 1, arbitrary: manifestStep as fc.Arbitrary<Step> }), { maxLength: 2 }),
      jobStep,
      pollStep,
      fc.boolean(),
    )
    .map(([kind, single, manifest, lost, sameAsk, more, job, poll, renewalLost]) => ({
      target: kind,
      recipe: 'manifestBesideSingles' as const,
      steps: [
        { ...single, createFaults: [lost] },
        { ...manifest, overlaps: false, parent: single.parent, ...(sameAsk ? { caller: single.caller, body: single.body, spelling: single.spelling } : {}) },
        ...more.map((step) => ({ ...step, overlaps: false })),
        // An accepted apply's run pauses past a third of its lease, and its renewal's answer is lost.
        manifest.async && renewalLost && !job.crash && job.tableFaults.length === 0
          ? { ...job, crash: pausedPastTwoRenewals, tableFaults: [renewalAnswerLost] }
          : job,
        poll,
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
      ],
    })),
  // A retry of an ask whose earlier request died after Graph made the entity (its attempt open),
  // beside another ask's open attempt (its instance died before it sent): the retry's own create is
  // answered 409, and which open attempt made the entity cannot be told.
  retryBesideRival: fc
    .tuple(
      fc.oneof({ weight: 2, arbitrary: fc.constantFrom<TargetKind>(...unreadableTargetKinds) }, { weight: 1, arbitrary: fc.constantFrom<TargetKind>(...targetKinds) }),
      fc.constantFrom(null, 'k1' as const),
      request({ ...noFaults, bulk: false }),
      request({ ...noFaults, bulk: false }),
      fc.constantFrom('otherCaller' as const, 'otherBody' as const),
      fc.constantFrom(2 * minute, 15 * minute),
      fc.array(requestStep, { maxLength: 1 }),
    )
    .map(([kind, key, first, rival, rivalry, wait, more]) => ({
      target: kind,
      recipe: 'retryBesideRival' as const,
      steps: [
        { ...first, retry: false, key, crash: { stage: callGraphStage, when: 'after' as const, resumes: false } },
        {
          ...rival,
          retry: false,
          parent: first.parent,
          spelling: first.spelling,
          caller: rivalry === 'otherCaller' ? (first.caller === 'A' ? ('B' as const) : ('A' as const)) : first.caller,
          body: rivalry === 'otherBody' ? ((1 - first.body) as 0 | 1) : first.body,
          crash: { stage: callGraphStage, when: 'before' as const, resumes: false },
        },
        advance(wait),
        { ...first, retry: true, key, instance: (1 - first.instance) as 0 | 1 },
        ...more.map((step) => ({ ...step, overlaps: false })),
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
      ],
    })),
  // An apply's connector-group create whose answer is lost (made or, more often, not): the apply
  // waits, and the queue carries it on; its next run's create finds the first attempt open (a
  // connector group has no read by id), a "retry later", until reconciliation settles that attempt.
  manifestCreateRetryLater: fc
    .tuple(
      fc.constantFrom<TargetKind>(...graphIdTargetKinds.filter((kind) => manifestTargetKinds.includes(kind))),
      manifestStep,
      lostOrRefused,
      fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      jobStep,
      pollStep,
      fc.array(requestStep, { maxLength: 1 }),
      fc.boolean(),
    )
    .map(([kind, manifest, lost, made, job, poll, more, reconciledFirst]) => ({
      target: kind,
      recipe: 'manifestCreateRetryLater' as const,
      steps: [
        { ...manifest, async: false, overlaps: false, crash: null, tableFaults: [], createFaults: [{ ...lost, commit: made } as GraphFault] },
        ...more.map((step) => ({ ...step, overlaps: false })),
        // Or reconciliation settles the attempt first (orphaned, when it made a group), and the
        // apply's next run finds the group it made: its results name it, so its record must agree.
        ...(reconciledFirst ? [advance(15 * minute), { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] }] : []),
        job,
        poll,
        advance(2 * minute),
        { ...job, instance: (1 - job.instance) as 0 | 1, crash: null, tableFaults: [] },
        poll,
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
        { ...job, crash: null, tableFaults: [] },
        poll,
      ],
    })),
  // A schema registration accepted whose queue message is lost for good: each run of it fails on
  // storage (its first read refused, hung or its answer lost, retries included) until the message
  // goes to the poison queue; then the caller polls its status URL across the abandon age.
  schemaRegistrationLost: fc
    .tuple(
      target,
      schemaStep,
      fc.array(storageFaultKind, { minLength: 5, maxLength: 5 }),
      fc.constantFrom(0 as const, 1 as const),
      fc.array(fc.oneof({ weight: 2, arbitrary: requestStep as fc.Arbitrary<Step> }, { weight: 1, arbitrary: schemaStep as fc.Arbitrary<Step> }), { maxLength: 1 }),
      pollStep,
    )
    .map(([kind, registration, failures, instance, more, poll]) => ({
      target: kind,
      recipe: 'schemaRegistrationLost' as const,
      steps: [
        { ...registration, crash: null, tableFaults: [] },
        // Single creates only: the failing runs poison every message on the queue, a bulk job's
        // too (seen with a bulk request in this recipe), which is another world: a bulk job is
        // queued again only by its status URL, which the end passes do not follow.
        ...more.map((step) => (step.kind === 'request' ? { ...step, overlaps: false, async: false, bulk: false } : step)),
        // Its first look is due a second after it was queued.
        advance(1_000),
        ...failures.map((kind, run): JobStep => ({
          kind: 'job',
          instance: ((instance + run) % 2) as 0 | 1,
          tableFaults: [0, 1, 2].map((call) => ({ call, kind })),
          crash: null,
        })),
        poll,
        advance(6 * minute),
        { ...poll, tableFaults: [] },
      ],
    })),
  // Two requests of one ask overlap on slow storage: the first's create is throttled, then sent
  // again (in flight all the while), as the second, from the other instance, is answered 409 for
  // an entity made outside the facade, or the one the first makes. Nothing of the ask may claim an
  // entity made outside; while the first waits for Graph, its answer is what tells.
  askInFlight: fc
    .tuple(fc.constantFrom<TargetKind>(...conflictTargetKinds), request({ ...noFaults, bulk: false, retry: false, key: null }), fc.constantFrom(null, 'k1' as const), fc.boolean(), fc.constantFrom(20, 60), fc.array(requestStep, { maxLength: 1 }))
    .map(([kind, first, secondKey, outside, slow, more]) => ({
      target: kind,
      recipe: 'askInFlight' as const,
      outside,
      steps: [
        { ...first, overlaps: true, storageDelayMs: slow, createFaults: [{ kind: 'throttle' as const }] },
        // Its storage as slow: its 409 comes once the first's attempt is recorded, before it is settled.
        { ...first, overlaps: false, key: secondKey, instance: (1 - first.instance) as 0 | 1, storageDelayMs: slow },
        ...more.map((step) => ({ ...step, overlaps: false })),
        advance(15 * minute),
        { kind: 'reconcile' as const, instance: 0 as const, tableFaults: [], readFaults: [] },
      ],
    })),
};

/** Random schedules, and each recipe often enough that a run of 2,000 reaches each dozens of times. */
export const scheduleArbitrary: fc.Arbitrary<Schedule> = fc.oneof(
  { weight: 30, arbitrary: randomSchedule },
  ...Object.values(recipes).map((arbitrary) => ({ weight: 3, arbitrary })),
);

export const recipeNames = Object.keys(recipes) as Exclude<Recipe, 'random'>[];
