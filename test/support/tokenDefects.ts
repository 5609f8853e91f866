import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { devIdentities, type DevTokenIssuer } from '../../dev/tokenIssuer';

/**
 * Requests whose credentials must not get in, each as the Authorization header to send (or none)
 * and the answer expected: 401 with or without `error="invalid_token"`, or 403.
 */
export interface TokenDefect {
  name: string;
  /** The Authorization header; undefined: none sent. */
  authorization: string | undefined;
  status: 401 | 403;
  /** 401 only: RFC 6750 challenge with `error="invalid_token"` (else a bare `Bearer realm=…`). */
  invalidToken?: boolean;
  /** 403 only: what is missing — the operation's app role, an accepted delegated scope, or an allowed client app. */
  denied?: 'role' | 'scope' | 'clientApp';
}

/**
 * The client apps the defect matrix expects to be let in (`AUTH_ALLOWED_CLIENT_APPS`): the dev
 * issuer's app-only caller and its Power Automate connector, so a token from any other client
 * app is refused.
 */
export const allowedDevClientApps = `${devIdentities.callerAppId},${devIdentities.connectorAppId}`;

/** A client app that is not in `allowedDevClientApps`. */
export const otherClientAppId = 'facade00-0000-4000-8000-0000000000ff';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The defects for an operation needing `role`; `otherRole` belongs to another operation. */
export async function tokenDefects(issuer: DevTokenIssuer, role: string, otherRole: string): Promise<TokenDefect[]> {
  const now = Math.floor(Date.now() / 1000);
  const valid = await issuer.mint({ roles: [role] });
  const payload = decodeJwt(valid);
  const { kid } = decodeProtectedHeader(valid);
  const foreign = await generateKeyPair('RS256');
  const signForeign = (headerKid: string) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: headerKid }).sign(foreign.privateKey);
  const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: JsonWebKey[] };
  const publicPem = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const otherTenant = 'abcd0000-0000-4000-8000-000000000000';
  const bearer = (token: string) => `Bearer ${token}`;
  const invalid = (name: string, token: string): TokenDefect => ({ name, authorization: bearer(token), status: 401, invalidToken: true });

  return [
    { name: 'no Authorization header', authorization: undefined, status: 401 },
    { name: 'another scheme (Basic)', authorization: `Basic ${Buffer.from('user:password').toString('base64')}`, status: 401 },
    invalid('a garbage token', 'not-a-jwt'),
    invalid('a garbage token of three parts', 'abc.def.ghi'),
    invalid('signed by another key under the right kid', await signForeign(kid ?? '')),
    invalid('an unknown kid', await signForeign('unknown-kid')),
    invalid('expired beyond the 5 minute skew', await issuer.mint({ roles: [role], claims: { iat: now - 4000, nbf: now - 4000, exp: now - 360 } })),
    invalid('not yet valid beyond the 5 minute skew', await issuer.mint({ roles: [role], claims: { nbf: now + 360 } })),
    invalid('without exp', await issuer.mint({ roles: [role], claims: { exp: undefined } })),
    invalid('a wrong audience', await issuer.mint({ roles: [role], claims: { aud: 'api://someone-else' } })),
    invalid('a wrong issuer', await issuer.mint({ roles: [role], claims: { iss: `https://login.microsoftonline.com/${otherTenant}/v2.0` } })),
    invalid('a wrong tenant (tid) under the right issuer', await issuer.mint({ roles: [role], claims: { tid: otherTenant } })),
    invalid('alg none', `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`),
    invalid(
      'HS256 signed with the public key',
      await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(new TextEncoder().encode(String(publicPem))),
    ),
    // Signed and addressed right, but not a delegated access token for this API: the user's roles
    // alone do not let it in, and it must never pass for an app-only token.
    invalid('a user token (idtyp user) without scp', await issuer.mint({ user: true, roles: [role], claims: { idtyp: 'user', scp: undefined } })),
    invalid(
      'an ID token whose audience is the facade (no scp, no client app, the user’s roles)',
      await issuer.mint({ user: true, roles: [role], claims: { scp: undefined, azp: undefined, nonce: 'n-0S6_WzA2Mj' } }),
    ),
    invalid('a user token without scp or idtyp, with roles (not app-only: sub is not oid)', await issuer.mint({ user: true, roles: [role], claims: { scp: undefined } })),
    invalid(
      'a v1 user token without scp (appid, no idtyp)',
      await issuer.mint({ user: true, roles: [role], claims: { scp: undefined, azp: undefined, appid: devIdentities.connectorAppId, ver: '1.0', iss: `https://sts.windows.net/${devIdentities.tenantId}/` } }),
    ),
    invalid('an app-only token naming no caller (no oid, no sub)', await issuer.mint({ roles: [role], claims: { oid: undefined, sub: undefined } })),
    { name: 'no role', authorization: bearer(await issuer.mint({ roles: [] })), status: 403, denied: 'role' },
    { name: 'no roles claim at all', authorization: bearer(await issuer.mint({ claims: { roles: undefined } })), status: 403, denied: 'role' },
    { name: 'the role of another operation', authorization: bearer(await issuer.mint({ roles: [otherRole] })), status: 403, denied: 'role' },
    { name: 'a user token without the role', authorization: bearer(await issuer.mint({ user: true, roles: [otherRole] })), status: 403, denied: 'role' },
    { name: 'a user token whose scope is not an accepted one', authorization: bearer(await issuer.mint({ user: true, roles: [role], claims: { scp: 'Files.Read User.Read' } })), status: 403, denied: 'scope' },
    { name: 'an app-only token from a client app that is not allowed', authorization: bearer(await issuer.mint({ roles: [role], claims: { azp: otherClientAppId } })), status: 403, denied: 'clientApp' },
    { name: 'a user token through a client app that is not allowed', authorization: bearer(await issuer.mint({ user: true, roles: [role], claims: { azp: otherClientAppId } })), status: 403, denied: 'clientApp' },
  ];
}
