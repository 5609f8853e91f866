import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { listenOnLoopback, sendJson } from './listen';

/**
 * A local managed-identity endpoint speaking the App Service protocol (api-version 2019-08-01),
 * so the real `ManagedIdentityCredential` runs unchanged: `GET ?api-version&resource[&client_id]`
 * with `X-IDENTITY-HEADER`, answered with `{ access_token, expires_on, resource, token_type }`.
 * Tokens are HS256 JWTs the Graph emulator verifies with the shared signing key.
 */

export type IdentityFault =
  | { kind: 'down' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'status'; status: number };

export interface IdentityEndpointOptions {
  port?: number;
  /** The `IDENTITY_HEADER` secret; random when absent. */
  identityHeader?: string;
  signingKey?: Uint8Array;
  tokenLifetimeSeconds?: number;
}

export interface IdentityEndpoint {
  /** Value for `IDENTITY_ENDPOINT`. */
  endpoint: string;
  /** Value for `IDENTITY_HEADER`. */
  identityHeader: string;
  signingKey: Uint8Array;
  /** Token requests received (valid or not). */
  readonly requestCount: number;
  setFault(fault: IdentityFault | undefined): void;
  close(): Promise<void>;
}

export const systemAssignedPrincipalId = '00000000-0000-0000-0000-00000000a11d';

export async function startIdentityEndpoint(options: IdentityEndpointOptions = {}): Promise<IdentityEndpoint> {
  const identityHeader = options.identityHeader ?? randomUUID();
  const signingKey = options.signingKey ?? randomBytes(32);
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  let fault: IdentityFault | undefined;
  let requestCount = 0;

  const running = await listenOnLoopback((request, response) => {
    requestCount += 1;
    void (async () => {
      if (fault?.kind === 'down') {
        request.socket.destroy();
        return;
      }
      if (fault?.kind === 'slow') {
        const { delayMs } = fault;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      if (fault?.kind === 'status') {
        sendJson(response, fault.status, { error: 'unavailable', error_description: 'injected fault' });
        return;
      }
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (request.method !== 'GET' || url.pathname !== '/msi/token') {
        sendJson(response, 404, { error: 'not_found' });
        return;
      }
      if (request.headers['x-identity-header'] !== identityHeader) {
        sendJson(response, 401, { error: 'invalid_request', error_description: 'X-IDENTITY-HEADER is missing or wrong' });
        return;
      }
      const resource = url.searchParams.get('resource');
      if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
        sendJson(response, 400, { error: 'invalid_request', error_description: 'api-version=2019-08-01 and resource are required' });
        return;
      }
      const clientId = url.searchParams.get('client_id') ?? systemAssignedPrincipalId;
      const expiresOn = Math.floor(Date.now() / 1000) + lifetime;
      const accessToken = await new SignJWT({ appid: clientId, oid: clientId, idtyp: 'app', roles: ['local'] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('local-identity-endpoint')
        .setAudience(resource)
        .setIssuedAt()
        .setExpirationTime(expiresOn)
        .sign(signingKey);
      sendJson(response, 200, {
        access_token: accessToken,
        expires_on: String(expiresOn),
        resource,
        token_type: 'Bearer',
        client_id: clientId,
      });
    })().catch((error: unknown) => sendJson(response, 500, { error: 'server_error', error_description: String(error) }));
  });

  return {
    endpoint: `${running.origin}/msi/token`,
    identityHeader,
    signingKey,
    get requestCount() {
      return requestCount;
    },
    setFault: (next) => {
      fault = next;
    },
    close: running.close,
  };
}
