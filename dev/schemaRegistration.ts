import { randomUUID } from 'node:crypto';

/**
 * The Graph emulator's schema registration (docs/graph-facts.md "Connection schema"):
 * `PATCH /{v}/external/connections/{id}/schema` answers 202 with a `Location` naming a
 * connectionOperation, which stays `inprogress` for the provisioning time and then ends
 * `completed` (the schema is readable, the connection `ready`) or `failed` (with an `error`). Graph
 * takes 5 to 15 minutes; the emulator takes `provisioningMs` (default 2 s), and a registration can be
 * made to fail, in-process (`failNext`) or over HTTP (`POST /_emulator/schemaRegistration`).
 */

export interface SchemaRegistrationOptions {
  /** How long an operation stays `inprogress`, in ms (default 2,000). */
  provisioningMs?: number;
}

export interface ConnectionOperation {
  id: string;
  connectionId: string;
  status: 'inprogress' | 'completed' | 'failed';
  error?: { code: string; message: string };
  startedAt: number;
  endsAt: number;
}

/** What the emulator's request handling needs to answer: Graph's status, headers and body. */
export interface EmulatorAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

type ErrorBody = (code: string, message: string) => unknown;

interface PlannedFailure {
  remaining: number;
  message: string;
}

const propertyName = /^[A-Za-z0-9]{1,32}$/;
const baseTypes = new Set(['microsoft.graph.externalItem', 'microsoft.graph.externalConnector.externalItem']);

export class SchemaRegistrations {
  provisioningMs: number;
  private readonly operations = new Map<string, ConnectionOperation>();
  private readonly schemas = new Map<string, { operationId: string; schema: Record<string, unknown> }>();
  /** What a running operation registers when it completes, by operation id. */
  private readonly pendingSchemas = new Map<string, { connectionKey: string; schema: Record<string, unknown> }>();
  private failure: PlannedFailure | undefined;

  constructor(
    options: SchemaRegistrationOptions,
    /** The connection with this id (any letter case), as the emulator stores it. */
    private readonly connectionOf: (id: string) => Record<string, unknown> | undefined,
  ) {
    this.provisioningMs = options.provisioningMs ?? 2_000;
  }

  /** The next `count` registrations end `failed` with `message`. */
  failNext(count = 1, message = 'Schema provisioning failed.'): void {
    this.failure = count > 0 ? { remaining: count, message } : undefined;
  }

  /** Every operation started, oldest first, with its status now. */
  list(): ConnectionOperation[] {
    return [...this.operations.values()].map((operation) => this.settled(operation));
  }

  reset(): void {
    this.operations.clear();
    this.schemas.clear();
    this.failure = undefined;
  }

  /** Graph's answer to a schema or operation request, or undefined when the path is not one. */
  perform(method: string, version: string, segments: string[], bodyText: string, origin: string, errorBody: ErrorBody): EmulatorAnswer | undefined {
    const route = segments.join('/');
    const fail = (status: number, code: string, message: string): EmulatorAnswer => ({ status, headers: {}, body: errorBody(code, message) });
    let match: RegExpExecArray | null;
    if ((match = /^external\/connections\/([^/]+)\/schema$/.exec(route))) {
      const connectionId = decodeURIComponent(match[1]!);
      const connection = this.connectionOf(connectionId);
      if (!connection) return fail(404, 'itemNotFound', 'The requested connection was not found.');
      if (method === 'GET') {
        this.settleAll();
        const stored = this.schemas.get(connectionId.toLowerCase());
        if (!stored) return fail(404, 'itemNotFound', 'The connection has no schema.');
        return { status: 200, headers: {}, body: { '@odata.context': `${origin}/${version}/$metadata#external/connections('${connectionId}')/schema/$entity`, ...stored.schema } };
      }
      if (method !== 'PATCH') return fail(405, 'MethodNotAllowed', `${method} is not supported on the schema.`);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(bodyText) as Record<string, unknown>;
      } catch {
        return fail(400, 'BadRequest', 'Unable to read JSON request payload.');
      }
      const invalid = invalidSchema(body);
      if (invalid) return fail(400, 'invalidRequest', invalid);
      const now = Date.now();
      const planned = this.failure;
      const operation: ConnectionOperation = {
        id: randomUUID(),
        connectionId: String(connection.id),
        status: 'inprogress',
        startedAt: now,
        endsAt: now + this.provisioningMs,
        ...(planned ? { error: { code: 'schemaProvisioningFailed', message: planned.message } } : {}),
      };
      if (planned) {
        planned.remaining -= 1;
        if (planned.remaining <= 0) this.failure = undefined;
      }
      this.operations.set(operation.id, operation);
      this.pendingSchemas.set(operation.id, { connectionKey: connectionId.toLowerCase(), schema: { baseType: body.baseType, properties: body.properties } });
      const location = `${origin}/${version}/external/connections/${encodeURIComponent(String(connection.id))}/operations/${operation.id}`;
      return { status: 202, headers: { location }, body: undefined };
    }
    if ((match = /^external\/connections\/([^/]+)\/operations\/([^/]+)$/.exec(route)) && method === 'GET') {
      const connectionId = decodeURIComponent(match[1]!);
      if (!this.connectionOf(connectionId)) return fail(404, 'itemNotFound', 'The requested connection was not found.');
      const found = this.operations.get(decodeURIComponent(match[2]!));
      if (!found || found.connectionId.toLowerCase() !== connectionId.toLowerCase()) return fail(404, 'itemNotFound', 'The requested operation was not found.');
      const operation = this.settled(found);
      return {
        status: 200,
        headers: {},
        body: {
          '@odata.context': `${origin}/${version}/$metadata#external/connections('${connectionId}')/operations/$entity`,
          id: operation.id,
          status: operation.status,
          ...(operation.status === 'failed' && operation.error ? { error: operation.error } : {}),
        },
      };
    }
    return undefined;
  }

  /** `/_emulator/schemaRegistration`: GET the operations; POST `{ provisioningMs?, failNext?, failMessage? }`. */
  control(method: string, path: string, bodyText: string): EmulatorAnswer | undefined {
    if (path !== '/_emulator/schemaRegistration') return undefined;
    if (method === 'GET') return { status: 200, headers: {}, body: { provisioningMs: this.provisioningMs, value: this.list() } };
    if (method !== 'POST') return { status: 405, headers: { allow: 'GET, POST' }, body: { error: { code: 'MethodNotAllowed', message: `${method} is not supported on ${path}.` } } };
    let settings: { provisioningMs?: unknown; failNext?: unknown; failMessage?: unknown };
    try {
      settings = JSON.parse(bodyText || '{}') as typeof settings;
    } catch {
      return { status: 400, headers: {}, body: { error: { code: 'invalidSettings', message: 'The settings are not valid JSON.' } } };
    }
    const { provisioningMs, failNext, failMessage } = settings;
    const problems = [
      ...(provisioningMs !== undefined && !(Number.isInteger(provisioningMs) && Number(provisioningMs) >= 0) ? ['provisioningMs must be a whole number of ms, 0 or more'] : []),
      ...(failNext !== undefined && !(Number.isInteger(failNext) && Number(failNext) >= 0) ? ['failNext must be a whole number, 0 or more'] : []),
      ...(failMessage !== undefined && typeof failMessage !== 'string' ? ['failMessage must be a string'] : []),
    ];
    if (problems.length > 0) return { status: 400, headers: {}, body: { error: { code: 'invalidSettings', message: problems.join('; ') } } };
    if (typeof provisioningMs === 'number') this.provisioningMs = provisioningMs;
    if (typeof failNext === 'number') this.failNext(failNext, typeof failMessage === 'string' ? failMessage : undefined);
    return { status: 200, headers: {}, body: { provisioningMs: this.provisioningMs, failNext: this.failure?.remaining ?? 0 } };
  }

  /** The operation as it stands now: once its time is up it ends, and a completed one takes effect. */
  private settled(operation: ConnectionOperation): ConnectionOperation {
    if (operation.status !== 'inprogress' || Date.now() < operation.endsAt) return { ...operation };
    operation.status = operation.error ? 'failed' : 'completed';
    const pending = this.pendingSchemas.get(operation.id);
    this.pendingSchemas.delete(operation.id);
    if (operation.status === 'completed' && pending) {
      this.schemas.set(pending.connectionKey, { operationId: operation.id, schema: pending.schema });
      const connection = this.connectionOf(pending.connectionKey);
      if (connection) connection.state = 'ready';
    }
    return { ...operation };
  }

  private settleAll(): void {
    for (const operation of this.operations.values()) this.settled(operation);
  }
}

/** Graph's refusal of a schema body, or undefined when Graph would take it (the rules it checks at once). */
function invalidSchema(body: Record<string, unknown>): string | undefined {
  if (!baseTypes.has(String(body.baseType))) return "The property 'baseType' must be microsoft.graph.externalItem.";
  const properties = body.properties;
  if (!Array.isArray(properties) || properties.length < 1 || properties.length > 128) return 'A schema has 1 to 128 properties.';
  const names = new Set<string>();
  for (const property of properties as Record<string, unknown>[]) {
    const name = String(property?.name ?? '');
    if (!propertyName.test(name)) return `The property name '${name}' is invalid.`;
    if (names.has(name.toLowerCase())) return `The property name '${name}' appears twice.`;
    names.add(name.toLowerCase());
    if (typeof property.type !== 'string') return `The property '${name}' has no type.`;
  }
  return undefined;
}
