import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwksCache, jwtVerify, type ExportedJWKSCache, type JWTVerifyGetKey } from 'jose';
import { AuthenticationFailed, SigningKeysUnavailable } from './authErrors';
import { callerFromClaims, claimsFromPayload, type CallerClaims } from './caller';
import type { AuthSettings } from './settings';

/** What token validation needs of the `jwt` settings (the caller policy is applied later, by `authorize`). */
export type JwtAuthSettings = Pick<Extract<AuthSettings, { mode: 'jwt' }>, 'tenantId' | 'audiences' | 'issuers' | 'jwksUri'>;

export interface JwtValidatorOptions {
  /**
   * Least time between two fetches of the key set that an unknown `kid` may cause: the rate limit
   * that keeps tokens with made-up key ids from hammering the tenant's keys endpoint.
   */
  jwksCooldownMs?: number;
  /** The key set is fetched again, before a token is checked, once it is this old. */
  jwksCacheMaxAgeMs?: number;
  jwksTimeoutMs?: number;
  /** How many verified tokens are remembered (least recently used dropped first); 0: none. */
  verifiedTokens?: number;
}

/** Verified tokens remembered by default: each caller sends the same token for up to an hour or more. */
export const defaultVerifiedTokens = 1_000;

/** Largest clock difference with Microsoft Entra ID accepted on `exp` and `nbf`. */
export const clockToleranceSeconds = 300;

function describe(error: unknown): string {
  if (error instanceof errors.JWTClaimValidationFailed) return `${error.code}: ${error.message} (${error.claim})`;
  if (error instanceof errors.JOSEError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Who an unverified token claims to be; for the log of a denied attempt only. */
export function claimedCallerOf(token: string) {
  try {
    return callerFromClaims(claimsFromPayload(decodeJwt(token)));
  } catch {
    return undefined;
  }
}

interface VerifiedToken {
  claims: CallerClaims;
  /** The token's `exp`, in epoch ms: the entry is never used from then on. */
  expiresAt: number;
}

/**
 * Tokens that passed every check, by the SHA-256 of the whole token (so a token differing in any
 * character, its signature included, is a different entry), least recently used dropped first.
 * Only successes are kept. The whole cache belongs to one generation of the signing key set: it is
 * emptied when the key set is fetched again, so a key that was withdrawn stops vouching for the
 * tokens it signed as soon as the validator learns of it.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedToken>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): CallerClaims | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || now >= entry.expiresAt) {
      if (entry) this.entries.delete(key);
      this.misses += 1;
      return undefined;
    }
    // Map order is insertion order: moved to the end, it is the most recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits += 1;
    return entry.claims;
  }

  set(key: string, entry: VerifiedToken): void {
    if (this.capacity <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/** What the verified-token cache holds and how often it answered (diagnostics and tests). */
export interface VerifiedTokenStats {
  size: number;
  capacity: number;
  hits: number;
  misses: number;
}

const tokenKey = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Checks Microsoft Entra ID access tokens with `jose`: RS256 only, signed by a key of the tenant's
 * key set (cached, fetched again for an unknown `kid` at most once per cooldown), one of the
 * accepted issuers and audiences, `exp`/`nbf` within five minutes of skew, and `tid` the tenant.
 *
 * A caller sends the same token with every request until it expires, and an RS256 check costs
 * about half a millisecond of CPU: a token that passed is remembered (`VerifiedTokens`) until its
 * `exp`, while the key set it was checked against is current and fresh, and only if that key set
 * still serves the token's `kid`.
 */
export class JwtValidator {
  private readonly keys: JWTVerifyGetKey;
  /** jose keeps the key set it uses here: `jwks` is replaced by each fetch, `uat` says when. */
  private readonly keySet: ExportedJWKSCache | Record<string, never> = {};
  private readonly keySetMaxAgeMs: number;
  private readonly verified: VerifiedTokens;
  /** The key set generation the verified tokens belong to. */
  private verifiedUnder: unknown;

  constructor(
    private readonly settings: JwtAuthSettings,
    options: JwtValidatorOptions = {},
  ) {
    this.keySetMaxAgeMs = options.jwksCacheMaxAgeMs ?? 60 * 60_000;
    this.verified = new VerifiedTokens(options.verifiedTokens ?? defaultVerifiedTokens);
    const remote = createRemoteJWKSet(new URL(settings.jwksUri), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: this.keySetMaxAgeMs,
      timeoutDuration: options.jwksTimeoutMs ?? 5_000,
      [jwksCache]: this.keySet,
    });
    this.keys = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // No key for this token is the token's fault; anything else (network, HTTP status, a key set
        // that does not parse) is the key endpoint's.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new SigningKeysUnavailable(error);
      }
    };
  }

  get verifiedTokenStats(): VerifiedTokenStats {
    const { size, capacity, hits, misses } = this.verified;
    return { size, capacity, hits, misses };
  }

  /** The current key set, or undefined when there is none or it is due to be fetched again. */
  private freshKeySet(now: number): ExportedJWKSCache['jwks'] | undefined {
    const { jwks, uat } = this.keySet;
    if (jwks === undefined || uat === undefined || now >= uat + this.keySetMaxAgeMs) return undefined;
    if (jwks !== this.verifiedUnder) {
      // The key set was fetched again: what was verified under the previous one is forgotten.
      this.verified.clear();
      this.verifiedUnder = jwks;
    }
    return jwks;
  }

  /** The token's claims, or `AuthenticationFailed` / `SigningKeysUnavailable`. */
  async verify(token: string): Promise<CallerClaims> {
    if (this.verified.capacity <= 0) return this.check(token);
    const key = tokenKey(token);
    const now = Date.now();
    if (this.freshKeySet(now)) {
      const known = this.verified.get(key, now);
      if (known) return known;
    } else {
      // No current key set to vouch for anything: the check below fetches it.
      this.verified.misses += 1;
    }
    const claims = await this.check(token);
    this.remember(key, token, claims);
    return claims;
  }

  /** Keeps a token that passed, if the key set that passed it is current and serves its `kid`. */
  private remember(key: string, token: string, claims: CallerClaims): void {
    const keySet = this.freshKeySet(Date.now());
    const { exp } = decodeJwt(token);
    const { kid } = decodeProtectedHeader(token);
    if (!keySet || typeof exp !== 'number' || typeof kid !== 'string') return;
    if (!keySet.keys.some((jwk) => jwk.kid === kid)) return;
    const expiresAt = exp * 1000;
    if (Date.now() >= expiresAt) return;
    Object.freeze(claims.roles);
    this.verified.set(key, { claims: Object.freeze(claims), expiresAt });
  }

  private async check(token: string): Promise<CallerClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        issuer: this.settings.issuers,
        audience: this.settings.audiences,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ['exp', 'tid'],
      }));
    } catch (error) {
      if (error instanceof SigningKeysUnavailable) throw error;
      throw new AuthenticationFailed('invalid', describe(error), claimedCallerOf(token));
    }
    const claims = claimsFromPayload(payload);
    if (claims.tid?.toLowerCase() !== this.settings.tenantId) {
      throw new AuthenticationFailed('invalid', `tid "${claims.tid}" is not the configured tenant`, callerFromClaims(claims));
    }
    return claims;
  }
}
