import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JWK } from 'jose';
import { listenOnLoopback, sendJson, type RunningServer } from '../../dev/listen';
import { devIdentities, generateDevSigningKey, mintDevToken, type DevSigningKey } from '../../dev/tokenIssuer';
import { clockToleranceSeconds, JwtValidator, type JwtValidatorOptions } from '../../shared/auth/jwtValidator';

/**
 * The cache of verified caller tokens: a token is checked once and then remembered, but only
 * while it is bounded, keyed by the whole token, within the token's `exp`, under the key set that
 * checked it; failures are never remembered.
 */

let keySet: RunningServer;
let served: DevSigningKey[] = [];
let keySetUp = true;
let keySetRequests = 0;
let first: DevSigningKey;
let second: DevSigningKey;
const keysPath = `/${devIdentities.tenantId}/discovery/v2.0/keys`;

const publicJwk = (key: DevSigningKey): JWK => ({ kty: key.privateJwk.kty, n: key.privateJwk.n, e: key.privateJwk.e, kid: key.kid, use: 'sig' });

beforeAll(async () => {
  [first, second] = await Promise.all([generateDevSigningKey(), generateDevSigningKey()]);
  keySet = await listenOnLoopback((_request, response) => {
    keySetRequests += 1;
    if (!keySetUp) return sendJson(response, 503, { error: 'unavailable' });
    sendJson(response, 200, { keys: served.map(publicJwk) });
  });
});

afterAll(async () => {
  await keySet?.close();
});

afterEach(() => {
  vi.useRealTimers();
  served = [first];
  keySetUp = true;
});

function validator(options: JwtValidatorOptions = {}): JwtValidator {
  served = served.length > 0 ? served : [first];
  return new JwtValidator(
    {
      tenantId: devIdentities.tenantId,
      audiences: [devIdentities.facadeClientId],
      issuers: [`https://login.microsoftonline.com/${devIdentities.tenantId}/v2.0`],
      jwksUri: `${keySet.origin}${keysPath}`,
    },
    { jwksCooldownMs: 0, ...options },
  );
}

const mint = (key: DevSigningKey = first, options: Parameters<typeof mintDevToken>[1] = {}) => mintDevToken(key, options);

describe('a verified token', () => {
  it('is checked once, then answered from the cache with the same claims', async () => {
    const cache = validator();
    const token = await mint();
    const checked = await cache.verify(token);
    expect(cache.verifiedTokenStats).toMatchObject({ size: 1, hits: 0, misses: 1 });
    expect(await cache.verify(token)).toEqual(checked);
    expect(await cache.verify(token)).toEqual(checked);
    expect(cache.verifiedTokenStats).toMatchObject({ size: 1, hits: 2, misses: 1 });
    expect(checked.oid).toBe(devIdentities.callerObjectId);
  });

  it('is not remembered at all when the cache holds no entries', async () => {
    const uncached = validator({ verifiedTokens: 0 });
    const token = await mint();
    await uncached.verify(token);
    await uncached.verify(token);
    expect(uncached.verifiedTokenStats).toMatchObject({ size: 0, hits: 0 });
  });
});

describe('the cache is bounded', () => {
  it('keeps at most its capacity, dropping the least recently used token first', async () => {
    const cache = validator({ verifiedTokens: 3 });
    const tokens = await Promise.all([1, 2, 3, 4].map(() => mint()));
    for (const token of tokens.slice(0, 3)) await cache.verify(token);
    await cache.verify(tokens[0]!); // the first is now the most recently used
    await cache.verify(tokens[3]!); // the fourth pushes out the second
    expect(cache.verifiedTokenStats.size).toBe(3);
    const hitsBefore = cache.verifiedTokenStats.hits;
    await cache.verify(tokens[0]!);
    await cache.verify(tokens[2]!);
    expect(cache.verifiedTokenStats.hits).toBe(hitsBefore + 2);
    const missesBefore = cache.verifiedTokenStats.misses;
    await cache.verify(tokens[1]!);
    expect(cache.verifiedTokenStats.misses).toBe(missesBefore + 1);
    expect(cache.verifiedTokenStats.size).toBe(3);
  });
});

describe('the cache is keyed by the whole token', () => {
  it('never vouches for a token whose header and claims match a cached one but whose signature does not', async () => {
    const cache = validator();
    const token = await mint();
    await cache.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = `${header}.${payload}.${signature.slice(0, -4)}${signature.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await expect(cache.verify(forged)).rejects.toMatchObject({ name: 'AuthenticationFailed' });
    const resigned = `${header}.${payload}.${(await mint(second)).split('.')[2]}`;
    await expect(cache.verify(resigned)).rejects.toMatchObject({ name: 'AuthenticationFailed' });
    expect(cache.verifiedTokenStats).toMatchObject({ size: 1, hits: 0 });
  });
});

describe('a cached token never outlives its exp', () => {
  it('is checked again once exp has passed, and refused past the clock skew jose allows', async () => {
    const cache = validator();
    const token = await mint(first, { lifetimeSeconds: 60 });
    await cache.verify(token);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 30_000);
    await cache.verify(token);
    expect(cache.verifiedTokenStats.hits).toBe(1);

    // Past exp, inside the skew: jose still accepts it, but only after checking it again.
    vi.setSystemTime(Date.now() + 31_000);
    await cache.verify(token);
    expect(cache.verifiedTokenStats).toMatchObject({ hits: 1, misses: 2 });
    // Checked after its exp, it is not remembered.
    await cache.verify(token);
    expect(cache.verifiedTokenStats).toMatchObject({ hits: 1, misses: 3 });

    vi.setSystemTime(Date.now() + clockToleranceSeconds * 1000);
    await expect(cache.verify(token)).rejects.toMatchObject({ name: 'AuthenticationFailed', reason: expect.stringContaining('exp') });
  });
});

describe('a cached token never outlives a signing key rollover', () => {
  it('is refused once the key set is fetched again without its key', async () => {
    const cache = validator();
    const token = await mint(first);
    await cache.verify(token);
    await cache.verify(token);
    expect(cache.verifiedTokenStats.hits).toBe(1);

    // The tenant rolls its keys: the old key is withdrawn. A token with the new key's kid makes
    // the validator fetch the key set again.
    served = [second];
    await cache.verify(await mint(second));
    await expect(cache.verify(token)).rejects.toMatchObject({ name: 'AuthenticationFailed', reason: expect.stringContaining('ERR_JWKS_NO_MATCHING_KEY') });
  });

  it('forgets every token when the key set is fetched again, even if their key is still served', async () => {
    const cache = validator();
    const token = await mint(first);
    await cache.verify(token);
    served = [first, second];
    await cache.verify(await mint(second));
    expect(cache.verifiedTokenStats.size).toBe(1);
    const missesBefore = cache.verifiedTokenStats.misses;
    await cache.verify(token);
    expect(cache.verifiedTokenStats.misses).toBe(missesBefore + 1);
  });

  it('does not answer from the cache once the key set is due to be fetched again: a withdrawn key is noticed', async () => {
    const cache = validator({ jwksCacheMaxAgeMs: 60_000 });
    const token = await mint(first);
    await cache.verify(token);
    const fetched = keySetRequests;
    served = [second];
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    await expect(cache.verify(token)).rejects.toMatchObject({ name: 'AuthenticationFailed' });
    expect(keySetRequests).toBeGreaterThan(fetched);
    expect(cache.verifiedTokenStats.hits).toBe(0);
  });
});

describe('failures are never cached', () => {
  it('checks a refused token again each time it comes', async () => {
    const cache = validator();
    const wrongAudience = await mint(first, { claims: { aud: 'api://someone-else' } });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await expect(cache.verify(wrongAudience)).rejects.toMatchObject({ name: 'AuthenticationFailed' });
    }
    expect(cache.verifiedTokenStats).toMatchObject({ size: 0, hits: 0, misses: 3 });
  });

  it('accepts a good token once the key set can be fetched again after an outage', async () => {
    keySetUp = false;
    const cache = validator();
    const token = await mint(first);
    await expect(cache.verify(token)).rejects.toMatchObject({ name: 'SigningKeysUnavailable' });
    expect(cache.verifiedTokenStats.size).toBe(0);
    keySetUp = true;
    expect((await cache.verify(token)).oid).toBe(devIdentities.callerObjectId);
  });
});
