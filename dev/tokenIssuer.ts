import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { appRoles } from '../shared/auth/roles';
import { listenOnLoopback, sendJson } from './listen';

/**
 * A local stand-in for Microsoft Entra ID's token side: an RS256 key pair, its key set served on
 * loopback (`/{tenant}/discovery/v2.0/keys`, Entra's path), and access tokens shaped like Entra's
 * v2 tokens for a fixed local tenant and a fixed facade audience. `npm start` runs it when no
 * `AUTH_*` setting is given and points the host at it; `npm run token` mints more tokens.
 *
 * Key sharing: `npm start` keeps the private key in `.local/dev-token-issuer.json` (gitignored,
 * mode 0600, reused on the next start), and `npm run token` signs with that same file, so its
 * tokens are accepted by the running stack, and stay valid across restarts until they expire.
 */

/** Fixed identities of the local tenant (made up; never real ones). */
export const devIdentities = {
  tenantId: 'facade00-0000-4000-8000-000000000001',
  /** The facade's own app registration: the tokens' audience. */
  facadeClientId: 'facade00-0000-4000-8000-000000000002',
  /** An app-only caller, e.g. a Logic App's managed identity: its client id and object id. */
  callerAppId: 'facade00-0000-4000-8000-000000000003',
  callerObjectId: 'facade00-0000-4000-8000-000000000004',
  /** A user signed in to a Power Automate custom connector (client app: the connector). */
  userObjectId: 'facade00-0000-4000-8000-000000000005',
  userName: 'dev.user@contoso.example',
  userDisplayName: 'Dev User',
  connectorAppId: 'facade00-0000-4000-8000-000000000006',
} as const;

/** A GUID-shaped id (version 4, variant 8 nibbles) derived from `seed`: the same name, the same id. */
function derivedId(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Caller names `npm run token -- --caller NAME` takes: what can stand in a sign-in name. */
export const callerNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The claims of another caller of the local tenant, named `name`: its own object id (and, app-only,
 * its own client app, whose service principal it is; a user signs in through the connector app).
 * The same name gives the same ids, so its records and entities can be found again.
 */
export function namedCallerClaims(name: string, user: boolean): Record<string, string> {
  const objectId = derivedId(`${user ? 'user' : 'app'}:${name}`);
  return user
    ? { azp: devIdentities.connectorAppId, oid: objectId, sub: derivedId(`pairwise:${name}`), name, preferred_username: `${name}@contoso.example` }
    : { azp: derivedId(`client:${name}`), oid: objectId, sub: objectId };
}

export const defaultDevKeyFile = fileURLToPath(new URL('../.local/dev-token-issuer.json', import.meta.url));

export interface DevSigningKey {
  kid: string;
  privateJwk: JWK;
}

export interface MintOptions {
  /** App roles in the `roles` claim; default every app role (shared/auth/roles.ts). */
  roles?: readonly string[];
  /** A delegated (user) token instead of an app-only one. */
  user?: boolean;
  lifetimeSeconds?: number;
  /** Claims set over the defaults; `undefined` removes one. */
  claims?: Record<string, unknown>;
  /** Header `kid` instead of the signing key's. */
  kid?: string;
}

export interface DevTokenIssuer {
  tenantId: string;
  /** The audience of the tokens (the facade's client id). */
  audience: string;
  /** Entra's v2 issuer for the local tenant. */
  issuer: string;
  /** Value for `AUTH_JWKS_URI`. */
  jwksUri: string;
  /** The settings that make the app accept these tokens. */
  env: { AUTH_TENANT_ID: string; AUTH_AUDIENCE: string; AUTH_JWKS_URI: string };
  /** Key set requests received. */
  readonly jwksRequests: number;
  mint(options?: MintOptions): Promise<string>;
  /** Publishes a new key beside the old one and signs with it from now on (key rollover). */
  rotateKey(): Promise<void>;
  close(): Promise<void>;
}

export async function generateDevSigningKey(): Promise<DevSigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const privateJwk = await exportJWK(privateKey);
  return { kid: await calculateJwkThumbprint(publicPart(privateJwk)), privateJwk };
}

function publicPart(jwk: JWK): JWK {
  return { kty: jwk.kty, n: jwk.n, e: jwk.e };
}

function isSigningKey(value: unknown): value is DevSigningKey {
  const key = value as Partial<DevSigningKey> | undefined;
  return typeof key?.kid === 'string' && key.privateJwk?.kty === 'RSA' && typeof key.privateJwk.d === 'string';
}

/** The key in `file`, or a new one written there (0600) if there is none yet. */
export async function loadOrCreateDevSigningKey(file: string = defaultDevKeyFile): Promise<DevSigningKey> {
  const read = (): DevSigningKey => {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isSigningKey(parsed)) throw new Error(`${file} is not a dev token issuer key; delete it to get a new one`);
    return parsed;
  };
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = await generateDevSigningKey();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw error;
  }
}

/** Mints a token signed with `key`, shaped like an Entra v2 access token for the local tenant. */
export async function mintDevToken(key: DevSigningKey, options: MintOptions = {}): Promise<string> {
  const id = devIdentities;
  const now = Math.floor(Date.now() / 1000);
  const issuer = `https://login.microsoftonline.com/${id.tenantId}/v2.0`;
  const common = {
    aud: id.facadeClientId,
    iss: issuer,
    iat: now,
    nbf: now,
    exp: now + (options.lifetimeSeconds ?? 3600),
    tid: id.tenantId,
    ver: '2.0',
    uti: randomUUID(),
    roles: [...(options.roles ?? appRoles)],
  };
  const caller = options.user
    ? {
        azp: id.connectorAppId,
        oid: id.userObjectId,
        sub: 'dev-user-pairwise-subject',
        scp: 'user_impersonation',
        name: id.userDisplayName,
        preferred_username: id.userName,
      }
    : { azp: id.callerAppId, oid: id.callerObjectId, sub: id.callerObjectId, idtyp: 'app' };
  const payload: Record<string, unknown> = { ...common, ...caller, ...options.claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: options.kid ?? key.kid })
    .sign(await importJWK(key.privateJwk, 'RS256'));
}

export interface DevTokenIssuerOptions {
  /** The signing key; default a new one, kept in memory only. */
  key?: DevSigningKey;
  port?: number;
}

export async function startDevTokenIssuer(options: DevTokenIssuerOptions = {}): Promise<DevTokenIssuer> {
  const { tenantId, facadeClientId } = devIdentities;
  const keys: DevSigningKey[] = [options.key ?? (await generateDevSigningKey())];
  let jwksRequests = 0;
  const keysPath = `/${tenantId}/discovery/v2.0/keys`;

  const running = await listenOnLoopback((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' || path !== keysPath) {
      sendJson(response, 404, { error: 'not_found' });
      return;
    }
    jwksRequests += 1;
    // As Entra's key set: no `alg` on the keys, so the validator's RS256-only rule is what decides.
    sendJson(response, 200, { keys: keys.map((key) => ({ ...publicPart(key.privateJwk), kid: key.kid, use: 'sig' })) });
  }, options.port ?? 0);

  const jwksUri = `${running.origin}${keysPath}`;
  return {
    tenantId,
    audience: facadeClientId,
    issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`,
    jwksUri,
    env: { AUTH_TENANT_ID: tenantId, AUTH_AUDIENCE: facadeClientId, AUTH_JWKS_URI: jwksUri },
    get jwksRequests() {
      return jwksRequests;
    },
    mint: (mintOptions) => mintDevToken(keys.at(-1)!, mintOptions),
    rotateKey: async () => {
      keys.push(await generateDevSigningKey());
    },
    close: running.close,
  };
}
