import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpResponse as HttpResponseType, HttpResponseInit, LogHandler } from '@azure/functions';
import { HttpRequest, HttpResponse, InvocationContext } from '../shared/azureFunctions';
import { FacadeError, badRequest, graphErrorBody } from '../shared/errors';
import { correlationHeaders } from '../shared/http/correlation';
import { maxBodyBytes } from '../shared/http/jsonBody';
import { pathSegments } from '../shared/http/routes';
import type { FunctionDefinition } from '../shared/operations/registry';
import { routeRequest, routeTable, specificRoutes } from '../shared/operations/routeTable';
import { outcomeOf, requestLogEvent } from '../shared/telemetry/requestLog';
import { listenOnLoopback, type RunningServer } from './listen';
import { consoleLogHandler } from './logFormat';

/**
 * Serves the app's HTTP function definitions the way the Functions host does: below `/api`, route
 * templates with `{param}` segments (literal segments match case-insensitively) and a `{*path}`
 * catch-all, the declared methods only (HEAD too where GET is), `HttpRequest`/`InvocationContext`
 * in, `HttpResponseInit`/`HttpResponse` out. A request goes to the first function whose route
 * matches its path and whose methods include its method, routes tried literal segments before
 * parameters before the catch-all. Stands in for `func start` where Core Tools are not installed.
 */

export interface LocalHostOptions {
  definitions: readonly FunctionDefinition[];
  port?: number;
  routePrefix?: string;
  /** Where function logs go; default stdout: a short line each in a terminal, else a JSON line. */
  logHandler?: LogHandler;
}

export interface LocalHost extends RunningServer {
  /** `http://127.0.0.1:{port}/api` */
  apiUrl: string;
  /** Requests being answered now. */
  inFlight(): number;
  /**
   * Stops accepting connections, answers what is in flight (each with `Connection: close`) until
   * none is left, `boundMs` has passed or `giveUp` settles, then closes every connection. Resolves
   * to how many requests were still running when it stopped waiting.
   */
  drain(boundMs: number, giveUp?: Promise<void>): Promise<number>;
}

/**
 * Bodies past the 1 MiB limit are still read, and thrown away, up to this bound, so the client
 * finishes sending and reads its 413 instead of a connection reset. Past it the 413 is sent at
 * once with `Connection: close`.
 */
export const discardBodyBytes = 16 * maxBodyBytes;

interface ReadBody {
  /** At most one byte past the limit: enough for the function to refuse it. */
  bytes: Buffer;
  /** The whole body was read: the connection can be kept. */
  drained: boolean;
}

/**
 * Reads the body with events, never by breaking out of an async iterator: that would destroy the
 * request and with it the socket the answer has to go out on.
 */
function readBody(request: IncomingMessage, limit: number, discardLimit: number): Promise<ReadBody> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > discardLimit) return Promise.resolve({ bytes: Buffer.alloc(limit + 1), drained: false });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    const finish = (drained: boolean) => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      if (!drained) request.pause();
      resolve({ bytes: Buffer.concat(chunks), drained });
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (kept <= limit) {
        const part = chunk.subarray(0, limit + 1 - kept);
        chunks.push(part);
        kept += part.length;
      }
      if (total > discardLimit) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (error: Error) => {
      request.off('data', onData);
      request.off('end', onEnd);
      reject(error);
    };
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onError);
  });
}

/** A function's response headers as the plain object `writeHead` takes: names in lower case, repeats joined. */
function plainHeaders(init: HttpResponseInit['headers'] | Headers | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  };
  if (!init) return headers;
  if (Array.isArray(init)) for (const [name, value] of init as [string, string][]) add(name, value);
  else if (typeof (init as Headers).forEach === 'function') (init as Headers).forEach((value, name) => add(name, value));
  else for (const [name, value] of Object.entries(init as Record<string, string>)) add(name, String(value));
  return headers;
}

/**
 * Writes the function's answer: headers as one plain object, a JSON or text body as a string
 * (Node sends it with the headers in one write), `Date` left to Node's own cached value.
 */
async function writeResult(result: HttpResponseInit | HttpResponseType | void, response: ServerResponse, closeAfter: boolean) {
  let status = 200;
  let headers: Record<string, string> = {};
  let body: string | Uint8Array = '';
  if (result instanceof HttpResponse) {
    status = result.status;
    headers = plainHeaders(result.headers);
    body = new Uint8Array(await result.arrayBuffer());
  } else if (result) {
    status = result.status ?? 200;
    headers = plainHeaders(result.headers);
    if (result.jsonBody !== undefined) {
      body = JSON.stringify(result.jsonBody) ?? '';
      headers['content-type'] ??= 'application/json';
    } else if (typeof result.body === 'string') {
      body = result.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else if (result.body instanceof Uint8Array) {
      body = result.body;
    }
  }
  headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  if (closeAfter) headers.connection = 'close';
  response.writeHead(status, headers);
  response.end(body);
}

function requestUrl(incoming: IncomingMessage, fallbackHost: string): URL {
  try {
    return new URL(incoming.url ?? '/', `http://${incoming.headers.host ?? fallbackHost}`);
  } catch {
    return new URL(incoming.url ?? '/', `http://${fallbackHost}`);
  }
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const prefix = `/${(options.routePrefix ?? 'api').replace(/^\/|\/$/g, '')}/`;
  const table = routeTable(options.definitions);
  const logHandler = options.logHandler ?? consoleLogHandler();
  /** `127.0.0.1:{port}`, for a request without a usable Host header. */
  let ownHost = '';

  /**
   * The local host's own answer, for what no function sees (a malformed path, a path outside the
   * route prefix, a function that threw): Graph-shaped with `request-id`/`client-request-id`, as
   * every answer of the app, and one request log line.
   */
  async function answerLocally(incoming: IncomingMessage, response: ServerResponse, error: FacadeError, receivedAt: number) {
    const supplied = incoming.headers['client-request-id'];
    const correlation = {
      requestId: randomUUID(),
      clientRequestId: typeof supplied === 'string' && /^[\x21-\x7e]{1,128}$/.test(supplied) ? supplied : randomUUID(),
    };
    logHandler(error.status >= 500 ? 'error' : 'warning', JSON.stringify({
      event: requestLogEvent,
      operation: 'localHost',
      requestId: correlation.requestId,
      clientRequestId: correlation.clientRequestId,
      outcome: outcomeOf(error.status, false),
      status: error.status,
      code: error.code,
      durationMs: Date.now() - receivedAt,
    }));
    incoming.resume();
    await writeResult({ status: error.status, headers: { ...error.headers, ...correlationHeaders(correlation) }, jsonBody: graphErrorBody(error, correlation) }, response, false);
  }

  const malformedPath = (url: URL) =>
    badRequest(`The path ${url.pathname} holds a malformed percent-encoding (% must be followed by two hex digits of UTF-8).`, [], url.pathname);

  /**
   * Outside the route prefix the Functions host answers an empty 404; the local host says where
   * the API is, and the operation the path names there, if any.
   */
  function outsidePrefix(url: URL, method: string): FacadeError {
    let segments: string[] | undefined;
    try {
      segments = pathSegments(url.pathname.replace(/^\/+/, ''));
    } catch {
      segments = undefined;
    }
    const routed = segments && routeRequest(specificRoutes(table), method, segments);
    const there = `${prefix}${url.pathname.replace(/^\/+/, '')}`;
    return new FacadeError(404, 'UnknownRoute', `No operation is served at ${method} ${url.pathname}: the API is served below ${prefix}.${routed ? ` Did you mean ${method} ${there}?` : ''}`, {
      target: url.pathname,
      ...(routed ? { details: [{ code: 'nearestRoute', target: there, message: `${method} ${prefix}${routed.target.route.template}` }] } : {}),
    });
  }

  async function handle(incoming: IncomingMessage, response: ServerResponse, bodyRefused: boolean) {
    const receivedAt = Date.now();
    const url = requestUrl(incoming, ownHost);
    const method = (incoming.method ?? 'GET').toUpperCase();
    const pathname = `${url.pathname.replace(/\/$/, '')}/`;
    const below = pathname.toLowerCase().startsWith(prefix) ? url.pathname.slice(prefix.length) : undefined;
    let segments: string[] | undefined;
    try {
      segments = below === undefined ? undefined : pathSegments(below);
    } catch {
      await answerLocally(incoming, response, malformedPath(url), receivedAt);
      return;
    }
    const routed = segments ? routeRequest(table, method, segments) : undefined;
    if (!routed) {
      await answerLocally(incoming, response, outsidePrefix(url, method), receivedAt);
      return;
    }
    const { bytes, drained } = method === 'GET' || method === 'HEAD'
      ? { bytes: Buffer.alloc(0), drained: true }
      : bodyRefused
        ? { bytes: Buffer.alloc(0), drained: false }
        : await readBody(incoming, maxBodyBytes, discardBodyBytes);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    let request: InstanceType<typeof HttpRequest>;
    try {
      request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        query: Object.fromEntries(url.searchParams),
        params: routed.params,
        ...(bytes.length > 0 ? { body: { bytes } } : {}),
      });
    } catch {
      // A request fetch's Request cannot represent (TRACE, TRACK): no function can be given it.
      await answerLocally(incoming, response, new FacadeError(405, 'MethodNotAllowed', `${method} is not supported by this API.`, { target: url.pathname }), receivedAt);
      return;
    }
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: routed.target.definition.name,
      logHandler,
    });
    let result: HttpResponseInit | HttpResponseType | void;
    try {
      result = await routed.target.definition.options.handler(request, context);
    } catch (error) {
      context.error('unhandled function error', error instanceof Error ? error.stack : String(error));
      await answerLocally(incoming, response, new FacadeError(500, 'generalException', 'The function failed unexpectedly; the request id identifies it in the logs.'), receivedAt);
      return;
    }
    await writeResult(result, response, !drained);
  }

  const inFlight = new Set<Promise<void>>();
  let draining = false;
  /** Answers one request, counted while it runs; while draining, the connection closes after it. */
  const answer = (incoming: IncomingMessage, response: ServerResponse, bodyRefused: boolean) => {
    if (draining) response.shouldKeepAlive = false;
    const work = handle(incoming, response, bodyRefused).catch(() => {
      response.destroy();
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  const running = await listenOnLoopback((incoming, response) => answer(incoming, response, false), options.port ?? 0);
  ownHost = new URL(running.origin).host;

  // `Expect: 100-continue` with a body declared past the limit: answer without asking for the body.
  running.server.on('checkContinue', (incoming: IncomingMessage, response: ServerResponse) => {
    const declared = Number(incoming.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) {
      answer(incoming, response, true);
      return;
    }
    response.writeContinue();
    answer(incoming, response, false);
  });

  const drain = async (boundMs: number, giveUp: Promise<void> = new Promise(() => undefined)): Promise<number> => {
    draining = true;
    const closed = running.close({ waitForActive: true });
    running.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const waiting = new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)));
    const allAnswered = (async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    })();
    await Promise.race([allAnswered, waiting, giveUp]);
    clearTimeout(timer);
    const left = inFlight.size;
    await running.close();
    await closed;
    return left;
  };

  return { ...running, apiUrl: `${running.origin}${prefix.slice(0, -1)}`, inFlight: () => inFlight.size, drain };
}
