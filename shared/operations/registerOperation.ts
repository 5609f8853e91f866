import { createOperationHandler, createQueryHandler } from '../pipeline/pipeline';
import type { OperationDefinition } from './operation';
import type { ApiOperation, QueryDefinition } from './query';
import { registerHttp } from './registry';

/**
 * Every registered create operation, for the parts that work across them (reconciliation, the
 * audit queries: one audit partition each).
 */
export const operationDefinitions: OperationDefinition[] = [];

/** Every operation the API serves, creates and queries, in registration order (the OpenAPI documents). */
export const apiOperations: ApiOperation[] = [];

/**
 * One Functions HTTP function per route of the operation (a function has one route): the first
 * is named after the operation, the others `{name}_{n}`. All share one handler.
 */
export function registerOperation(operation: OperationDefinition): void {
  if (operationDefinitions.includes(operation)) return;
  operationDefinitions.push(operation);
  apiOperations.push(operation);
  const handler = createOperationHandler(operation);
  operation.routes.forEach((route, index) => {
    registerHttp(index === 0 ? operation.name : `${operation.name}_${index + 1}`, {
      methods: ['POST'],
      authLevel: 'anonymous',
      route,
      handler,
    });
  });
}

/**
 * A query of the audit trail: one Functions HTTP function (GET, anonymous at the host: the
 * pipeline checks the caller's token and role) reading across every registered create operation.
 */
export function registerQuery(query: QueryDefinition): void {
  if (apiOperations.includes(query)) return;
  apiOperations.push(query);
  registerHttp(query.name, {
    methods: ['GET'],
    authLevel: 'anonymous',
    route: query.route,
    handler: createQueryHandler(query, () => ({ operations: operationDefinitions })),
  });
}
