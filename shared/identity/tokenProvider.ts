import type { AccessToken, TokenCredential } from '@azure/identity';
import { serviceUnavailable } from '../errors';

/** A cached token with at least this long left is used when a refresh fails. */
const stillUsableMs = 30_000;

export interface TokenProvider {
  /** A bearer token for the scope, from cache while it has more than the refresh margin left. */
  getToken(): Promise<string>;
}

export interface CachedTokenProviderOptions {
  scope: string;
  /** Refresh this long before expiry, so no request leaves with a token about to lapse. */
  refreshMarginMs?: number;
  /** An identity endpoint that does not answer within this time is treated as down. */
  timeoutMs?: number;
}

/**
 * Single-flight token cache over a credential. `ManagedIdentityCredential` caches tokens, but
 * concurrent calls on a cold credential each go to the identity endpoint (docs/graph-facts.md §8):
 * here every concurrent caller awaits the one request under way.
 */
export class CachedTokenProvider implements TokenProvider {
  private cached: AccessToken | undefined;
  private inFlight: Promise<AccessToken> | undefined;
  private readonly refreshMarginMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: CachedTokenProviderOptions,
  ) {
    this.refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async getToken(): Promise<string> {
    if (this.cached && this.cached.expiresOnTimestamp - Date.now() > this.refreshMarginMs) {
      return this.cached.token;
    }
    this.inFlight ??= this.requestToken().finally(() => {
      this.inFlight = undefined;
    });
    try {
      return (await this.inFlight).token;
    } catch (error) {
      // A refresh that fails inside the margin must not throw away a token that still works.
      if (this.cached && this.cached.expiresOnTimestamp - Date.now() > stillUsableMs) return this.cached.token;
      throw error;
    }
  }

  private async requestToken(): Promise<AccessToken> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const token = await Promise.race([
        this.credential.getToken(this.options.scope, { abortSignal: abort.signal }),
        new Promise<never>((_, reject) => {
          abort.signal.addEventListener('abort', () =>
            reject(new Error(`identity endpoint did not answer within ${this.timeoutMs} ms`)),
          );
        }),
      ]);
      if (!token) throw new Error('the credential returned no token');
      this.cached = token;
      return token;
    } catch (error) {
      throw serviceUnavailable(
        'managedIdentityUnavailable',
        'The facade could not get a token for Microsoft Graph from its managed identity. Retry later.',
        5,
        error,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
