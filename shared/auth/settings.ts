import { isLoopbackHost } from '../http/loopback';

/**
 * How callers are authenticated, parsed from the `AUTH_*` settings. Nothing here can turn
 * authentication off: settings that are missing or wrong give `notConfigured`, and the app then
 * refuses every operation with 503 `authNotConfigured`, saying why in the log.
 *
 * The settings are read through `read`, which the app's configuration (shared/config.ts, where
 * every setting is catalogued) provides: this module names the settings it reads and knows
 * nothing of the others.
 */

export type AuthSettingName =
  | 'AUTH_MODE'
  | 'AUTH_TENANT_ID'
  | 'AUTH_AUDIENCE'
  | 'AUTH_ISSUER'
  | 'AUTH_JWKS_URI'
  | 'AUTH_ACCEPTED_SCOPES'
  | 'AUTH_ALLOWED_CLIENT_APPS';

/** The delegated scope the facade's app registration exposes, accepted unless AUTH_ACCEPTED_SCOPES says otherwise. */
export const defaultAcceptedScope = 'user_impersonation';

/** Who may call once their credentials hold, besides the operation's app role. */
export interface CallerPolicy {
  /** A delegated (user) token must carry at least one of these scopes (`scp`). */
  acceptedScopes: readonly string[];
  /** Client apps (`appid`/`azp`, lower case) allowed to call; undefined: any client app of the tenant. */
  allowedClientApps: readonly string[] | undefined;
}

export type AuthSettings =
  | {
      mode: 'jwt';
      tenantId: string;
      /** Accepted `aud` values: the app id URI and/or the client id. */
      audiences: string[];
      /** Accepted `iss` values: the tenant's v1 and v2 issuers unless overridden. */
      issuers: string[];
      jwksUri: string;
      policy: CallerPolicy;
    }
  | {
      mode: 'appservice';
      tenantId: string;
      /** When set, the principal's `aud` claim must be one of them. */
      audiences: string[];
      policy: CallerPolicy;
    }
  | { mode: 'notConfigured'; reason: string; runningInAzure: boolean };

/**
 * Variables the platform sets (not settings: nobody configures them). `WEBSITE_INSTANCE_ID` is
 * present on every App Service / Functions instance; `WEBSITE_AUTH_ENABLED` is `True` when App
 * Service Authentication (Easy Auth) fronts the app.
 */
export interface PlatformVariables {
  WEBSITE_INSTANCE_ID?: string | undefined;
  WEBSITE_AUTH_ENABLED?: string | undefined;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function defaultIssuers(tenantId: string): string[] {
  return [`https://sts.windows.net/${tenantId}/`, `https://login.microsoftonline.com/${tenantId}/v2.0`];
}

export function defaultJwksUri(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

class NotConfigured extends Error {}

type SettingReader = (name: AuthSettingName) => string | undefined;

function requireTenant(read: SettingReader): string {
  const tenantId = read('AUTH_TENANT_ID');
  if (!tenantId) throw new NotConfigured('AUTH_TENANT_ID is not set');
  if (!guid.test(tenantId)) throw new NotConfigured(`AUTH_TENANT_ID must be the tenant's id (a GUID), got "${tenantId}"`);
  return tenantId.toLowerCase();
}

/** Signing keys only over HTTPS; plain HTTP only on loopback (the local dev token issuer). */
function jwksUriFrom(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new NotConfigured(`AUTH_JWKS_URI is not a URL: "${value}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new NotConfigured(`AUTH_JWKS_URI must use https (plain http only on loopback), got "${value}"`);
  }
  return url.href;
}

/** A list setting: items separated by commas and/or white space. */
function words(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}

/**
 * `scp` carries a scope by its value (`user_impersonation`); a full scope URI in the setting
 * (`api://{app}/user_impersonation`, as the portal shows it) is read as that value.
 */
function scopeValue(scope: string): string {
  return scope.slice(scope.lastIndexOf('/') + 1);
}

function policyFrom(read: SettingReader): CallerPolicy {
  const acceptedScopes = words(read('AUTH_ACCEPTED_SCOPES') ?? defaultAcceptedScope).map(scopeValue).filter(Boolean);
  if (acceptedScopes.length === 0) throw new NotConfigured('AUTH_ACCEPTED_SCOPES names no scope');
  const clientApps = read('AUTH_ALLOWED_CLIENT_APPS');
  if (clientApps === undefined) return { acceptedScopes, allowedClientApps: undefined };
  const allowedClientApps = words(clientApps);
  const malformed = allowedClientApps.filter((appId) => !guid.test(appId));
  if (malformed.length > 0) {
    throw new NotConfigured(`AUTH_ALLOWED_CLIENT_APPS must list application (client) ids, GUIDs; got "${malformed.join(', ')}"`);
  }
  if (allowedClientApps.length === 0) throw new NotConfigured('AUTH_ALLOWED_CLIENT_APPS names no client app');
  return { acceptedScopes, allowedClientApps: allowedClientApps.map((appId) => appId.toLowerCase()) };
}

export function parseAuthSettings(read: SettingReader, platform: PlatformVariables): AuthSettings {
  const runningInAzure = Boolean(platform.WEBSITE_INSTANCE_ID?.trim());
  try {
    const mode = (read('AUTH_MODE') ?? 'jwt').toLowerCase();
    if (mode === 'jwt') {
      const tenantId = requireTenant(read);
      const audiences = list(read('AUTH_AUDIENCE'));
      if (audiences.length === 0) throw new NotConfigured('AUTH_AUDIENCE is not set');
      const issuers = list(read('AUTH_ISSUER'));
      return {
        mode,
        tenantId,
        audiences,
        issuers: issuers.length > 0 ? issuers : defaultIssuers(tenantId),
        jwksUri: jwksUriFrom(read('AUTH_JWKS_URI') ?? defaultJwksUri(tenantId)),
        policy: policyFrom(read),
      };
    }
    if (mode === 'appservice') {
      if (platform.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() !== 'true') {
        throw new NotConfigured(
          'AUTH_MODE is appservice but App Service Authentication is not enabled (WEBSITE_AUTH_ENABLED is not True), so X-MS-CLIENT-PRINCIPAL cannot be trusted',
        );
      }
      return { mode, tenantId: requireTenant(read), audiences: list(read('AUTH_AUDIENCE')), policy: policyFrom(read) };
    }
    throw new NotConfigured(`AUTH_MODE must be "jwt" or "appservice", got "${mode}"`);
  } catch (error) {
    if (!(error instanceof NotConfigured)) throw error;
    return { mode: 'notConfigured', reason: error.message, runningInAzure };
  }
}
