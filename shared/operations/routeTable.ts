import { comparePrecedence, isCatchAll, matchRoute, parseRouteTemplate, type RouteTemplate } from '../http/routes';
import type { FunctionDefinition, HttpFunctionDefinition } from './registry';

/** One HTTP function as the router sees it: its parsed route and the methods it accepts. */
export interface HttpRoute {
  definition: HttpFunctionDefinition;
  route: RouteTemplate;
  /** Upper case; HEAD wherever GET is, as the Functions host adds it. */
  methods: ReadonlySet<string>;
}

export function acceptedMethods(definition: HttpFunctionDefinition): string[] {
  const declared = (definition.options.methods ?? ['GET', 'POST']).map((method) => method.toUpperCase());
  return declared.includes('GET') && !declared.includes('HEAD') ? [...declared, 'HEAD'] : declared;
}

/** The HTTP functions in the order a request tries them: by route precedence, then as registered. */
export function routeTable(definitions: readonly FunctionDefinition[]): HttpRoute[] {
  return definitions
    .filter((definition): definition is HttpFunctionDefinition => definition.kind === 'http')
    .map((definition) => ({ definition, route: parseRouteTemplate(definition.options.route), methods: new Set(acceptedMethods(definition)) }))
    .map((entry, order) => ({ entry, order }))
    .sort((a, b) => comparePrecedence(a.entry.route, b.entry.route) || a.order - b.order)
    .map(({ entry }) => entry);
}

/** The function a request reaches: the first route that matches the path and accepts the method. */
export function routeRequest(
  table: readonly HttpRoute[],
  method: string,
  segments: readonly string[],
): { target: HttpRoute; params: Record<string, string> } | undefined {
  for (const target of table) {
    if (!target.methods.has(method.toUpperCase())) continue;
    const params = matchRoute(target.route, segments);
    if (params) return { target, params };
  }
  return undefined;
}

/** The routes of real operations, without catch-alls. */
export function specificRoutes(table: readonly HttpRoute[]): HttpRoute[] {
  return table.filter((entry) => !isCatchAll(entry.route));
}
