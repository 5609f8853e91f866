/**
 * Bulk group members (bench/bulk.ts): one bulk request against the same members added one by one
 * (Power Automate's default "Apply to each") and 20 at a time, Graph answering each HTTP call in
 * 100 ms; wall time, Graph HTTP calls and audit table round trips of each, in the same run.
 */
import { benchBulk, bulkGoals, type BulkBenchFigures, type ScenarioFigures } from '../bulk';
import { defineSection, goal, verdict } from '../support/section';

/** Each goal's verdict, decided once for the rows and the goals alike. */
function verdictsOf(result: BulkBenchFigures, bulk: ScenarioFigures) {
  const vsSequential = result.speedup.sequential >= bulkGoals.vsSequential;
  const vsConcurrent = result.speedup.concurrent >= bulkGoals.vsConcurrent;
  const graphCalls = bulk.graphHttpCalls <= bulkGoals.graphCalls;
  const tableRoundTrips = bulk.tableRoundTrips <= bulkGoals.tableRoundTrips;
  // The call and round-trip budgets are the for 1,000 members (a request's own record
  // costs a few round trips whatever its size), so only a run of that size decides them.
  const budgetsDecided = bulk.members === bulkGoals.members;
  return { vsSequential, vsConcurrent, graphCalls, tableRoundTrips, budgetsDecided };
}

export const bulkSection = defineSection<BulkBenchFigures>({
  key: 'bulk',
  title: 'Bulk group members (Graph at 100 ms)',
  async run(context) {
    // A quick run adds fewer members: one by one, 1,000 adds at 100 ms each take minutes.
    const members = context.options.quick ? 200 : bulkGoals.members;
    context.log(`bulk: ${members} members as one bulk request, one by one, and 20 at a time (Graph at 100 ms)`);
    return benchBulk({ members, latencyMs: 100, concurrency: 20 });
  },
  rows: (result) => {
    // A results file written before this section measured holds no scenarios.
    const [bulk, sequential, concurrent] = result.scenarios ?? [];
    if (!bulk || !sequential || !concurrent) return [{ figure: 'bulk members', value: 'not measured in this run' }];
    const met = verdictsOf(result, bulk);
    const seconds = (wallMs: number) => `${(wallMs / 1000).toFixed(2)} s`;
    const costs = (scenario: ScenarioFigures) => `${scenario.graphHttpCalls} Graph calls, ${scenario.tableRoundTrips} table round trips`;
    const fastEnough = met.vsSequential && met.vsConcurrent;
    const withinBudget = met.graphCalls && met.tableRoundTrips;
    return [
      {
        figure: `bulk request of ${bulk.members} members`,
        value: `${seconds(bulk.wallMs)} (${costs(bulk)}, ${bulk.added} added)`,
        against: `one by one ${seconds(sequential.wallMs)} (${result.speedup.sequential}× slower); ${result.options.concurrency} at a time ${seconds(concurrent.wallMs)} (${result.speedup.concurrent}× slower)`,
        goal: `≥ ${bulkGoals.vsSequential}× one by one, ≥ ${bulkGoals.vsConcurrent}× 20 at a time: ${verdict(fastEnough)}`,
        met: fastEnough,
      },
      {
        figure: `bulk request of ${bulk.members} members: Graph calls and table round trips`,
        value: costs(bulk),
        against: `one by one: ${costs(sequential)}`,
        ...(met.budgetsDecided
          ? { goal: `≤ ${bulkGoals.graphCalls} Graph calls, ≤ ${bulkGoals.tableRoundTrips} table round trips: ${verdict(withinBudget)}`, met: withinBudget }
          : { goal: `decided by a run of ${bulkGoals.members} members` }),
      },
    ];
  },
  goals: (result) => {
    const [bulk] = result.scenarios ?? [];
    if (!bulk) return [];
    const met = verdictsOf(result, bulk);
    const speedups = [
      goal('bulkVsSequential', `bulk at least ${bulkGoals.vsSequential}× faster than one by one`, result.speedup.sequential, '×', met.vsSequential),
      goal('bulkVsConcurrent', `bulk at least ${bulkGoals.vsConcurrent}× faster than ${result.options.concurrency} at a time`, result.speedup.concurrent, '×', met.vsConcurrent),
    ];
    if (!met.budgetsDecided) return speedups;
    return [
      ...speedups,
      goal('bulkGraphCalls', `at most ${bulkGoals.graphCalls} Graph calls for ${bulkGoals.members} members`, bulk.graphHttpCalls, 'calls', met.graphCalls),
      goal('bulkTableRoundTrips', `at most ${bulkGoals.tableRoundTrips} table round trips for ${bulkGoals.members} members`, bulk.tableRoundTrips, 'round trips', met.tableRoundTrips),
    ];
  },
});
