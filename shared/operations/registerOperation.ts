import { createOperationHandler } from '../pipeline/pipeline';
import type { AnyOperation, BulkOperationDefinition, OperationDefinition } from './operation';
import { registerHttp } from './registry';

/** Every registered create operation, for the parts that work across them (reconciliation). */
export const operationDefinitions: OperationDefinition[] = [];

/** Every registered bulk operation (the queue-triggered runs of their jobs, their status URL). */
export const bulkOperationDefinitions: BulkOperationDefinition[] = [];

/** Every operation callers can run, in the order registered (the OpenAPI documents). */
export const allOperationDefinitions: AnyOperation[] = [];

/**
 * One Functions HTTP function per route of the operation (a function has one route): the first
 * is named after the operation, the others `{name}_{n}`. All share one handler, whose pipeline
 * the operation's kind chooses (a create, or a bulk of creates).
 */
export function registerOperation(operation: AnyOperation): void {
  if (allOperationDefinitions.includes(operation)) return;
  allOperationDefinitions.push(operation);
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
