import { createOperationHandler, createQueryHandler } from '../pipeline/pipeline';
import { keepsOwnRecord } from './connectorJob';
import type { AnyOperation, BulkOperationDefinition, OperationDefinition } from './operation';
import type { ApiOperation, QueryDefinition } from './query';
import { registerHttp } from './registry';

/**
 * Every registered create operation, for the parts that work across them (reconciliation, the
 * audit queries: one audit partition each).
 */
export const operationDefinitions: OperationDefinition[] = [];

/** Every registered bulk operation (the queue-triggered runs of their jobs, their status URL). */
export const bulkOperationDefinitions: BulkOperationDefinition[] = [];

/** Every operation the API serves, creates, bulk creates and queries, in registration order (the OpenAPI documents). */
export const apiOperations: ApiOperation[] = [];

/**
 * One Functions HTTP function per route of the operation (a function has one route): the first
 * is named after the operation, the others `{name}_{n}`. All share one handler, whose pipeline
 * the operation's kind chooses (a create, or a bulk of creates).
 */
export function registerOperation(operation: AnyOperation): void {
  if (apiOperations.includes(operation)) return;
  apiOperations.push(operation);
  if (operation.kind === 'bulk') bulkOperationDefinitions.push(operation);
  else operationDefinitions.push(operation);
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

/** The connector jobs that keep a record of their own, by name (their audit partitions). */
export const recordedJobNames = (): string[] => apiOperations.filter(keepsOwnRecord).map((operation) => operation.name);

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
    handler: createQueryHandler(query, () => ({ operations: operationDefinitions, recordedJobs: recordedJobNames() })),
  });
}
