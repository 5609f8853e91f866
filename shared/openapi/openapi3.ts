import type { OpenAPIV3 } from 'openapi-types';
import { documentTitle, documentVersion, type ApiModel } from './model';
import { openApiOAuth2, openApiSecurityName } from './security';
import { pageable } from './swagger2';

/** OpenAPI 3.0 for REST callers: the same operations, parameters, schemas and security. */
export function openApiDocument(model: ApiModel, serverUrl: string): OpenAPIV3.Document {
  const paths: OpenAPIV3.PathsObject = {};
  for (const operation of model.operations) {
    const responses: OpenAPIV3.ResponsesObject = {};
    for (const response of operation.responses) {
      responses[response.status] = {
        description: response.description,
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([name, header]) => [
            name,
            { description: header.description, schema: header.schema as OpenAPIV3.SchemaObject },
          ]),
        ),
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${response.schema}` } } },
      };
    }
    paths[operation.path] = {
      ...paths[operation.path],
      [operation.method]: {
        operationId: operation.operationId,
        summary: operation.summary,
        description: operation.description,
        ...(operation.visibility ? { 'x-ms-visibility': operation.visibility } : {}),
        ...(operation.anonymous ? { security: [] } : {}),
        parameters: operation.parameters.map((parameter) => ({
          name: parameter.name,
          in: parameter.in,
          required: parameter.required,
          description: parameter.description,
          schema: parameter.schema as OpenAPIV3.SchemaObject,
          'x-ms-summary': parameter.summary,
          'x-ms-visibility': parameter.visibility,
        })),
        ...(operation.request
          ? {
              requestBody: {
                required: true,
                description: 'The entity to create.',
                content: { 'application/json': { schema: { $ref: `#/components/schemas/${operation.request.schema}` } } },
              },
            }
          : {}),
        responses,
        ...(operation.pageable ? { 'x-ms-pageable': pageable } : {}),
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: documentTitle, description: model.description, version: documentVersion },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      schemas: model.schemas as Record<string, OpenAPIV3.SchemaObject>,
      securitySchemes: { [openApiSecurityName]: structuredClone(openApiOAuth2) as OpenAPIV3.OAuth2SecurityScheme },
    },
    security: [{ [openApiSecurityName]: [] }],
  };
}
