import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpResponse as HttpResponseType, HttpResponseInit, LogHandler } from '@azure/functions';
import { HttpRequest, HttpResponse, InvocationContext } from '../shared/azureFunctions';
import { maxBodyBytes } from '../shared/http/jsonBody';
import type { FunctionDefinition, HttpFunctionDefinition } from '../shared/operations/registry';
import { listenOnLoopback, type RunningServer } from './listen';

/**
 * Serves the app's HTTP function definitions the way the Functions host does: below `/api`, route
 * templates with `{param}` segments (literal segments match case-insensitively), the declared
 * methods only, `HttpRequest`/`InvocationContext` in, `HttpResponseInit`/`HttpResponse` out.
 * Stands in for `func start`, which cannot be installed here.
 */

interface CompiledRoute {
  definition: HttpFunctionDefinition;
  pattern: RegExp;
  paramNames: string[];
  methods: Set<string>;
}

export interface LocalHostOptions {
  definitions: readonly FunctionDefinition[];
  port?: number;
  routePrefix?: string;
  /** Where function logs go; default: one JSON line each on stdout. */
  logHandler?: LogHandler;
}

export interface LocalHost extends RunningServer {
  /** `http://127.0.0.1:{port}/api` */
  apiUrl: string;
}

function compile(definition: HttpFunctionDefinition): CompiledRoute {
  const paramNames: string[] = [];
  const source = definition.options.route
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\??\}$/.exec(segment);
      if (param?.[1]) {
        paramNames.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  const methods = new Set((definition.options.methods ?? ['GET', 'POST']).map((method) => method.toUpperCase()));
  return { definition, pattern: new RegExp(`^${source}/?$`, 'i'), paramNames, methods };
}

/** Reads the body, but never more than one byte past the facade's limit: the handler refuses it then. */
async function readLimited(request: IncomingMessage, limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
    if (size > limit) {
      request.pause();
      return { bytes: Buffer.concat(chunks).subarray(0, limit + 1), complete: false };
    }
  }
  return { bytes: Buffer.concat(chunks), complete: true };
}

async function writeResult(result: HttpResponseInit | HttpResponseType | void, response: ServerResponse, closeAfter: boolean) {
  let status = 200;
  const headers = new Headers();
  let body: Buffer = Buffer.alloc(0);
  if (result instanceof HttpResponse) {
    status = result.status;
    result.headers.forEach((value, name) => headers.set(name, value));
    body = Buffer.from(await result.arrayBuffer());
  } else if (result) {
    status = result.status ?? 200;
    new Headers(result.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => headers.set(name, value));
    if (result.jsonBody !== undefined) {
      body = Buffer.from(JSON.stringify(result.jsonBody));
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    } else if (typeof result.body === 'string') {
      body = Buffer.from(result.body);
      if (!headers.has('content-type')) headers.set('content-type', 'text/plain; charset=utf-8');
    } else if (result.body instanceof Uint8Array) {
      body = Buffer.from(result.body);
    }
  }
  headers.set('content-length', String(body.length));
  headers.set('date', new Date().toUTCString());
  if (closeAfter) headers.set('connection', 'close');
  response.writeHead(status, Object.fromEntries(headers.entries()));
  response.end(body);
}

const jsonLineLog: LogHandler = (level, ...args) => {
  process.stdout.write(`${JSON.stringify({ level, message: args })}\n`);
};

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const prefix = `/${(options.routePrefix ?? 'api').replace(/^\/|\/$/g, '')}/`;
  const routes = options.definitions
    .filter((definition): definition is HttpFunctionDefinition => definition.kind === 'http')
    .map(compile);
  const logHandler = options.logHandler ?? jsonLineLog;

  const running = await listenOnLoopback((incoming, response) => {
    void (async () => {
      const url = new URL(incoming.url ?? '/', `http://${incoming.headers.host ?? '127.0.0.1'}`);
      const method = (incoming.method ?? 'GET').toUpperCase();
      const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : undefined;
      let matched: { route: CompiledRoute; values: string[] } | undefined;
      if (path !== undefined) {
        for (const route of routes) {
          const match = route.pattern.exec(path);
          if (match && route.methods.has(method)) {
            matched = { route, values: match.slice(1) };
            break;
          }
        }
      }
      if (!matched) {
        incoming.resume();
        await writeResult({ status: 404 }, response, false);
        return;
      }
      const { route, values } = matched;
      let params: Record<string, string>;
      try {
        params = Object.fromEntries(route.paramNames.map((name, index) => [name, decodeURIComponent(values[index] ?? '')]));
      } catch {
        // A malformed escape in the path: refused before any function runs, as the Functions host does.
        incoming.resume();
        await writeResult({ status: 400, body: 'Malformed URL escape in the path.' }, response, false);
        return;
      }
      const { bytes, complete } = method === 'GET' || method === 'HEAD'
        ? { bytes: Buffer.alloc(0), complete: true }
        : await readLimited(incoming, maxBodyBytes);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        query: Object.fromEntries(url.searchParams),
        params,
        ...(bytes.length > 0 ? { body: { bytes } } : {}),
      });
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: route.definition.name,
        logHandler,
      });
      let result: HttpResponseInit | HttpResponseType | void;
      try {
        result = await route.definition.options.handler(request, context);
      } catch (error) {
        context.error('unhandled function error', error instanceof Error ? error.stack : String(error));
        result = { status: 500 };
      }
      await writeResult(result, response, !complete);
      if (!complete) incoming.socket.end();
    })().catch(() => response.destroy());
  }, options.port ?? 0);

  return { ...running, apiUrl: `${running.origin}${prefix.slice(0, -1)}` };
}
