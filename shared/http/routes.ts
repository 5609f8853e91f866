/**
 * HTTP route templates as the Functions host reads them (below the `api` prefix): literal
 * segments (matched case-insensitively), `{name}` parameters (one non-empty segment) and a final
 * `{*name}` catch-all (the rest of the path, possibly empty). Shared by the catch-all function,
 * which names the nearest route to a wrong one, and by the local host, which routes with it.
 */

export type RouteSegment =
  | { kind: 'literal'; text: string }
  | { kind: 'parameter'; name: string; optional: boolean }
  | { kind: 'catchAll'; name: string };

export interface RouteTemplate {
  /** As declared: `{version}/external/connections`. */
  template: string;
  segments: RouteSegment[];
}

export const httpMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT'] as const;
export type HttpMethodName = (typeof httpMethods)[number];

export function parseRouteTemplate(template: string): RouteTemplate {
  const parts = template.split('/').filter((part) => part !== '');
  const segments = parts.map((part, index): RouteSegment => {
    const catchAll = /^\{\*{1,2}(\w+)\}$/.exec(part);
    if (catchAll?.[1]) {
      if (index !== parts.length - 1) throw new Error(`route "${template}": a catch-all must be the last segment`);
      return { kind: 'catchAll', name: catchAll[1] };
    }
    const parameter = /^\{(\w+)(\?)?\}$/.exec(part);
    if (parameter?.[1]) return { kind: 'parameter', name: parameter[1], optional: parameter[2] === '?' };
    if (/[{}]/.test(part)) throw new Error(`route "${template}": segment "${part}" is not a literal, {name} or {*name}`);
    return { kind: 'literal', text: part };
  });
  return { template, segments };
}

export function isCatchAll(route: RouteTemplate): boolean {
  return route.segments.at(-1)?.kind === 'catchAll';
}

/**
 * The path below the prefix as segments, each percent-decoded. A trailing slash is ignored, as
 * the host ignores it. Throws `URIError` for a malformed escape (`%zz`, bytes that are not UTF-8).
 */
export function pathSegments(path: string): string[] {
  const trimmed = path.replace(/^\/+/, '').replace(/\/$/, '');
  return trimmed === '' ? [] : trimmed.split('/').map((segment) => decodeURIComponent(segment));
}

/** The route values when `segments` match the template, else `undefined`. */
export function matchRoute(route: RouteTemplate, segments: readonly string[]): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  for (let index = 0; index < route.segments.length; index += 1) {
    const segment = route.segments[index]!;
    const actual = segments[index];
    if (segment.kind === 'catchAll') {
      values[segment.name] = segments.slice(index).join('/');
      return values;
    }
    if (actual === undefined || actual === '') {
      if (segment.kind === 'parameter' && segment.optional && index >= segments.length) continue;
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (actual.toLowerCase() !== segment.text.toLowerCase()) return undefined;
    } else {
      values[segment.name] = actual;
    }
  }
  return segments.length <= route.segments.length ? values : undefined;
}

const segmentRank = { literal: 1, parameter: 3, optional: 4, catchAll: 5 } as const;

/**
 * ASP.NET Core's inbound route precedence, which the local host follows: compared segment by
 * segment, a literal before a parameter before a catch-all; a longer template before a shorter
 * one that otherwise ties. Negative when `a` is tried first.
 */
export function comparePrecedence(a: RouteTemplate, b: RouteTemplate): number {
  const rank = (segment: RouteSegment | undefined) =>
    segment === undefined ? 9 : segment.kind === 'parameter' && segment.optional ? segmentRank.optional : segmentRank[segment.kind];
  for (let index = 0; index < Math.max(a.segments.length, b.segments.length); index += 1) {
    const difference = rank(a.segments[index]) - rank(b.segments[index]);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * Whether some path could match both templates: the host would then pick between them by the
 * order it happens to list functions in, not by the route (azure-functions-host#9876).
 */
export function routesOverlap(a: RouteTemplate, b: RouteTemplate): boolean {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let index = 0; index < length; index += 1) {
    const left = a.segments[index];
    const right = b.segments[index];
    if (left?.kind === 'catchAll' || right?.kind === 'catchAll') return true;
    if (!left || !right) {
      const rest = (left ?? right)!;
      return rest.kind === 'parameter' && rest.optional;
    }
    if (left.kind === 'literal' && right.kind === 'literal' && left.text.toLowerCase() !== right.text.toLowerCase()) return false;
  }
  return true;
}

/** The route written for people: parameters filled from the request where it has them. */
export function routeFilledFrom(route: RouteTemplate, segments: readonly string[]): string {
  return route.segments
    .map((segment, index) => {
      if (segment.kind === 'literal') return segment.text;
      const actual = segments[index];
      if (segment.kind === 'parameter' && actual) return actual;
      return segment.kind === 'catchAll' ? `{*${segment.name}}` : `{${segment.name}}`;
    })
    .join('/');
}

/** Levenshtein distance, case-insensitive; inputs are capped so a long URL costs little. */
export function editDistance(a: string, b: string, cap = 512): number {
  const left = a.toLowerCase().slice(0, cap);
  const right = b.toLowerCase().slice(0, cap);
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= right.length; j += 1) {
      const substitution = previous[j - 1]! + (left[i - 1] === right[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[right.length]!;
}
