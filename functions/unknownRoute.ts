import { functionDefinitions, registerHttp } from '../shared/operations/registry';
import { createUnknownRouteHandler, unknownRouteFunctionName } from '../shared/operations/unknownRoute';
import { httpMethods } from '../shared/http/routes';

/**
 * Every request no other function takes: a Graph-shaped 405 (known route, other method) or 404
 * (unknown route, with the nearest supported one). Imported last by index.ts and named to sort
 * after every other function, because the Functions host tries routes in the order it lists the
 * functions, not by how specific they are (azure-functions-host#9876); the local host puts a
 * catch-all last by route precedence.
 */
registerHttp(unknownRouteFunctionName, {
  methods: [...httpMethods],
  authLevel: 'anonymous',
  route: '{*path}',
  handler: createUnknownRouteHandler(() => functionDefinitions),
});
