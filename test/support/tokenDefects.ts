import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import type { DevTokenIssuer } from '../../dev/tokenIssuer';

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
}

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
    { name: 'no role', authorization: bearer(await issuer.mint({ roles: [] })), status: 403 },
    { name: 'no roles claim at all', authorization: bearer(await issuer.mint({ claims: { roles: undefined } })), status: 403 },
    { name: 'the role of another operation', authorization: bearer(await issuer.mint({ roles: [otherRole] })), status: 403 },
    { name: 'a user token without the role', authorization: bearer(await issuer.mint({ user: true, roles: [otherRole] })), status: 403 },
  ];
}
