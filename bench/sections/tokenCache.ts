/**
 * The cache of verified caller tokens, before and after in the same run: CPU per verification of
 * one caller's token with the cache off (every request checks the RS256 signature, as before the
 * cache) and on, in this process (process.cpuUsage), against the dev token issuer's key set.
 */
import { startDevTokenIssuer } from '../../dev/tokenIssuer';
import { JwtValidator } from '../../shared/auth/jwtValidator';
import { defineSection, thousands } from '../support/section';

export interface TokenCacheResult {
  verifications: number;
  uncachedMsPerVerification: number;
  cachedMsPerVerification: number;
}

async function cpuMsPerVerification(validator: JwtValidator, token: string, count: number): Promise<number> {
  await validator.verify(token); // the key set fetch and the first check are not counted
  const before = process.cpuUsage();
  for (let index = 0; index < count; index += 1) await validator.verify(token);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / count;
}

export const tokenCacheSection = defineSection<TokenCacheResult>({
  key: 'tokenCache',
  title: 'Caller token verification: the verified-token cache off and on',
  async run(context) {
    const issuer = await startDevTokenIssuer();
    try {
      const settings = { tenantId: issuer.tenantId, audiences: [issuer.audience], issuers: [issuer.issuer], jwksUri: issuer.jwksUri };
      const token = await issuer.mint();
      const count = context.options.tokenVerifications;
      context.log(`token cache: ${thousands(count)} verifications of one token, cache off then on`);
      const uncachedMsPerVerification = await cpuMsPerVerification(new JwtValidator(settings, { verifiedTokens: 0 }), token, count);
      const cachedMsPerVerification = await cpuMsPerVerification(new JwtValidator(settings), token, count);
      return { verifications: count, uncachedMsPerVerification, cachedMsPerVerification };
    } finally {
      await issuer.close();
    }
  },
  rows: (result) => [
    {
      figure: 'CPU per caller token check, cache on',
      value: `${(result.cachedMsPerVerification * 1000).toFixed(1)} µs`,
      against: `cache off (RS256 signature checked every time): ${(result.uncachedMsPerVerification * 1000).toFixed(0)} µs, ${(result.uncachedMsPerVerification / result.cachedMsPerVerification).toFixed(0)}×; ${thousands(result.verifications)} checks each`,
    },
  ],
  goals: () => [],
});
