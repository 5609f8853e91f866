/**
 * Bulk group members: 1,000 members with Graph at 100 ms, the bulk operation against one by one
 * (sequential) and 20 at a time; wall time, Graph HTTP calls and table round trips of each.
 * Measured once the bulk operation is served; until then the section says so and decides nothing.
 */
import { defineSection } from '../support/section';

export type BulkResult = { measured: false; reason: string };

export const bulkSection = defineSection<BulkResult>({
  key: 'bulk',
  title: 'Bulk group members (1,000 members, Graph at 100 ms)',
  run: async () => ({ measured: false, reason: 'the bulk member operation is not served yet' }),
  rows: (result) => [{ figure: 'bulk members, 1,000 with Graph at 100 ms', value: `not measured: ${result.reason}` }],
  goals: () => [],
});
