import { AuthenticationFailed, AuthNotConfigured } from './authErrors';
import { callerFromClaims, type AuthenticatedCaller, type CallerClaims } from './caller';
import { principalClaims, principalHeader } from './easyAuth';
import { JwtValidator, type JwtValidatorOptions } from './jwtValidator';
import type { AuthSettings, CallerPolicy } from './settings';

export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * Who is calling, from the request headers. Throws `AuthenticationFailed` (401),
 * `SigningKeysUnavailable` or `AuthNotConfigured` (503); never lets a request through unchecked.
 */
export interface Authenticator {
  readonly mode: AuthSettings['mode'];
  /** Who may call once authenticated (scopes, client apps); the `authorize` stage applies it. */
  readonly policy: CallerPolicy;
  authenticate(headers: HeaderReader): Promise<AuthenticatedCaller>;
}

/** Entra tokens are a few KiB; anything far larger is not one and is not parsed. */
const maxTokenLength = 16 * 1024;

/**
 * The caller the checked claims name. A token that is not app-only must be a delegated access
 * token, which always carries `scp`: without one it is something else addressed to the facade (an
 * ID token, whose audience is the facade's client id and which may carry the user's app roles),
 * and it is refused as a token that does not hold (401).
 */
function callerOf(claims: CallerClaims): AuthenticatedCaller {
  const caller = callerFromClaims(claims);
  if (!caller) throw new AuthenticationFailed('invalid', 'the claims name no caller (no oid or sub)');
  if (caller.kind === 'user' && caller.scopes.length === 0) {
    throw new AuthenticationFailed('invalid', `a token that is not app-only carries no delegated scope (scp${claims.idtyp ? `, idtyp ${claims.idtyp}` : ''})`, caller);
  }
  return caller;
}

function bearerToken(headers: HeaderReader): string {
  const header = headers.get('authorization')?.trim();
  if (!header) throw new AuthenticationFailed('missing', 'no Authorization header');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) {
    const scheme = header.split(/\s/, 1)[0] ?? '';
    throw /^Bearer$/i.test(scheme)
      ? new AuthenticationFailed('invalid', 'malformed Bearer credentials')
      : scheme === header
        ? new AuthenticationFailed('noScheme', 'Authorization header without a scheme')
        : new AuthenticationFailed('otherScheme', `Authorization scheme "${scheme.slice(0, 20)}" is not Bearer`);
  }
  if (match[1].length > maxTokenLength) throw new AuthenticationFailed('invalid', `token longer than ${maxTokenLength} characters`);
  return match[1];
}

class JwtAuthenticator implements Authenticator {
  readonly mode = 'jwt';
  readonly policy: CallerPolicy;
  private readonly validator: JwtValidator;

  constructor(settings: Extract<AuthSettings, { mode: 'jwt' }>, options: JwtValidatorOptions) {
    this.validator = new JwtValidator(settings, options);
    this.policy = settings.policy;
  }

  async authenticate(headers: HeaderReader): Promise<AuthenticatedCaller> {
    // X-MS-CLIENT-PRINCIPAL is never read in this mode: anyone can send it.
    return callerOf(await this.validator.verify(bearerToken(headers)));
  }
}

/** The principal carries the token's claims, so the rules of JWT mode apply to it unchanged. */
class AppServiceAuthenticator implements Authenticator {
  readonly mode = 'appservice';
  readonly policy: CallerPolicy;

  constructor(private readonly settings: Extract<AuthSettings, { mode: 'appservice' }>) {
    this.policy = settings.policy;
  }

  async authenticate(headers: HeaderReader): Promise<AuthenticatedCaller> {
    const header = headers.get(principalHeader)?.trim();
    if (!header) throw new AuthenticationFailed('missing', `no ${principalHeader} header (App Service Authentication let an anonymous request through)`);
    const claims = principalClaims(header);
    const claimed = callerFromClaims(claims);
    if (claims.tid?.toLowerCase() !== this.settings.tenantId) {
      throw new AuthenticationFailed('invalid', `tid "${claims.tid}" is not the configured tenant`, claimed);
    }
    if (this.settings.audiences.length > 0 && !(claims.aud && this.settings.audiences.includes(claims.aud))) {
      throw new AuthenticationFailed('invalid', `aud "${claims.aud}" is not an accepted audience`, claimed);
    }
    return callerOf(claims);
  }
}

class RefusingAuthenticator implements Authenticator {
  readonly mode = 'notConfigured';
  /** Nobody is authenticated here, so nothing is ever allowed either. */
  readonly policy: CallerPolicy = { acceptedScopes: [], allowedClientApps: [] };

  constructor(private readonly settings: Extract<AuthSettings, { mode: 'notConfigured' }>) {}

  async authenticate(): Promise<AuthenticatedCaller> {
    throw new AuthNotConfigured(this.settings.reason, this.settings.runningInAzure);
  }
}

export function createAuthenticator(settings: AuthSettings, options: JwtValidatorOptions = {}): Authenticator {
  switch (settings.mode) {
    case 'jwt':
      return new JwtAuthenticator(settings, options);
    case 'appservice':
      return new AppServiceAuthenticator(settings);
    case 'notConfigured':
      return new RefusingAuthenticator(settings);
  }
}
