import fc from 'fast-check';
import { targetKinds } from './targets';
import { createStages } from '../../shared/pipeline/pipeline';
import { auditTrail } from '../../shared/pipeline/stages/auditTrail';
import { callGraph } from '../../shared/pipeline/stages/callGraph';

/**
 * A fault schedule: what callers ask of the facade about one entity, in which order, and what goes
 * wrong on the way. The simulation runs it against the real pipeline and checks the guarantees.
 */

/** One per registered create operation (test/simulation/targets.ts): `connection`, `group`, `member`, `connectorGroup`, … */
export type TargetKind = string;

/** What Graph does to one attempt at a call. `commit`: Graph carried the call out first. */
export type GraphFault =
  | { kind: 'throttle' }
  | { kind: 'unavailable' | 'gatewayTimeout' | 'serverError' | 'reset' | 'hang' | 'garbage'; commit: boolean };

/** What the audit store does to one table call of a request. */
export interface TableFault {
  /** The request's table call it hits, counting from 0. */
  call: number;
  kind: 'fail' | 'hang' | 'landedTimeout';
}

/** Where in the pipeline the instance dies (abandons the request): before or after a stage. */
export interface Crash {
  stage: number;
  when: 'before' | 'after';
  /** The frozen request resumes at the next time step, as a stalled (not dead) instance would. */
  resumes: boolean;
}

export interface RequestStep {
  kind: 'request';
  /**
   * Member target only: a bulk request (`members/bulk`) holding the member and a companion member,
   * so bulk and single adds of the same member interleave. Ignored for other targets.
   */
  bulk: boolean;
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
  /** Faults of the create's attempts, in order. */
  createFaults: GraphFault[];
  /** Faults of the reads that may follow (read-back, listing). */
  readFaults: GraphFault[];
  tableFault: TableFault | null;
  crash: Crash | null;
  /** Runs alongside the next step instead of before it. */
  overlaps: boolean;
}

export interface ReconcileStep {
  kind: 'reconcile';
  instance: 0 | 1;
}

/** Time passes: past a lease, past the reconciliation age, past the retention. */
export interface AdvanceStep {
  kind: 'advance';
  ms: number;
}

export type Step = RequestStep | ReconcileStep | AdvanceStep;

export interface Schedule {
  target: TargetKind;
  steps: Step[];
}

/** Stage boundaries a crash can hit (stage 0, `respond`, is where the answer leaves). */
export const stageCount = createStages.length;
/** Where the audit intent and outcome are written, and where Graph is called. */
export const auditTrailStage = createStages.indexOf(auditTrail);
export const callGraphStage = createStages.indexOf(callGraph);

const graphFault: fc.Arbitrary<GraphFault> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<GraphFault>({ kind: 'throttle' }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constantFrom('unavailable', 'gatewayTimeout', 'serverError', 'reset', 'hang', 'garbage'),
      commit: fc.boolean(),
    }) as fc.Arbitrary<GraphFault>,
  },
);

/** Where instances die most interestingly: around the audit intent, the Graph call and its outcome. */
const crashStage = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(auditTrailStage, callGraphStage) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: stageCount - 1 }) },
);

const requestStep: fc.Arbitrary<RequestStep> = fc.record({
  kind: fc.constant('request' as const),
  bulk: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  retry: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  caller: fc.constantFrom('A' as const, 'B' as const),
  instance: fc.constantFrom(0 as const, 1 as const),
  key: fc.oneof(fc.constant(null), fc.constantFrom('k1' as const, 'k2' as const)),
  body: fc.oneof({ weight: 4, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  parent: fc.oneof({ weight: 4, arbitrary: fc.constant(0 as const) }, { weight: 1, arbitrary: fc.constant(1 as const) }),
  createFaults: fc.oneof({ weight: 1, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 3, arbitrary: fc.array(graphFault, { minLength: 1, maxLength: 3 }) }),
  readFaults: fc.oneof({ weight: 4, arbitrary: fc.constant<GraphFault[]>([]) }, { weight: 1, arbitrary: fc.array(graphFault, { minLength: 1, maxLength: 2 }) }),
  tableFault: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({ call: fc.nat({ max: 5 }), kind: fc.constantFrom('fail' as const, 'hang' as const, 'landedTimeout' as const) }),
    },
  ),
  crash: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({
        stage: crashStage,
        when: fc.constantFrom('before' as const, 'after' as const),
        resumes: fc.boolean(),
      }),
    },
  ),
  overlaps: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
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
});

export const scheduleArbitrary: fc.Arbitrary<Schedule> = fc.record({
  target: fc.constantFrom<TargetKind>(...targetKinds),
  steps: fc.array(
    fc.oneof(
      { weight: 7, arbitrary: requestStep as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: reconcileStep as fc.Arbitrary<Step> },
      { weight: 2, arbitrary: advanceStep as fc.Arbitrary<Step> },
    ),
    { minLength: 1, maxLength: 6 },
  ),
});
