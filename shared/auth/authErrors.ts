import { FacadeError } from '../errors';
import type { Caller } from './caller';

/**
 * Why a caller was not let in. The `reason` is for the log only: answers never say why a token
 * failed, so a caller cannot probe the validation.
 */
export class AuthenticationFailed extends Error {
  constructor(
    /**
     * `missing`: no credentials at all (RFC 6750: no error code); `noScheme`: an Authorization
     * header of one word (a token pasted without `Bearer `); `otherScheme`: another scheme
     * (`Basic …`); `invalid`: the Bearer credentials did not hold.
     */
    readonly challenge: 'missing' | 'noScheme' | 'otherScheme' | 'invalid',
    readonly reason: string,
    /** Who the token claims to be, read without trusting it (for the log of a denied attempt). */
    readonly claimedCaller?: Caller,
  ) {
    super(reason);
    this.name = 'AuthenticationFailed';
  }
}

/** The signing keys could not be fetched: the token may be fine, the facade cannot tell. */
export class SigningKeysUnavailable extends Error {
  constructor(cause: unknown) {
    super(`signing keys unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'SigningKeysUnavailable';
  }
}

/** Authentication is not configured, so nobody is let in. */
export class AuthNotConfigured extends Error {
  constructor(
    readonly reason: string,
    readonly runningInAzure: boolean,
  ) {
    super(reason);
    this.name = 'AuthNotConfigured';
  }
}

const realm = 'graph-connectors-facade';

const unauthorizedMessages: Record<AuthenticationFailed['challenge'], string> = {
  missing: 'Access token is empty.',
  noScheme: 'The Authorization header names no scheme: send the access token as "Authorization: Bearer <token>".',
  otherScheme: 'The Authorization header uses a scheme other than Bearer: send the access token as "Authorization: Bearer <token>".',
  invalid: 'Access token validation failure.',
};

/**
 * 401 with the RFC 6750 challenge and Graph's code. The message says what the request lacks (a
 * token, the Bearer scheme), never why a token failed, so a caller cannot probe the validation.
 */
export function unauthorized(challenge: AuthenticationFailed['challenge']): FacadeError {
  return new FacadeError(401, 'InvalidAuthenticationToken', unauthorizedMessages[challenge], {
    headers: {
      'www-authenticate': challenge === 'invalid' ? `Bearer realm="${realm}", error="invalid_token"` : `Bearer realm="${realm}"`,
    },
  });
}

const denied = (why: string, challenge = '') =>
  new FacadeError(403, 'Authorization_RequestDenied', `Insufficient privileges to complete the operation: ${why}.`, {
    headers: { 'www-authenticate': `Bearer realm="${realm}", error="insufficient_scope"${challenge}` },
  });

export function forbidden(role: string): FacadeError {
  return denied(`the caller lacks the app role '${role}'`);
}

/** Someone else's request (a bulk job): its own caller may read it, and an operator with `operatorRole`. */
export function notTheRequestsCaller(operatorRole: string): FacadeError {
  return denied(`the caller is not the one that made this request; the app role '${operatorRole}' would allow reading the requests of every caller`);
}

/** A delegated token whose scopes include none the facade accepts (RFC 6750 names the scope needed). */
export function scopeNotAccepted(acceptedScopes: readonly string[]): FacadeError {
  return denied(
    `the token carries none of the delegated scopes this facade accepts (${acceptedScopes.join(', ')})`,
    `, scope="${acceptedScopes.join(' ')}"`,
  );
}

export function clientAppNotAllowed(): FacadeError {
  return denied('the client application is not allowed to call this facade');
}

export function authNotConfigured(cause: AuthNotConfigured): FacadeError {
  return new FacadeError(
    503,
    'authNotConfigured',
    'Authentication is not configured on this facade, so every operation is refused; the log says which setting is missing.',
    { cause },
  );
}

export function authenticationUnavailable(cause: SigningKeysUnavailable): FacadeError {
  return new FacadeError(
    503,
    'authenticationUnavailable',
    'The facade cannot check access tokens right now; retry later.',
    { retryAfterSeconds: 10, cause },
  );
}
