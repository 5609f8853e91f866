import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/**
 * One HTTP exchange with Graph over kept-alive connections (`node:http`/`node:https` with one
 * agent per client), and what a failed one means for whether Graph may have carried it out:
 * - `refused`: the connection was never made (refused, no such host, unreachable, or not
 *   connected within `connectTimeoutMs`): nothing reached Graph;
 * - `timeout`: no whole answer within the attempt's time;
 * - `lost`: anything else once the request may have left the process (a reset, an answer that is
 *   not HTTP, a connection closed mid-answer).
 * Everything that can fail before the request leaves the process (a header value HTTP cannot
 * carry, a path that is not encoded) fails in `prepare`, and is nobody's but the caller's.
 */

export interface Answer {
  status: number;
  /** The body as text, whole. */
  text: string;
  /** Graph's `request-id` response header. */
  requestId: string | undefined;
  retryAfter: string | undefined;
  /** Graph's `Location` header (a schema registration's 202 names its connection operation). */
  location?: string;
}

export type AttemptFailure = { kind: 'timeout' | 'lost' | 'refused'; error: unknown };

/** A request ready to go: checked and built, nothing sent yet. */
export interface PreparedRequest {
  options: http.RequestOptions;
  body: string | undefined;
}

/** Connection errors after which nothing can have reached Graph, when they came before a connection was made. */
const connectionNeverMade = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNECTTIMEOUT']);

/** As long as a connection may take before the attempt counts it as never made (undici's connect timeout, which fetch used). */
export const connectTimeoutMs = 10_000;

/**
 * How long a connection may idle in the pool. Graph's front ends close idle connections on their
 * own schedule and do not always say when (`Keep-Alive: timeout=`, which Node honours when sent);
 * a request sent on a connection the server is just closing is a lost answer, so connections are
 * not kept past a few idle seconds, as Node's fetch (undici) keeps them.
 */
const idleConnectionMs = 4_000;

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class GraphTransport {
  private readonly secure: boolean;
  private readonly agent: http.Agent;
  private readonly hostname: string;
  private readonly port: string;
  private readonly basePath: string;

  constructor(baseUrl: string) {
    const base = new URL(baseUrl);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error(`GRAPH_BASE_URL must be http(s), got ${base.protocol}`);
    this.secure = base.protocol === 'https:';
    this.hostname = base.hostname.replace(/^\[|\]$/g, '');
    this.port = base.port;
    this.basePath = base.pathname.replace(/\/+$/, '');
    const options = { keepAlive: true, timeout: idleConnectionMs };
    this.agent = this.secure ? new https.Agent(options) : new http.Agent(options);
  }

  /**
   * The request as it will be sent; throws (nothing was sent) when a header or the path cannot be
   * sent as they are. `path` is below the base URL, encoded already.
   */
  prepare(method: string, path: string, headers: Record<string, string>, body: string | undefined): PreparedRequest {
    const sent: Record<string, string> = body === undefined ? { ...headers } : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    for (const [name, value] of Object.entries(sent)) {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    }
    return {
      options: { agent: this.agent, hostname: this.hostname, port: this.port, path: encodedPath(`${this.basePath}${path}`), method, headers: sent },
      body,
    };
  }

  /** Sends the request and reads the whole answer within `timeoutMs`. Never throws: a failure says what it means. */
  exchange(prepared: PreparedRequest, timeoutMs: number): Promise<Answer | AttemptFailure> {
    return new Promise((resolve) => {
      let settled = false;
      let connected = false;
      let timedOut = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const request = (this.secure ? https : http).request(prepared.options);
      const finish = (outcome: Answer | AttemptFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(attemptTimer);
        clearTimeout(connectTimer);
        resolve(outcome);
      };
      const fail = (error: unknown) => finish({ kind: timedOut ? 'timeout' : failureKind(error, connected), error });
      const attemptTimer = setTimeout(() => {
        timedOut = true;
        request.destroy(new Error(`Graph did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      request.once('socket', (socket: Socket) => {
        if (!socket.connecting) {
          connected = true;
          return;
        }
        socket.once(this.secure ? 'secureConnect' : 'connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        });
        // Only when the attempt would wait longer: a shorter attempt ends as a timeout, as it always has.
        if (timeoutMs > connectTimeoutMs) {
          connectTimer = setTimeout(() => {
            if (!connected) request.destroy(Object.assign(new Error(`no connection to Graph within ${connectTimeoutMs} ms`), { code: 'ECONNECTTIMEOUT' }));
          }, connectTimeoutMs);
        }
      });
      // `on`, not `once`: a socket can report more than one error, and an unheard one would end the process.
      request.on('error', fail);
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          finish({
            status: response.statusCode ?? 0,
            text: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
            requestId: header(response.headers['request-id']),
            retryAfter: header(response.headers['retry-after']),
            ...(response.headers.location ? { location: header(response.headers.location) } : {}),
          }),
        );
        response.on('error', fail);
        // Closed before the answer was whole: the request reached Graph, its answer did not reach us.
        response.once('close', () => {
          if (!response.complete) fail(new Error('the connection closed before Graph’s answer was whole'));
        });
      });
      request.end(prepared.body);
    });
  }

  /** Closes the pooled connections (tests, shutdown). */
  close(): void {
    this.agent.destroy();
  }
}

/** The path as a URL would send it: already encoded paths (all of ours) pass as they are. */
function encodedPath(path: string): string {
  if (/^\/[\x21-\x7e]*$/.test(path)) return path;
  const url = new URL(path, 'http://graph.invalid');
  return `${url.pathname}${url.search}`;
}

function failureKind(error: unknown, connected: boolean): AttemptFailure['kind'] {
  const code = (error as { code?: unknown } | undefined)?.code;
  return !connected && typeof code === 'string' && connectionNeverMade.has(code) ? 'refused' : 'lost';
}
