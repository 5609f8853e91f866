import type { HttpOperation } from './operation';

/**
 * HTTP operations that are not one create: a manifest's plan and apply, and a schema
 * registration (a PATCH Graph answers with an operation to follow). Their function files declare
 * them; the OpenAPI documents describe them beside the creates (shared/openapi/connectorJobDocs.ts).
 */

export interface ManifestOperation extends HttpOperation {
  kind: 'manifest';
  action: 'plan' | 'apply';
  /** `every`: the caller needs the role of every create the manifest contains (apply); `any`: one of them (plan). */
  rolesNeeded: 'every' | 'any';
}

export interface SchemaRegistrationOperation extends HttpOperation {
  kind: 'schemaRegistration';
}

export type ConnectorJobOperation = ManifestOperation | SchemaRegistrationOperation;

/** The connector jobs that keep an audit record of their own (an apply, a schema registration; a plan writes nothing), in a partition named after them. */
export function keepsOwnRecord(operation: { kind?: string; action?: string }): operation is ConnectorJobOperation {
  return isConnectorJobOperation(operation) && !(operation.kind === 'manifest' && operation.action === 'plan');
}

export function isConnectorJobOperation(operation: { kind?: string }): operation is ConnectorJobOperation {
  return operation.kind === 'manifest' || operation.kind === 'schemaRegistration';
}
