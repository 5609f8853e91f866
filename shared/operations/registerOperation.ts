import { createOperationHandler } from '../pipeline/pipeline';
import type { OperationDefinition } from './operation';
import { registerHttp } from './registry';

/** Every registered create operation, for the parts that work across them (reconciliation). */
export const operationDefinitions: OperationDefinition[] = [];

/**
 * One Functions HTTP function per route of the operation (a function has one route): the first
 * is named after the operation, the others `{name}_{n}`. All share one handler.
 */
export function registerOperation(operation: OperationDefinition): void {
  if (operationDefinitions.includes(operation)) return;
  operationDefinitions.push(operation);
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
