import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';
import {
  comparePrecedence, editDistance, matchRoute, parseRouteTemplate, pathSegments, routeFilledFrom, routesOverlap,
} from '../../shared/http/routes';
import { routeRequest, routeTable } from '../../shared/operations/routeTable';
import type { FunctionDefinition } from '../../shared/operations/registry';

const route = parseRouteTemplate;

describe('route templates', () => {
  it('match literal segments case-insensitively, a parameter to one non-empty segment, a catch-all to the rest', () => {
    expect(matchRoute(route('{version}/external/connections'), ['V1.0', 'External', 'CONNECTIONS'])).toEqual({ version: 'V1.0' });
    expect(matchRoute(route('{version}/external/connections'), ['v1.0', 'external'])).toBeUndefined();
    expect(matchRoute(route('{version}/external/connections'), ['v1.0', 'external', 'connections', 'x'])).toBeUndefined();
    expect(matchRoute(route('{a}/b'), ['', 'b'])).toBeUndefined();
    expect(matchRoute(route('{*path}'), [])).toEqual({ path: '' });
    expect(matchRoute(route('{*path}'), ['a', 'b c'])).toEqual({ path: 'a/b c' });
  });

  it('decode each path segment, and refuse a malformed escape', () => {
    expect(pathSegments('v1.0/external/connections/c%20x/groups/')).toEqual(['v1.0', 'external', 'connections', 'c x', 'groups']);
    expect(() => pathSegments('v1.0/%zz')).toThrow(URIError);
    expect(() => pathSegments('v1.0/%C0')).toThrow(URIError);
  });

  it('refuse what the host would not take: a catch-all before the end, half-parameters', () => {
    expect(() => route('{*path}/x')).toThrow(/last segment/);
    expect(() => route('a/{b')).toThrow(/not a literal/);
  });

  it('order literals before parameters before a catch-all (the local host tries them so)', () => {
    const sorted = ['{*path}', '{id}', 'recent', '{a}/b', 'a/{b}'].map(route).sort(comparePrecedence).map((r) => r.template);
    expect(sorted).toEqual(['a/{b}', 'recent', '{a}/b', '{id}', '{*path}']);
  });

  it('tell when one path could match two templates', () => {
    expect(routesOverlap(route('users/{id}'), route('users/recent'))).toBe(true);
    expect(routesOverlap(route('{v}/external/connections'), route('{v}/connections'))).toBe(false);
    expect(routesOverlap(route('beta/x'), route('v1.0/x'))).toBe(false);
    expect(routesOverlap(route('{*path}'), route('health'))).toBe(true);
  });

  it('fill a template from the request for the nearest-route hint, and measure edit distance', () => {
    expect(routeFilledFrom(route('{version}/external/connections/{connectionId}/groups'), ['beta', 'external'])).toBe('beta/external/connections/{connectionId}/groups');
    expect(editDistance('v1.0/external/connectionz', 'v1.0/external/connections')).toBe(1);
    expect(editDistance('ABC', 'abc')).toBe(0);
    expect(editDistance('x'.repeat(10_000), 'y')).toBe(512);
  });
});

describe('the local host route table', () => {
  it('puts the catch-all last, whatever the registration order', () => {
    const handler = async () => ({ status: 204 });
    const definitions: FunctionDefinition[] = [
      { kind: 'http', name: 'anything', options: { route: '{*path}', methods: ['GET'], handler } },
      { kind: 'http', name: 'byId', options: { route: 'users/{id}', methods: ['GET'], handler } },
      { kind: 'http', name: 'recent', options: { route: 'users/recent', methods: ['GET'], handler } },
    ];
    const table = routeTable(definitions);
    expect(table.map((entry) => entry.definition.name)).toEqual(['recent', 'byId', 'anything']);
    expect(routeRequest(table, 'GET', ['users', 'recent'])?.target.definition.name).toBe('recent');
    expect(routeRequest(table, 'GET', ['users', '42'])?.target.definition.name).toBe('byId');
    expect(routeRequest(table, 'POST', ['users', '42'])).toBeUndefined();
    expect(routeRequest(table, 'GET', ['nope'])?.target.definition.name).toBe('anything');
  });

  it('of the app: every function but the catch-all comes before it', () => {
    const names = routeTable(functionDefinitions).map((entry) => entry.definition.name);
    expect(names.at(-1)).toBe('unknownRoute');
    expect(names.filter((name) => name === 'unknownRoute')).toHaveLength(1);
  });
});
