/** Who called, as the audit record and the logs name them. */
export interface Caller {
  /**
   * The caller's object id (`oid`): the signed-in user, or for an app-only caller its service
   * principal (a managed identity's, a client-credentials app's); `sub` only when there is no `oid`.
   */
  id: string;
  /** The client application (`appid` in v1 tokens, `azp` in v2): kept beside the caller, never instead of it. */
  appId?: string;
  name?: string;
  tenantId?: string;
  /** App roles the caller holds (`roles` claim). */
  roles?: readonly string[];
}

/** `app`: an app-only token (no user); `user`: a delegated token, on a user's behalf. */
export type CallerKind = 'app' | 'user';

/** A caller whose credentials were checked, with what they carry for authorization. */
export interface AuthenticatedCaller extends Caller {
  kind: CallerKind;
  roles: readonly string[];
  /** Delegated scopes (`scp`); none for app-only callers. */
  scopes: readonly string[];
}

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

/**
 * Whether a token is app-only (no user behind it), from positive evidence only, so that no token
 * issued for a user can pass as one:
 * - `scp` present: a delegated token. Entra ID puts `scp` in user tokens only; a token carrying
 *   both `scp` and `roles` is a user's (roles are then the user's app roles).
 * - `idtyp` present (the optional claim, v1 and v2 access tokens): `app` is app-only, anything
 *   else (`user`) is not.
 * - neither (v1 tokens, or `idtyp` not configured): app-only only when the token names its client
 *   app (`appid` in v1, `azp` in v2) and its subject is that app's own service principal
 *   (`sub` = `oid`). A user's `sub` is a pairwise id, never their `oid`, and an ID token names no
 *   client app, so neither passes, even with the user's app roles and no `scp`: `roles` without
 *   `scp` alone does not make a token app-only.
 */
export function isAppOnly(claims: CallerClaims): boolean {
  if (claims.scp !== undefined) return false;
  if (claims.idtyp !== undefined) return claims.idtyp === 'app';
  const clientApp = claims.appid ?? claims.azp;
  return clientApp !== undefined && claims.oid !== undefined && claims.oid === claims.sub;
}

/**
 * Who the caller is, for authorization, logs, idempotency and the audit record: the token's
 * object id (`oid`), for users and app-only callers alike (`sub` only when there is no `oid`);
 * the client app (`appid` in v1 tokens, `azp` in v2) is kept beside it. Undefined when the claims
 * name nobody.
 */
export function callerFromClaims(claims: CallerClaims): AuthenticatedCaller | undefined {
  const id = claims.oid ?? claims.sub;
  if (!id) return undefined;
  const appId = claims.appid ?? claims.azp;
  const name = claims.upn ?? claims.preferred_username ?? claims.unique_name ?? claims.name;
  return {
    kind: isAppOnly(claims) ? 'app' : 'user',
    id,
    ...(appId ? { appId } : {}),
    ...(name ? { name } : {}),
    ...(claims.tid ? { tenantId: claims.tid } : {}),
    roles: claims.roles,
    scopes: (claims.scp ?? '').split(' ').filter(Boolean),
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
