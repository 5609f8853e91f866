import { AuthenticationFailed } from './authErrors';
import { claimsFromPayload, type CallerClaims } from './caller';

/**
 * App Service Authentication (Easy Auth) validates the token itself and forwards the caller as
 * `X-MS-CLIENT-PRINCIPAL`: base64 JSON `{ auth_typ, name_typ, role_typ, claims: [{ typ, val }] }`.
 * It removes that header from incoming requests, which is why it is trusted only in
 * `AUTH_MODE=appservice` (and only when the platform says Easy Auth is on).
 */

export const principalHeader = 'x-ms-client-principal';

interface ClientPrincipal {
  auth_typ?: unknown;
  role_typ?: unknown;
  claims?: unknown;
}

/** Easy Auth passes some claims under their long SAML-style names. */
const claimTypes: Record<string, string> = {
  'http://schemas.microsoft.com/identity/claims/objectidentifier': 'oid',
  'http://schemas.microsoft.com/identity/claims/tenantid': 'tid',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn': 'upn',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier': 'sub',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name': 'unique_name',
  'http://schemas.microsoft.com/identity/claims/scope': 'scp',
  'http://schemas.microsoft.com/ws/2008/06/identity/claims/role': 'roles',
};

function parse(header: string): ClientPrincipal {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as ClientPrincipal;
  } catch {
    // Reported below.
  }
  throw new AuthenticationFailed('invalid', `${principalHeader} is not base64 JSON`);
}

/** The caller's claims from the principal header; `roles` may appear once per role. */
export function principalClaims(header: string): CallerClaims {
  const principal = parse(header);
  if (principal.auth_typ !== undefined && principal.auth_typ !== 'aad') {
    throw new AuthenticationFailed('invalid', `${principalHeader} is from identity provider "${String(principal.auth_typ)}", not aad`);
  }
  if (!Array.isArray(principal.claims)) throw new AuthenticationFailed('invalid', `${principalHeader} has no claims`);
  const roleType = typeof principal.role_typ === 'string' ? principal.role_typ : 'roles';
  const payload: Record<string, unknown> = {};
  const roles: string[] = [];
  for (const claim of principal.claims as unknown[]) {
    const { typ, val } = (claim ?? {}) as { typ?: unknown; val?: unknown };
    if (typeof typ !== 'string' || typeof val !== 'string') continue;
    const name = typ === roleType ? 'roles' : (claimTypes[typ] ?? typ);
    if (name === 'roles') roles.push(val);
    else payload[name] ??= val;
  }
  return { ...claimsFromPayload(payload), roles };
}
