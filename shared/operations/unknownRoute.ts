import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { FacadeError, graphErrorBody } from '../errors';
import { correlationFor, correlationHeaders } from '../http/correlation';
import { editDistance, matchRoute, pathSegments, routeFilledFrom } from '../http/routes';
import { outcomeOf, requestLogEvent, type RequestLogFields } from '../telemetry/requestLog';
import type { FunctionDefinition } from './registry';
import { routeTable, specificRoutes, type HttpRoute } from './routeTable';

/**
 * The answer to every request no operation takes: the catch-all function (`{*path}`, every
 * method). Under the Functions host and the local host alike a request reaches it only when no
 * other route matches its path and method, so it answers
 * - 405 `MethodNotAllowed` with `Allow` when the path is an operation's but the method is not;
 * - 404 `UnknownRoute` otherwise, naming the path and the nearest supported route;
 * both Graph-shaped with `request-id`/`client-request-id`, and one request log line each.
 */

export const unknownRouteFunctionName = 'unknownRoute';

const maxLoggedPathLength = 300;

interface Nearest {
  entry: HttpRoute;
  filled: string;
}

/** Whether a route has one of its fixed segments where the request has the same one (`external` in `v1.0/external/…`). */
function sharesALiteral(entry: HttpRoute, segments: readonly string[]): boolean {
  return entry.route.segments.some((segment, index) => segment.kind === 'literal' && segment.text.toLowerCase() === segments[index]?.toLowerCase());
}

function nearestRoute(routes: readonly HttpRoute[], segments: readonly string[], method: string): Nearest | undefined {
  const requested = segments.join('/');
  // Parameters take the request's own segments, so a route made mostly of them (`audit/{operation}/{entityId}`)
  // would look near anything of its length: a route that shares a fixed segment with the request comes first.
  const sharing = routes.filter((entry) => sharesALiteral(entry, segments));
  let best: (Nearest & { distance: number }) | undefined;
  for (const entry of sharing.length > 0 ? sharing : routes) {
    const filled = routeFilledFrom(entry.route, segments);
    // A route taking the request's method wins a tie: that is what the caller was after.
    const distance = editDistance(requested, filled) * 2 + (entry.methods.has(method) ? 0 : 1);
    if (!best || distance < best.distance) best = { entry, filled, distance };
  }
  return best;
}

const methodList = (methods: ReadonlySet<string>) => [...methods].sort().join(', ');

/** `a/./b/../c` → `a/c`, as the request's URL resolves it (`%2E%2E` included). */
function withoutDotSegments(routePath: string): string {
  return new URL(`/${routePath.replace(/^\/+/, '')}`, 'http://facade.invalid').pathname.slice(1);
}

export function createUnknownRouteHandler(definitions: () => readonly FunctionDefinition[]) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const receivedAt = Date.now();
    const startedAt = performance.now();
    const correlation = correlationFor(request);
    const method = request.method.toUpperCase();
    const url = new URL(request.url);
    const routePath = withoutDotSegments(request.params.path ?? url.pathname.replace(/^\/api\/?/i, ''));
    // The host's prefix is whatever precedes the catch-all's part of the path (`/api/`).
    const prefix = url.pathname.toLowerCase().endsWith(routePath.toLowerCase())
      ? url.pathname.slice(0, url.pathname.length - routePath.length).replace(/\/?$/, '/')
      : '/api/';
    let segments: string[];
    try {
      segments = pathSegments(routePath);
    } catch {
      segments = routePath.split('/').filter(Boolean);
    }
    const routes = specificRoutes(routeTable(definitions()));
    const sameRoute = routes.filter((entry) => matchRoute(entry.route, segments));
    const allowed = new Set(sameRoute.flatMap((entry) => [...entry.methods]));

    let failure: FacadeError;
    if (allowed.size > 0 && !allowed.has(method)) {
      failure = new FacadeError(
        405,
        'MethodNotAllowed',
        `${method} is not supported on ${url.pathname}; it accepts ${methodList(allowed)}.`,
        { target: url.pathname, headers: { allow: methodList(allowed) } },
      );
    } else {
      const nearest = nearestRoute(routes, segments, method);
      const suggestion = nearest ? ` The nearest supported route is ${methodList(nearest.entry.methods)} ${prefix}${nearest.filled}.` : '';
      failure = new FacadeError(404, 'UnknownRoute', `No operation is served at ${method} ${url.pathname}.${suggestion}`, {
        target: url.pathname,
        ...(nearest
          ? { details: [{ code: 'nearestRoute', target: `${prefix}${nearest.filled}`, message: `${methodList(nearest.entry.methods)} ${prefix}${nearest.entry.route.template}` }] }
          : {}),
      });
    }

    const line: RequestLogFields & { method: string; path: string } = {
      event: requestLogEvent,
      invocationId: context.invocationId,
      operation: context.functionName,
      requestId: correlation.requestId,
      clientRequestId: correlation.clientRequestId,
      graphRequestId: undefined,
      callerId: undefined,
      retries: 0,
      outcome: outcomeOf(failure.status, false),
      status: failure.status,
      code: failure.code,
      durationMs: Date.now() - receivedAt,
      totalMs: Math.round((performance.now() - startedAt) * 100) / 100,
      method,
      path: url.pathname.slice(0, maxLoggedPathLength),
    };
    context.warn(JSON.stringify(line));

    return {
      status: failure.status,
      headers: { ...failure.headers, ...correlationHeaders(correlation) },
      jsonBody: graphErrorBody(failure, correlation),
    };
  };
}
