import type { ConnectorJobOperation, ManifestOperation, SchemaRegistrationOperation } from '../operations/connectorJob';
import { manifestApplyAnswer, manifestPlanAnswer, schemaRegistrationAnswer } from '../schemas/manifestAnswers';
import { schemaFromJoi, type SchemaObject } from './joiSchema';
import {
  addSchema,
  clientRequestIdParameter,
  correlationHeaders,
  errorResponseDocs,
  graphVersionsOf,
  pathParameter,
  pollHeaders,
  replayHeaders,
  type OperationDoc,
  type ParameterDoc,
  type ResponseDoc,
} from './model';
import { pascalCase } from './text';

/**
 * The documents' part for the manifest actions (plan; apply, with the asynchronous pattern: 202,
 * Location, Retry-After) and schema registration, with the status URLs their 202s name (internal:
 * connectors poll them themselves).
 */

const idempotencyKey: ParameterDoc = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Makes retrying safe: a request repeated with the same key gets the first answer instead of being carried out again.',
  summary: 'Idempotency Key',
  visibility: 'advanced',
  schema: { type: 'string' },
};

const prefer: ParameterDoc = {
  name: 'Prefer',
  in: 'header',
  required: false,
  description: 'With respond-async, the apply is answered 202 Accepted at once, with a Location URL to poll; a manifest with a schema, or a large one, is answered so anyway.',
  summary: 'Prefer',
  visibility: 'advanced',
  schema: { type: 'string', enum: ['respond-async'] },
};

const answer = (schemas: Record<string, SchemaObject>, name: string, rule: Parameters<typeof schemaFromJoi>[0]) =>
  addSchema(schemas, name, schemaFromJoi(rule, { direction: 'response', context: {} }));

function statusDoc(operationId: string, summary: string, description: string, path: string, schema: string): OperationDoc {
  return {
    method: 'get',
    operationId,
    summary,
    description,
    path,
    parameters: [
      { name: 'id', in: 'path', required: true, description: 'The id its Location URL ends with.', summary: 'ID', visibility: 'important', schema: { type: 'string' } },
      clientRequestIdParameter(false),
    ],
    responses: [
      { status: '200', description: 'Ended: the outcome.', schema, headers: correlationHeaders },
      { status: '202', description: 'Still going on: poll again after Retry-After seconds.', schema, headers: { ...correlationHeaders, ...pollHeaders } },
      ...errorResponseDocs(false, new Set(['401', '403', '404', '500', '503'])),
    ],
    visibility: 'internal',
  };
}

function manifestDocs(operation: ManifestOperation, schemas: Record<string, SchemaObject>): OperationDoc[] {
  const request = addSchema(schemas, 'ConnectorManifest', schemaFromJoi(operation.body, { direction: 'request', context: { version: 'v1.0' } }));
  return graphVersionsOf(operation).map((version, index) => {
    const suffix = index === 0 ? '' : pascalCase(version.replace(/[^A-Za-z0-9]/g, ''));
    const responses: ResponseDoc[] = operation.action === 'plan'
      ? [{ status: '200', description: 'What applying would do, per entity; nothing was written.', schema: answer(schemas, 'ConnectorManifestPlan', manifestPlanAnswer), headers: correlationHeaders }]
      : [
          { status: '200', description: 'Applied within the request: what happened to each entity.', schema: answer(schemas, 'ConnectorManifestApply', manifestApplyAnswer), headers: { ...correlationHeaders, location: pollHeaders.location, ...replayHeaders } },
          { status: '202', description: 'Accepted: the apply runs in the background; GET the Location URL after Retry-After seconds for its results.', schema: answer(schemas, 'ConnectorManifestApply', manifestApplyAnswer), headers: { ...correlationHeaders, ...pollHeaders, ...replayHeaders } },
        ];
    const roles = operation.action === 'plan'
      ? `requires one of the app roles of the creates the manifest contains (${operation.role} for its connection, ExternalGroup.Create, ExternalGroupMember.Create, ConnectorGroup.Create)`
      : `requires the app role of every create the manifest contains (${operation.role} for its connection and schema, ExternalGroup.Create for groups, ExternalGroupMember.Create for members, ConnectorGroup.Create for connector groups)`;
    return {
      method: 'post' as const,
      operationId: `${pascalCase(operation.name)}${suffix}`,
      summary: suffix ? `${operation.summary} in Graph ${version}` : operation.summary ?? operation.name,
      description: `${operation.description ?? ''} Calls Microsoft Graph ${version} (connector groups: beta); ${roles}.`,
      path: `/${operation.routes[0].replace('{version}', version)}`,
      parameters: [clientRequestIdParameter(true), ...(operation.action === 'apply' ? [idempotencyKey, prefer] : [])],
      request: { schema: request, summary: 'Manifest' },
      responses: [...responses, ...errorResponseDocs(true)],
    };
  });
}

function schemaRegistrationDocs(operation: SchemaRegistrationOperation, schemas: Record<string, SchemaObject>): OperationDoc[] {
  const status = answer(schemas, 'SchemaRegistration', schemaRegistrationAnswer);
  return graphVersionsOf(operation).map((version, index) => {
    const suffix = index === 0 ? '' : pascalCase(version.replace(/[^A-Za-z0-9]/g, ''));
    const request = addSchema(schemas, `${pascalCase(operation.name)}${suffix}Request`, schemaFromJoi(operation.body, { direction: 'request', context: { version } }), index === 0 ? undefined : `${pascalCase(operation.name)}Request`);
    const route = operation.routes[0].replace('{version}', version);
    return {
      method: 'post' as const,
      operationId: `${pascalCase(operation.name)}${suffix}`,
      summary: suffix ? `${operation.summary} in Graph ${version}` : operation.summary ?? operation.name,
      description: `${operation.description ?? ''} Calls Microsoft Graph ${version}; requires the app role ${operation.role}.`,
      path: `/${route}`,
      parameters: [...[...route.matchAll(/\{(\w+)\}/g)].map(([, name]) => pathParameter(name!, operation.params[name!]!)), clientRequestIdParameter(true), idempotencyKey],
      request: { schema: request, summary: 'Schema' },
      responses: [
        { status: '200', description: 'Already ended (Graph answered without an operation to follow).', schema: status, headers: { ...correlationHeaders, ...replayHeaders } },
        { status: '202', description: 'Accepted: Microsoft Graph provisions the schema; GET the Location URL after Retry-After seconds until it answers 200.', schema: status, headers: { ...correlationHeaders, ...pollHeaders, ...replayHeaders } },
        ...errorResponseDocs(true),
      ],
    };
  });
}

export function connectorJobDocs(operations: readonly ConnectorJobOperation[], schemas: Record<string, SchemaObject>): OperationDoc[] {
  const docs: OperationDoc[] = [];
  for (const operation of operations) {
    docs.push(...(operation.kind === 'manifest' ? manifestDocs(operation, schemas) : schemaRegistrationDocs(operation, schemas)));
  }
  if (operations.some((operation) => operation.kind === 'manifest' && operation.action === 'apply')) {
    docs.push(statusDoc('GetConnectorManifestApplyStatus', 'Get the status of a manifest apply', 'The Location URL of a manifest apply: 202 with the step it waits on, then 200 with what it did. For the caller that made it or an operator with Audit.Read.', '/connectorManifestApplies/{id}', answer(schemas, 'ConnectorManifestApply', manifestApplyAnswer)));
  }
  if (operations.some((operation) => operation.kind === 'schemaRegistration')) {
    docs.push(statusDoc('GetSchemaRegistrationStatus', 'Get the status of a schema registration', 'The Location URL of a schema registration: 202 while Microsoft Graph provisions it, then 200 with succeeded or failed. For the caller that made it or an operator with Audit.Read.', '/schemaRegistrations/{id}', status(schemas)));
  }
  return docs;
}

const status = (schemas: Record<string, SchemaObject>) => answer(schemas, 'SchemaRegistration', schemaRegistrationAnswer);
