import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { AuditStore } from '../../shared/audit/auditStore';
import { Table } from '../../shared/storage/table';
import { startTcpProxy, type TcpProxy } from './tcpProxy';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { startDevTokenIssuer, type DevTokenIssuer, type MintOptions } from '../../dev/tokenIssuer';

export interface HostProcess {
  apiUrl: string;
  pid: number | undefined;
  output(): string;
  stop(): Promise<void>;
  /** Settles when the process has exited, with its exit code. */
  exited: Promise<number | null>;
}

/**
 * Runs `dev/start.ts` (what `npm start` runs) as a child process and waits for its API line.
 * `entry` is the module whose `functionDefinitions` it serves (default the built app); `cwd` the
 * checkout it runs from (default this one; the benchmark compares with another); `host` the local
 * host to run instead, compiled to JavaScript (the benchmark's, without a TypeScript loader).
 */
export async function startHostProcess(env: Record<string, string>, timeoutMs = 30_000, entry = 'dist/index.mjs', cwd?: string, host?: string): Promise<HostProcess> {
  const child: ChildProcess = spawn(process.execPath, [...(host ? [host] : ['--import', 'tsx', 'dev/start.ts']), entry], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOCAL_HOST_QUIET: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...(cwd ? { cwd } : {}),
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const apiUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      const match = /^API: (\S+)$/m.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code}:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { apiUrl, pid: child.pid, output: () => output, stop, exited };
}

export interface TestStack {
  azurite: RunningAzurite;
  identity: IdentityEndpoint;
  graph: GraphEmulator;
  host: HostProcess;
  table: Table;
  audit: AuditStore;
  /** Between the host and Azurite: `cut()` makes the audit store unreachable. */
  auditProxy: TcpProxy;
  /** Another host process with the same settings (a second instance), stopped with the stack. */
  startAnotherHost(overrides?: Record<string, string>): Promise<HostProcess>;
  /** The dev token issuer the host trusts (its `AUTH_*` settings). */
  tokens: DevTokenIssuer;
  /** A token the host accepts; default app-only with every app role. */
  token(options?: MintOptions): Promise<string>;
  /** The settings the host runs with. */
  env: Record<string, string>;
  /**
   * POSTs with a valid all-roles bearer token, unless `auth.token` says otherwise (`null`: no
   * Authorization header) or `headers` carries its own `authorization`.
   */
  post(path: string, body: unknown, headers?: Record<string, string>, auth?: { token?: string | null }): Promise<ApiResponse>;
  /** The same, to another instance (see `startAnotherHost`). */
  postTo(apiUrl: string, path: string, body: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export function postJson(apiUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return call(`${apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function call(url: string, init: RequestInit = {}): Promise<ApiResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Kept as text.
  }
  return { status: response.status, headers: response.headers, body };
}

/**
 * Azurite, the identity endpoint and the Graph emulator, each on a free loopback port, and the
 * local host as a child process configured with them (so it starts none of its own).
 */
export async function startTestStack(extraEnv: Record<string, string> = {}, options: { graphPageSize?: number } = {}): Promise<TestStack> {
  const parts: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    await Promise.allSettled(parts.reverse().map((part) => part.stop()));
  };
  try {
    const azurite = await startAzurite();
    parts.push(azurite);
    const identity = await startIdentityEndpoint();
    parts.push({ stop: identity.close });
    const graph = await startGraphEmulator({
      tokenSigningKey: identity.signingKey,
      ...(options.graphPageSize ? { pageSize: options.graphPageSize } : {}),
    });
    parts.push({ stop: graph.close });
    // The host reaches Azurite through a proxy, so a test can make the audit store unreachable.
    const auditProxy = await startTcpProxy(azurite.port);
    parts.push({ stop: auditProxy.close });
    const tokens = await startDevTokenIssuer();
    parts.push({ stop: tokens.close });
    const defaultToken = await tokens.mint();
    const postTo = (
      apiUrl: string,
      path: string,
      body: unknown,
      headers: Record<string, string>,
      auth: { token?: string | null } = {},
    ) => {
      const token = auth.token === undefined ? defaultToken : auth.token;
      const ownAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
      return postJson(apiUrl, path, body, { ...(token === null || ownAuthorization ? {} : { authorization: `Bearer ${token}` }), ...headers });
    };
    const env = {
      ...tokens.env,
      GRAPH_BASE_URL: graph.baseUrl,
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER: identity.identityHeader,
      AuditStorage: azurite.connectionString.replace(`:${azurite.port}/`, `:${auditProxy.port}/`),
      AUDIT_TABLE_NAME: `Audit${randomBytes(4).toString('hex')}`,
      ...extraEnv,
    };
    const host = await startHostProcess(env);
    parts.push(host);
    // The app's table straight on Azurite (not through the proxy), as another instance sees it.
    const table = new Table({
      storage: { kind: 'connectionString', connectionString: azurite.connectionString },
      tableName: env.AUDIT_TABLE_NAME,
      credentialFor: () => {
        throw new Error('connection-string storage needs no credential');
      },
    });
    const audit = new AuditStore(table, Number((env as Record<string, string>).IDEMPOTENCY_RETENTION_HOURS ?? 24) * 3_600_000);
    return {
      table,
      azurite,
      auditProxy,
      identity,
      graph,
      host,
      audit,
      tokens,
      token: (options) => tokens.mint(options),
      env,
      startAnotherHost: async (overrides = {}) => {
        const another = await startHostProcess({ ...env, ...overrides });
        parts.push(another);
        return another;
      },
      post: (path, body, headers = {}, auth = {}) => postTo(host.apiUrl, path, body, headers, auth),
      postTo: (apiUrl, path, body, headers = {}) => postTo(apiUrl, path, body, headers),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What one reconciliation run printed: records examined, settled (by status) and skipped. */
export interface ReconcileCounts {
  examined: number;
  settled: Record<string, number>;
  skipped?: number;
}

/**
 * `npm run reconcile`'s script against a stack (its bundle, so `npm run build` first), every open
 * record due at once (more settings may be added), run asynchronously: the emulator and any proxy
 * live in this process. Its last line of output is the run's counts.
 */
export async function reconcileNow(stack: Pick<TestStack, 'env'>, settings: Record<string, string> = {}, timeoutMs = 60_000): Promise<ReconcileCounts> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'dev/reconcile.ts', 'dist/index.mjs'], {
    env: { PATH: process.env.PATH ?? '', ...stack.env, RECONCILE_AFTER_MINUTES: '0', ...settings },
    timeout: timeoutMs,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ReconcileCounts;
}
