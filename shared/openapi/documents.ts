import type { OpenAPIV2, OpenAPIV3 } from 'openapi-types';
import type { OperationDefinition } from '../operations/operation';
import { buildModel } from './model';
import { openApiDocument } from './openapi3';
import { swaggerDocument } from './swagger2';

/**
 * The two documents, built on first use and cached for the life of the instance: the joi → JSON
 * Schema conversion runs once, not per request, and not at cold start (functions/openapi.ts
 * imports this module only when a document is first asked for). Only the host differs per call.
 */

export interface DocumentTarget {
  /** `host[:port]` the document names. */
  host: string;
  scheme: 'https' | 'http';
}

interface Built {
  swagger: OpenAPIV2.Document;
  openApi: OpenAPIV3.Document;
}

const built = new WeakMap<readonly OperationDefinition[], Built>();

function documentsOf(operations: readonly OperationDefinition[]): Built {
  let documents = built.get(operations);
  if (!documents) {
    const model = buildModel(operations);
    documents = { swagger: swaggerDocument(model, 'localhost'), openApi: openApiDocument(model, '/api') };
    built.set(operations, documents);
  }
  return documents;
}

export function swaggerFor(operations: readonly OperationDefinition[], target: DocumentTarget): OpenAPIV2.Document {
  const { swagger } = documentsOf(operations);
  const { swagger: version, info, host: _host, basePath, schemes: _schemes, ...rest } = swagger;
  return { swagger: version, info, host: target.host, basePath, schemes: [target.scheme], ...rest };
}

export function openApiFor(operations: readonly OperationDefinition[], target: DocumentTarget): OpenAPIV3.Document {
  const { openApi } = documentsOf(operations);
  return { ...openApi, servers: [{ url: `${target.scheme}://${target.host}/api` }] };
}

/** Serialised the way the connector package stores it: two-space indent, final newline. */
export function prettyJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
