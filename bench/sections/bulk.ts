/**
 * Bulk group members (bench/bulk.ts): one bulk request against the same members added one by one
 * (Power Automate's default "Apply to each") and 20 at a time, Graph answering each HTTP call in
 * 100 ms; wall time, Graph HTTP calls and audit table round trips of each, in the same run.
 */
import { benchBulk, type BulkBenchFigures } from '../bulk';
import { defineSection, goal, verdict } from '../support/section';

/** The size the goals are stated for. */
const goalMembers = 1_000;

export const bulkSection = defineSection<BulkBenchFigures>({
  key: 'bulk',
  title: 'Bulk group members (Graph at 100 ms)',
  async run(context) {
    // A quick run adds fewer members: one by one, 1,000 adds at 100 ms each take minutes.
    const members = context.options.quick ? 200 : goalMembers;
    context.log(`bulk: ${members} members as one bulk request, one by one, and 20 at a time (Graph at 100 ms)`);
    return benchBulk({ members, latencyMs: 100, concurrency: 20 });
  },
  rows: (result) => {
    // A results file written before this section measured holds no scenarios.
    const [bulk, sequential, concurrent] = result.scenarios ?? [];
    if (!bulk) return [{ figure: 'bulk members', value: 'not measured in this run' }];
    const seconds = (wallMs: number) => `${(wallMs / 1000).toFixed(2)} s`;
    const costs = (scenario: NonNullable<typeof bulk>) => `${scenario.graphHttpCalls} Graph calls, ${scenario.tableRoundTrips} table round trips`;
    if (!bulk || !sequential || !concurrent) return [];
    return [
      {
        figure: `bulk request of ${bulk.members} members`,
        value: `${seconds(bulk.wallMs)} (${costs(bulk)}, ${bulk.added} added)`,
        against: `one by one ${seconds(sequential.wallMs)} (${result.speedup.sequential}× slower); ${result.options.concurrency} at a time ${seconds(concurrent.wallMs)} (${result.speedup.concurrent}× slower)`,
        goal: `≥ 20× one by one, ≥ 3× 20 at a time: ${verdict(result.speedup.sequential >= 20 && result.speedup.concurrent >= 3)}`,
        met: result.speedup.sequential >= 20 && result.speedup.concurrent >= 3,
      },
      {
        figure: `bulk request of ${bulk.members} members: Graph calls and table round trips`,
        value: costs(bulk),
        against: `one by one: ${costs(sequential)}`,
        ...(bulk.members === goalMembers
          ? {
              goal: `≤ 50 Graph calls, ≤ 60 table round trips: ${verdict(bulk.graphHttpCalls <= 50 && bulk.tableRoundTrips <= 60)}`,
              met: bulk.graphHttpCalls <= 50 && bulk.tableRoundTrips <= 60,
            }
          : { goal: `decided by a run of ${goalMembers} members` }),
      },
    ];
  },
  goals: (result) => {
    const [bulk] = result.scenarios ?? [];
    if (!bulk) return [];
    const speedups = [
      goal('bulkVsSequential', 'bulk at least 20× faster than one by one', result.speedup.sequential, '×', result.speedup.sequential >= 20),
      goal('bulkVsConcurrent', `bulk at least 3× faster than ${result.options.concurrency} at a time`, result.speedup.concurrent, '×', result.speedup.concurrent >= 3),
    ];
    // The call and round-trip budgets are the for 1,000 members (a request's own record
    // costs a few round trips whatever its size), so only a run of that size decides them.
    if (bulk.members !== goalMembers) return speedups;
    return [
      ...speedups,
      goal('bulkGraphCalls', `at most 50 Graph calls for ${goalMembers} members`, bulk.graphHttpCalls, 'calls', bulk.graphHttpCalls <= 50),
      goal('bulkTableRoundTrips', `at most 60 table round trips for ${goalMembers} members`, bulk.tableRoundTrips, 'round trips', bulk.tableRoundTrips <= 60),
    ];
  },
});
