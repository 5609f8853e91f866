import type { ConnectorJobOperation } from './connectorJob';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type Joi from 'joi';
import type { Runtime } from '../runtime';
import type { AnyOperation, OperationDefinition, ServedOperation } from './operation';

/**
 * What a read operation (a query of the audit trail) is: the whole of its function file. It takes
 * the create path's first stages (respond, authenticate, authorize), then validates its path and
 * query parameters with joi and answers (shared/pipeline/pipeline.ts, `queryStages`).
 */

/** What a query's parameters depend on: the create operations the app serves (one audit partition each). */
export interface QueryScope {
  operations: readonly OperationDefinition[];
  /** The connector jobs with a record of their own (a manifest apply, a schema registration), listed beside the creates. */
  recordedJobs?: readonly string[];
}

/** A query's parameters, validated. */
export interface QueryInput {
  params: Record<string, string>;
  query: Record<string, unknown>;
}

/** What a query is answered from. */
export interface QueryCall extends QueryInput, QueryScope {
  runtime: Runtime;
  request: HttpRequest;
  /** When the request was received, on the runtime's clock. */
  now: Date;
}

export interface QueryResponse {
  /** Name of the 200 answer's schema in the OpenAPI documents. */
  name: string;
  description: string;
  schema: Joi.ObjectSchema;
}

export interface QueryDefinition extends ServedOperation {
  kind: 'query';
  /** Route below `/api`; `{name}` segments are path parameters. */
  route: string;
  /** The action's name in the OpenAPI documents and Power Platform (sentence case). */
  summary: string;
  /** What the query answers, for the OpenAPI documents. */
  description: string;
  /** joi rules of the route's path parameters. */
  params: (scope: QueryScope) => Record<string, Joi.Schema>;
  /** joi rules of the query string parameters, all optional; any other parameter is refused. */
  query: (scope: QueryScope) => Record<string, Joi.Schema>;
  /** The 200 answer. */
  response: QueryResponse;
  /** The answer is one page of `value`, the next page behind `@odata.nextLink`. */
  pageable: boolean;
  /** What a 404 means, when the query answers one. */
  notFound?: string;
  answer: (call: QueryCall) => Promise<HttpResponseInit>;
}

/** Every operation the API serves and documents: the creates, the bulk creates and the queries. */
export type ApiOperation = AnyOperation | QueryDefinition | ConnectorJobOperation;

export const isQuery = (operation: ApiOperation): operation is QueryDefinition => 'kind' in operation && operation.kind === 'query';

export function defineQuery(definition: Omit<QueryDefinition, 'kind'>): QueryDefinition {
  for (const [, param] of definition.route.matchAll(/\{(\w+)\}/g)) {
    if (!param || !(param in definition.params({ operations: [] }))) {
      throw new Error(`${definition.name}: route parameter {${param}} has no joi rule in params`);
    }
  }
  return Object.freeze({ ...definition, kind: 'query' as const });
}
