/**
 * Connector manifests (bench/manifest.ts): one apply of a connection, its schema, 20 groups and
 * their members against the same through the single routes one by one and 20 at a time, and
 * against the bulk route's time for the same members; Graph at 100 ms, a schema provisioned in 2 s.
 */
import { benchManifest, manifestGoals, type ManifestBenchFigures, type ManifestScenario } from '../manifest';
import { defineSection, goal, verdict } from '../support/section';

function verdictsOf(result: ManifestBenchFigures) {
  return {
    vsSequential: result.speedup.sequential >= manifestGoals.vsSequential,
    vsBulkRoute: result.vsBulkRoute <= manifestGoals.vsBulkRoute,
    // The goals are the for 2,000 members; a smaller run only checks the benchmark.
    decided: result.options.members === manifestGoals.members,
  };
}

export const manifestSection = defineSection<ManifestBenchFigures>({
  key: 'manifest',
  title: 'Connector manifest apply (Graph at 100 ms)',
  async run(context) {
    const members = context.options.quick ? 200 : manifestGoals.members;
    context.log(`manifest: 1 connection, its schema, ${manifestGoals.groups} groups and ${members} members as one apply, one by one, 20 at a time, and the bulk route`);
    return benchManifest({ members, groups: manifestGoals.groups, latencyMs: 100 });
  },
  rows: (result) => {
    const [manifest, sequential, concurrent, bulkRoute] = result.scenarios ?? [];
    if (!manifest || !sequential || !concurrent || !bulkRoute) return [{ figure: 'manifest apply', value: 'not measured in this run' }];
    const met = verdictsOf(result);
    const seconds = (scenario: ManifestScenario) => `${(scenario.wallMs / 1000).toFixed(2)} s`;
    const costs = (scenario: ManifestScenario) => `${scenario.graphHttpCalls} Graph calls, ${scenario.tableRoundTrips} table round trips`;
    return [
      {
        figure: manifest.description,
        value: `${seconds(manifest)} (${costs(manifest)}, ${manifest.created} created)`,
        against: `one by one ${seconds(sequential)} (${result.speedup.sequential}× slower, ${costs(sequential)}); 20 at a time ${seconds(concurrent)} (${result.speedup.concurrent}× slower)`,
        ...(met.decided ? { goal: `≥ ${manifestGoals.vsSequential}× one by one: ${verdict(met.vsSequential)}`, met: met.vsSequential } : { goal: `decided by a run of ${manifestGoals.members} members` }),
      },
      {
        figure: 'manifest apply against the bulk route for the same members',
        value: `${result.vsBulkRoute}× the bulk route's time`,
        against: `bulk route ${seconds(bulkRoute)} (${costs(bulkRoute)}), members only`,
        ...(met.decided ? { goal: `≤ ${manifestGoals.vsBulkRoute}×: ${verdict(met.vsBulkRoute)}`, met: met.vsBulkRoute } : { goal: `decided by a run of ${manifestGoals.members} members` }),
      },
    ];
  },
  goals: (result) => {
    if (!result.scenarios?.length) return [];
    const met = verdictsOf(result);
    if (!met.decided) return [];
    return [
      goal('manifestVsSequential', `manifest apply at least ${manifestGoals.vsSequential}× faster than one by one`, result.speedup.sequential, '×', met.vsSequential),
      goal('manifestVsBulkRoute', `manifest apply within ${manifestGoals.vsBulkRoute}× of the bulk route's time for the same members`, result.vsBulkRoute, '×', met.vsBulkRoute),
    ];
  },
});
