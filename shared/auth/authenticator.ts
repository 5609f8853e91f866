import type { Caller } from '../pipeline/context';
import { AuthenticationFailed, AuthNotConfigured } from './authErrors';
import { callerFromClaims, type CallerClaims } from './caller';
import { principalClaims, principalHeader } from './easyAuth';
import { JwtValidator, type JwtValidatorOptions } from './jwtValidator';
import type { AuthSettings } from './settings';

export type AuthenticatedCaller = Caller & { roles: readonly string[] };

export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * Who is calling, from the request headers. Throws `AuthenticationFailed` (401),
 * `SigningKeysUnavailable` or `AuthNotConfigured` (503); never lets a request through unchecked.
 */
export interface Authenticator {
  readonly mode: AuthSettings['mode'];
  authenticate(headers: HeaderReader): Promise<AuthenticatedCaller>;
}

/** Entra tokens are a few KiB; anything far larger is not one and is not parsed. */
const maxTokenLength = 16 * 1024;

function callerOf(claims: CallerClaims): AuthenticatedCaller {
  const caller = callerFromClaims(claims);
  if (!caller) throw new AuthenticationFailed('invalid', 'the claims name no caller (no oid, appid or azp)');
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
      : new AuthenticationFailed('missing', `Authorization scheme "${scheme.slice(0, 20)}" is not Bearer`);
  }
  if (match[1].length > maxTokenLength) throw new AuthenticationFailed('invalid', `token longer than ${maxTokenLength} characters`);
  return match[1];
}

class JwtAuthenticator implements Authenticator {
  readonly mode = 'jwt';
  private readonly validator: JwtValidator;

  constructor(settings: Extract<AuthSettings, { mode: 'jwt' }>, options: JwtValidatorOptions) {
    this.validator = new JwtValidator(settings, options);
  }

  async authenticate(headers: HeaderReader): Promise<AuthenticatedCaller> {
    // X-MS-CLIENT-PRINCIPAL is never read in this mode: anyone can send it.
    return callerOf(await this.validator.verify(bearerToken(headers)));
  }
}

class AppServiceAuthenticator implements Authenticator {
  readonly mode = 'appservice';

  constructor(private readonly settings: Extract<AuthSettings, { mode: 'appservice' }>) {}

  async authenticate(headers: HeaderReader): Promise<AuthenticatedCaller> {
    const header = headers.get(principalHeader)?.trim();
    if (!header) throw new AuthenticationFailed('missing', `no ${principalHeader} header (App Service Authentication let an anonymous request through)`);
    const claims = principalClaims(header);
    const caller = callerOf(claims);
    if (claims.tid?.toLowerCase() !== this.settings.tenantId) {
      throw new AuthenticationFailed('invalid', `tid "${claims.tid}" is not the configured tenant`, caller);
    }
    if (this.settings.audiences.length > 0 && !(claims.aud && this.settings.audiences.includes(claims.aud))) {
      throw new AuthenticationFailed('invalid', `aud "${claims.aud}" is not an accepted audience`, caller);
    }
    return caller;
  }
}

class RefusingAuthenticator implements Authenticator {
  readonly mode = 'notConfigured';

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
