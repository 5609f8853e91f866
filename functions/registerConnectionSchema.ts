import { createHandler } from '../shared/pipeline/pipeline';
import { acquireToken } from '../shared/pipeline/stages/acquireToken';
import { authenticate } from '../shared/pipeline/stages/authenticate';
import { authorize } from '../shared/pipeline/stages/authorize';
import { idempotency } from '../shared/pipeline/stages/idempotency';
import { readBody } from '../shared/pipeline/stages/readBody';
import { respond } from '../shared/pipeline/stages/respond';
import {
  registerSchema,
  schemaRegistrationStatus,
  schemaRegistrationStatusRoute,
} from '../shared/pipeline/stages/schemaRegistration';
import { validate } from '../shared/pipeline/stages/validate';
import type { SchemaRegistrationOperation } from '../shared/operations/connectorJob';
import { apiOperations } from '../shared/operations/registerOperation';
import { registerHttp } from '../shared/operations/registry';
import { connectionSchemaBody } from '../shared/schemas/connectionSchema';
import { connectionId, graphVersion } from '../shared/schemas/rules';

/**
 * Registers the schema of an external connection (`PATCH …/schema`, docs/graph-facts.md
 * "Connection schema"): 202 with a status URL that follows Graph's connection operation until it
 * ends; its audit record (partition `registerConnectionSchema`) stays open until then.
 */
export const registerConnectionSchema: SchemaRegistrationOperation = Object.freeze({
  kind: 'schemaRegistration' as const,
  name: 'registerConnectionSchema',
  summary: 'Register the schema of an external connection',
  description:
    'Registers (creates or updates) the schema of an external connection. Microsoft Graph provisions it in 5 to 15 minutes: the answer is 202 with a Location URL to poll until the registration succeeded or failed.',
  role: 'ExternalConnection.Create' as const,
  entityType: 'connectionSchema',
  routes: ['{version}/external/connections/{connectionId}/schema'] as const,
  params: { version: graphVersion, connectionId },
  body: connectionSchemaBody,
  graphPath: '/{version}/external/connections/{connectionId}/schema',
});

/** The stages of each (exported for the benchmark, which serves them with a runtime of its own). */
export const registerSchemaStages = [respond, authenticate, authorize, readBody, validate, idempotency, acquireToken, registerSchema];
export const schemaStatusFunction = { name: 'schemaRegistrationStatus', registration: registerConnectionSchema };
export const schemaStatusStages = [respond, authenticate, schemaRegistrationStatus];

apiOperations.push(registerConnectionSchema);

registerHttp(registerConnectionSchema.name, {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: registerConnectionSchema.routes[0],
  handler: createHandler(registerConnectionSchema, registerSchemaStages),
});

registerHttp('schemaRegistrationStatus', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: schemaRegistrationStatusRoute,
  handler: createHandler(schemaStatusFunction, schemaStatusStages),
});
