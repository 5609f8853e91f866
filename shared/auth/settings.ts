import type { SettingName } from '../config';

/**
 * How callers are authenticated, parsed from the `AUTH_*` settings. Nothing here can turn
 * authentication off: settings that are missing or wrong give `notConfigured`, and the app then
 * refuses every operation with 503 `authNotConfigured`, saying why in the log.
 */
export type AuthSettings =
  | {
      mode: 'jwt';
      tenantId: string;
      /** Accepted `aud` values: the app id URI and/or the client id. */
      audiences: string[];
      /** Accepted `iss` values: the tenant's v1 and v2 issuers unless overridden. */
      issuers: string[];
      jwksUri: string;
    }
  | {
      mode: 'appservice';
      tenantId: string;
      /** When set, the principal's `aud` claim must be one of them. */
      audiences: string[];
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

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

class NotConfigured extends Error {}

function requireTenant(read: (name: SettingName) => string | undefined): string {
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
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new NotConfigured(`AUTH_JWKS_URI must use https (plain http only on loopback), got "${value}"`);
  }
  return url.href;
}

export function parseAuthSettings(read: (name: SettingName) => string | undefined, platform: PlatformVariables): AuthSettings {
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
      };
    }
    if (mode === 'appservice') {
      if (platform.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() !== 'true') {
        throw new NotConfigured(
          'AUTH_MODE is appservice but App Service Authentication is not enabled (WEBSITE_AUTH_ENABLED is not True), so X-MS-CLIENT-PRINCIPAL cannot be trusted',
        );
      }
      return { mode, tenantId: requireTenant(read), audiences: list(read('AUTH_AUDIENCE')) };
    }
    throw new NotConfigured(`AUTH_MODE must be "jwt" or "appservice", got "${mode}"`);
  } catch (error) {
    if (!(error instanceof NotConfigured)) throw error;
    return { mode: 'notConfigured', reason: error.message, runningInAzure };
  }
}
