import type { OpenAPIV2, OpenAPIV3 } from 'openapi-types';
import type { ApiOperation } from '../operations/query';
import { connectorJobDocs } from './connectorJobDocs';
import { buildModel } from './model';
import { openApiDocument } from './openapi3';
import { swaggerDocument } from './swagger2';

/**
 * The two documents, built on first use and cached for the life of the instance: the joi → JSON
 * Schema conversion runs once, not per request, and not at cold start (functions/openapi.ts
 * imports this module only when a document is first asked for). Only where the API is differs per call.
 */

/**
 * Where the documents say the API is. Without a host they name none, and a client uses the host
 * it fetched them from (Swagger 2.0 without `host`/`schemes`, OpenAPI 3.0 with a relative server URL).
 */
export interface DocumentTarget {
  /** `host[:port]` the documents name. */
  host?: string;
  scheme?: 'https' | 'http';
  /** Path the API is published under before `/api` (a gateway's), e.g. `/connectors`. */
  pathPrefix?: string;
}

interface Built {
  swagger: OpenAPIV2.Document;
  openApi: OpenAPIV3.Document;
}

const built = new WeakMap<readonly ApiOperation[], Built>();

function documentsOf(operations: readonly ApiOperation[]): Built {
  let documents = built.get(operations);
  if (!documents) {
    const model = buildModel(operations, connectorJobDocs);
    documents = { swagger: swaggerDocument(model, 'localhost'), openApi: openApiDocument(model, '/api') };
    built.set(operations, documents);
  }
  return documents;
}

const basePathOf = (target: DocumentTarget) => `${(target.pathPrefix ?? '').replace(/\/+$/, '')}/api`;

export function swaggerFor(operations: readonly ApiOperation[], target: DocumentTarget): OpenAPIV2.Document {
  const { swagger } = documentsOf(operations);
  const { swagger: version, info, host: _host, basePath: _basePath, schemes: _schemes, ...rest } = swagger;
  const where = target.host ? { host: target.host, basePath: basePathOf(target), schemes: [target.scheme ?? 'https'] } : { basePath: basePathOf(target) };
  return { swagger: version, info, ...where, ...rest };
}

export function openApiFor(operations: readonly ApiOperation[], target: DocumentTarget): OpenAPIV3.Document {
  const { openApi } = documentsOf(operations);
  const url = target.host ? `${target.scheme ?? 'https'}://${target.host}${basePathOf(target)}` : basePathOf(target);
  return { ...openApi, servers: [{ url }] };
}

/** Serialised the way the connector package stores it: two-space indent, final newline. */
export function prettyJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
