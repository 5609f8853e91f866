import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
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
}

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

/**
 * Checks Microsoft Entra ID access tokens with `jose`: RS256 only, signed by a key of the tenant's
 * key set (cached, fetched again for an unknown `kid` at most once per cooldown), one of the
 * accepted issuers and audiences, `exp`/`nbf` within five minutes of skew, and `tid` the tenant.
 */
export class JwtValidator {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    private readonly settings: JwtAuthSettings,
    options: JwtValidatorOptions = {},
  ) {
    const remote = createRemoteJWKSet(new URL(settings.jwksUri), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksCacheMaxAgeMs ?? 60 * 60_000,
      timeoutDuration: options.jwksTimeoutMs ?? 5_000,
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

  /** The token's claims, or `AuthenticationFailed` / `SigningKeysUnavailable`. */
  async verify(token: string): Promise<CallerClaims> {
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
