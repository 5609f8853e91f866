import { ManagedIdentityCredential, type GetTokenOptions, type TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { FacadeError } from '../../shared/errors';
import { CachedTokenProvider } from '../../shared/identity/tokenProvider';

let identity: IdentityEndpoint;
const savedEnvironment = { ...process.env };

beforeAll(async () => {
  identity = await startIdentityEndpoint();
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.identityHeader;
});

afterAll(async () => {
  process.env = savedEnvironment;
  await identity?.close();
});

const scope = 'https://graph.microsoft.com/.default';

/** The real credential, counting the calls made to it (MSAL's own cache sits behind it). */
function countingCredential(): TokenCredential & { calls: number } {
  const credential = new ManagedIdentityCredential();
  const counting = {
    calls: 0,
    getToken: (scopes: string | string[], options?: GetTokenOptions) => {
      counting.calls += 1;
      return credential.getToken(scopes, options);
    },
  };
  return counting;
}

describe('CachedTokenProvider over the real ManagedIdentityCredential', () => {
  it('makes one identity request for 50 concurrent callers on a cold cache, then serves from cache', async () => {
    identity.setFault({ kind: 'slow', delayMs: 100 });
    const provider = new CachedTokenProvider(new ManagedIdentityCredential(), { scope });
    const before = identity.requestCount;
    const tokens = await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));
    expect(new Set(tokens).size).toBe(1);
    await provider.getToken();
    expect(identity.requestCount - before).toBe(1);
    identity.setFault(undefined);
  });

  it('asks the credential again for a token within the refresh margin of expiry', async () => {
    const credential = countingCredential();
    const provider = new CachedTokenProvider(credential, { scope, refreshMarginMs: 2 * 3_600_000 });
    await provider.getToken();
    await provider.getToken();
    expect(credential.calls).toBe(2);
  });

  it('turns an identity endpoint that does not answer into a 503 with Retry-After, in bounded time', async () => {
    identity.setFault({ kind: 'slow', delayMs: 5_000 });
    // A scope nothing has asked for yet, so MSAL's process-wide token cache cannot answer.
    const provider = new CachedTokenProvider(new ManagedIdentityCredential(), { scope: 'https://slow.example/.default', timeoutMs: 500 });
    const started = Date.now();
    const failure = await provider.getToken().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FacadeError);
    expect(failure).toMatchObject({ status: 503, code: 'managedIdentityUnavailable', retryAfterSeconds: 5 });
    expect(Date.now() - started).toBeLessThan(1_500);
    identity.setFault(undefined);
  });
});

describe('CachedTokenProvider when a refresh fails', () => {
  it('keeps using a token that is still valid for minutes, and fails once it is nearly gone', async () => {
    let calls = 0;
    let expiresOnTimestamp = Date.now() + 2 * 60_000;
    const flaky: TokenCredential = {
      getToken: async () => {
        calls += 1;
        if (calls === 1) return { token: 'first', expiresOnTimestamp };
        throw new Error('identity endpoint down');
      },
    };
    const provider = new CachedTokenProvider(flaky, { scope });
    expect(await provider.getToken()).toBe('first');
    // Inside the 5-minute refresh margin: a refresh is tried, fails, and the cached token serves.
    expect(await provider.getToken()).toBe('first');
    expect(calls).toBe(2);
    expiresOnTimestamp = Date.now() + 10_000;
    const nearlyExpired = new CachedTokenProvider(
      { getToken: async () => (calls++ === 2 ? { token: 'short', expiresOnTimestamp } : Promise.reject(new Error('down'))) },
      { scope },
    );
    expect(await nearlyExpired.getToken()).toBe('short');
    await expect(nearlyExpired.getToken()).rejects.toMatchObject({ status: 503, code: 'managedIdentityUnavailable' });
  });
});
