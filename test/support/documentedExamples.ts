import '../../functions/index';
import { collectionPathOf } from '../../shared/graph/paths';
import { matchRoute, parseRouteTemplate, pathSegments } from '../../shared/http/routes';
import type { DocumentedExample } from '../../shared/operations/graphFacts';
import type { OperationDefinition } from '../../shared/operations/operation';
import { operationDefinitions } from '../../shared/operations/registerOperation';

/**
 * Request examples of Graph's documentation, current and older (docs/graph-facts.md §9), each
 * declared beside its operation (`graph.examples`), gathered from the registry in its order, which
 * creates parents first (connection → groups → member).
 */
export interface RegisteredExample extends DocumentedExample {
  /** The operation's name. */
  operation: string;
  definition: OperationDefinition;
}

export const documentedExamples: RegisteredExample[] = operationDefinitions.flatMap((definition) =>
  definition.graph.examples.map((example) => ({ ...example, operation: definition.name, definition })),
);

export function documentedExample(key: string): RegisteredExample {
  const example = documentedExamples.find((candidate) => candidate.key === key);
  if (!example) throw new Error(`no documented example ${key}`);
  return example;
}

/** The example's path parameters, read from whichever route of its operation its path takes. */
export function paramsOf(example: RegisteredExample): Record<string, string> {
  const segments = pathSegments(`${example.version}${example.path}`);
  for (const route of example.definition.routes) {
    const params = matchRoute(parseRouteTemplate(route), segments);
    if (params) return params;
  }
  throw new Error(`${example.key}: ${example.path} is no route of ${example.operation}`);
}

/** The collection Graph receives the example's create at, below the version (`/external/connections`). */
export function graphCollectionOf(example: RegisteredExample): string {
  return collectionPathOf(example.definition.graphPath, paramsOf(example));
}
