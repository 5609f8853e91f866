/** Identity endpoint requests for concurrent token requests on a cold instance (bench/tokenRequests.ts). */
import { measureTokenRequests, type TokenRequestsResult } from '../tokenRequests';
import { defineSection } from '../support/section';

export const tokensSection = defineSection<TokenRequestsResult>({
  key: 'tokens',
  title: 'Graph tokens: identity requests of a cold instance',
  async run(context) {
    context.log(`tokens: ${context.options.tokenConcurrency} concurrent token requests, each side in a fresh process`);
    return measureTokenRequests(context.options.tokenConcurrency);
  },
  rows: (result) => [
    {
      figure: `identity requests, ${result.concurrency} concurrent cold callers`,
      value: `${result.cached.identityRequests} (single-flight cache, ${result.cached.ms} ms)`,
      against: `${result.plain.identityRequests} with plain ManagedIdentityCredential (${result.plain.ms} ms): ${(result.plain.identityRequests / Math.max(1, result.cached.identityRequests)).toFixed(0)}× fewer`,
    },
  ],
  goals: () => [],
});
