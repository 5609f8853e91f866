import type { OpenAPIV2 } from 'openapi-types';
import type { SchemaObject } from './joiSchema';
import { documentTitle, documentVersion, type ApiModel, type ParameterDoc } from './model';
import { swaggerOAuth2, swaggerSecurityName } from './security';

/**
 * Swagger 2.0, the format Power Platform custom connectors import. Schemas are the model's
 * OpenAPI 3.0 ones with what Swagger 2.0 lacks rewritten: `nullable` → `x-nullable` (no `null` in
 * enums), `writeOnly` dropped, `$ref`s to `#/definitions`.
 */

function toSwaggerSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toSwaggerSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const result: SchemaObject = {};
  const source = schema as SchemaObject;
  for (const [keyword, value] of Object.entries(source)) {
    if (keyword === 'writeOnly' || keyword === 'nullable') continue;
    if (keyword === '$ref' && typeof value === 'string') {
      result.$ref = value.replace('#/components/schemas/', '#/definitions/');
    } else if (keyword === 'enum' && Array.isArray(value)) {
      result.enum = value.filter((member) => member !== null);
    } else if (keyword === 'properties' && value && typeof value === 'object') {
      result.properties = Object.fromEntries(Object.entries(value).map(([name, property]) => [name, toSwaggerSchema(property)]));
    } else {
      result[keyword] = toSwaggerSchema(value);
    }
  }
  if (source.nullable === true) result['x-nullable'] = true;
  return result;
}

/** A path or header parameter: Swagger 2.0 puts the schema keywords on the parameter itself. */
function parameter(doc: ParameterDoc): OpenAPIV2.GeneralParameterObject {
  const { description: _, type, ...constraints } = toSwaggerSchema(doc.schema) as SchemaObject;
  return {
    name: doc.name,
    in: doc.in,
    required: doc.required,
    description: doc.description,
    'x-ms-summary': doc.summary,
    'x-ms-visibility': doc.visibility,
    ...(doc.in === 'path' ? { 'x-ms-url-encoding': 'single' } : {}),
    type: typeof type === 'string' ? type : 'string',
    ...constraints,
  };
}

/** Power Automate's paging of a list action (its Pagination setting follows the link). */
export const pageable = { nextLinkName: '@odata.nextLink' } as const;

function operationObject(operation: ApiModel['operations'][number]): OpenAPIV2.OperationObject {
  const responses: OpenAPIV2.ResponsesObject = {};
  for (const response of operation.responses) {
    responses[response.status] = {
      description: response.description,
      schema: { $ref: `#/definitions/${response.schema}` },
      headers: Object.fromEntries(
        Object.entries(response.headers).map(([name, header]) => [name, { type: 'string', description: header.description }]),
      ),
    };
  }
  const body = operation.request
    ? [{
        name: 'body',
        in: 'body',
        required: true,
        description: 'The entity to create.',
        'x-ms-summary': operation.request.summary,
        schema: { $ref: `#/definitions/${operation.request.schema}` },
      } as OpenAPIV2.InBodyParameterObject]
    : [];
  return {
    operationId: operation.operationId,
    summary: operation.summary,
    description: operation.description,
    ...(operation.visibility ? { 'x-ms-visibility': operation.visibility } : {}),
    ...(operation.anonymous ? { security: [] } : {}),
    ...(operation.request ? { consumes: ['application/json'] } : {}),
    produces: ['application/json'],
    parameters: [...operation.parameters.map(parameter), ...body],
    responses,
    ...(operation.pageable ? { 'x-ms-pageable': pageable } : {}),
  };
}

export function swaggerDocument(model: ApiModel, host: string, scheme: 'https' | 'http' = 'https'): OpenAPIV2.Document {
  // Key order: swagger, info, host, basePath, schemes, … (kept by documents.ts when it sets the host).
  const paths: OpenAPIV2.PathsObject = {};
  for (const operation of model.operations) {
    paths[operation.path] = { ...paths[operation.path], [operation.method]: operationObject(operation) };
  }
  return {
    swagger: '2.0',
    info: { title: documentTitle, description: model.description, version: documentVersion },
    host,
    basePath: '/api',
    schemes: [scheme],
    consumes: ['application/json'],
    produces: ['application/json'],
    paths,
    definitions: toSwaggerSchema(model.schemas) as OpenAPIV2.DefinitionsObject,
    securityDefinitions: { [swaggerSecurityName]: { ...swaggerOAuth2, scopes: {} } },
    security: [{ [swaggerSecurityName]: [] }],
  };
}
