import type { Caller } from '../pipeline/context';

/**
 * The claims the facade reads from a Microsoft Entra ID access token (or from the principal App
 * Service Authentication forwards), whatever their source: strings only, `roles` as a list.
 */
export interface CallerClaims {
  oid?: string;
  sub?: string;
  tid?: string;
  /** v1 tokens: the client application. */
  appid?: string;
  /** v2 tokens: the client application. */
  azp?: string;
  /** `app` for app-only tokens (optional claim), `user` for delegated ones. */
  idtyp?: string;
  /** Delegated scopes: present in user tokens only. */
  scp?: string;
  upn?: string;
  preferred_username?: string;
  unique_name?: string;
  name?: string;
  aud?: string;
  roles: string[];
}

const stringClaims = [
  'oid', 'sub', 'tid', 'appid', 'azp', 'idtyp', 'scp', 'upn', 'preferred_username', 'unique_name', 'name', 'aud',
] as const;

/** Reads the claims from a token payload, ignoring any of the wrong type. */
export function claimsFromPayload(payload: Record<string, unknown>): CallerClaims {
  const claims: CallerClaims = { roles: [] };
  for (const name of stringClaims) {
    const value = payload[name];
    if (typeof value === 'string' && value) claims[name] = value;
  }
  const roles = payload.roles;
  if (Array.isArray(roles)) claims.roles = roles.filter((role): role is string => typeof role === 'string');
  return claims;
}

/** App-only tokens (managed identities, client credentials) carry no delegated scopes. */
export function isAppOnly(claims: CallerClaims): boolean {
  return claims.idtyp === 'app' || (claims.idtyp !== 'user' && claims.scp === undefined);
}

/**
 * Who the caller is, for authorization, logs and the audit record: a user by object id (`oid`),
 * an app-only caller by its application (client) id (`appid` in v1 tokens, `azp` in v2).
 * Undefined when the claims name nobody.
 */
export function callerFromClaims(claims: CallerClaims): (Caller & { roles: readonly string[] }) | undefined {
  const appId = claims.appid ?? claims.azp;
  const id = isAppOnly(claims) ? (appId ?? claims.oid) : (claims.oid ?? claims.sub);
  if (!id) return undefined;
  const name = claims.upn ?? claims.preferred_username ?? claims.unique_name ?? claims.name;
  return {
    id,
    ...(appId ? { appId } : {}),
    ...(name ? { name } : {}),
    ...(claims.tid ? { tenantId: claims.tid } : {}),
    roles: claims.roles,
  };
}

const clip = (value: string | undefined) => (value && value.length > 200 ? `${value.slice(0, 200)}…` : value);

/** A caller as log fields, named as in the audit record. */
export function callerLogFields(caller: Caller | undefined): Record<string, string | undefined> {
  return {
    callerId: clip(caller?.id),
    callerAppId: clip(caller?.appId),
    callerName: clip(caller?.name),
    callerTenantId: clip(caller?.tenantId),
  };
}
