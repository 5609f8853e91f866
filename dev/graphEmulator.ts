import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, jwtVerify } from 'jose';
import { FaultBook, FaultSpecError, RequestLog, requestLogLimit, type ActiveFault, type FaultRule, type ReceivedRequest } from './emulatorControl';
import { MalformedBatch, parseBatch, runBatch, type BatchStep, type GraphOutcome } from './graphBatch';
import { listenOnLoopback, readRequestBody, sendJson } from './listen';
import { SchemaRegistrations } from './schemaRegistration';

/**
 * A local Microsoft Graph for the four create operations: real HTTP on loopback, Graph's rules
 * (404 for a missing parent, 409 for a duplicate id or member, generated ids and preset fields
 * for connector groups, `state: draft` for connections), Graph-shaped errors with `request-id`,
 * bearer tokens from the local identity endpoint, and scriptable faults. It records the requests
 * it receives (the last `requestLogLimit`, 1,000 by default, bearer tokens redacted) so tests can
 * prove what never reached it.
 */

export type { ActiveFault, AppliedFault, FaultRule, FaultStep, ReceivedRequest } from './emulatorControl';

/** An entity a create made, and the `client-request-id` of the request that made it. */
export interface Creation {
  /** The created entity's path below the version: `external/connections/c1/groups/g1`. */
  path: string;
  id: string;
  clientRequestId: string;
  at: string;
}

/** How many calls reached Graph: over HTTP (a batch counts once) and as batch steps. */
export interface GraphCallCounts {
  /** HTTP requests to Graph: direct requests and `$batch` envelopes. */
  httpCalls: number;
  /** `$batch` envelopes among them. */
  batches: number;
  /** Steps carried out from batches (not those answered 424 or refused for a missing Content-Type). */
  batchSteps: number;
}

export interface GraphEmulatorOptions {
  port?: number;
  /** Key of the local identity endpoint's tokens; absent → any bearer token is accepted. */
  tokenSigningKey?: Uint8Array;
  /** Entities per page of a list (default 100). */
  pageSize?: number;
  /** Requests the log keeps, the most recent ones (default `requestLogLimit`, 1,000). */
  requestLogLimit?: number;
  /**
   * Graph's own time to answer, in ms: each HTTP request to Graph (a `$batch` envelope once, not
   * per step) waits this long before it is carried out. Default 0.
   */
  latencyMs?: number;
  /** How long a schema registration stays `inprogress`, in ms (dev/schemaRegistration.ts; default 2,000). */
  schemaProvisioningMs?: number;
}

export interface GraphEmulator {
  /** Value for `GRAPH_BASE_URL`. */
  baseUrl: string;
  /** The last requests received (see `requestLogLimit`), oldest first. */
  readonly requests: readonly ReceivedRequest[];
  /** Requests received since the start or the last reset, including those the log no longer holds. */
  readonly receivedCount: number;
  /**
   * Requests to Graph proper (not the emulator's own control routes), from the log: direct
   * requests, `$batch` envelopes and each step a batch carried out, as Graph saw them.
   */
  graphRequests(filter?: { method?: string; path?: RegExp }): ReceivedRequest[];
  /** The HTTP requests to Graph (a batch is one): what a client paid in round trips. */
  graphHttpCalls(filter?: { method?: string; path?: RegExp }): ReceivedRequest[];
  /** The steps batches carried out, each with its `batchStep`. */
  batchSteps(filter?: { method?: string; path?: RegExp }): ReceivedRequest[];
  /** Calls since the start or the last reset, also those the request log no longer holds. */
  callCounts(): GraphCallCounts;
  /** Adds a fault after checking it in full; throws `FaultSpecError` with every reason. */
  addFault(rule: FaultRule): ActiveFault;
  /** The faults with steps left. */
  faults(): ActiveFault[];
  /** How many entities of each kind exist. */
  entityCounts(): Record<keyof Stored, number>;
  /** The connector groups that exist. */
  connectorGroups(): Record<string, unknown>[];
  /** Creates a connector group as if someone had made it elsewhere (the portal, another tool). */
  seedConnectorGroup(name: string): string;
  /** Creates a connection, and optionally groups in it, as if made elsewhere. */
  seedConnection(id: string, groupIds?: string[]): void;
  /** Every entity a create request made, in order, with the request that made it. */
  creations(): Creation[];
  /** Schema registrations and their connection operations (provisioning time, planned failures). */
  readonly schemaRegistrations: SchemaRegistrations;
  clearFaults(): void;
  /** Forget every entity, request and fault. */
  reset(): void;
  close(): Promise<void>;
}

interface Caller {
  appId?: string;
}

/** One request as the emulator carries it out: a direct request or a step of a batch. */
interface GraphCall {
  method: string;
  /** Version included: `/v1.0/external/connections`. */
  path: string;
  query: URLSearchParams;
  contentType: string;
  bodyText: string;
  caller: Caller;
  /** Where the request's fault is noted. */
  record: ReceivedRequest;
}

interface CallIds {
  requestId: string;
  clientRequestId: string;
}

interface Stored {
  connections: Map<string, Record<string, unknown>>;
  groups: Map<string, Record<string, unknown>>;
  members: Map<string, Record<string, unknown>>;
  connectorGroups: Map<string, Record<string, unknown>>;
}

class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const versions = new Set(['v1.0', 'beta']);
const connectionIdRule = /^[A-Za-z0-9]{3,32}$/;
const groupIdRule = /^[A-Za-z0-9_-]{1,128}$/;
const guidRule = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireString(body: Record<string, unknown>, property: string, rule?: RegExp): string {
  const value = body[property];
  if (typeof value !== 'string' || value.length === 0) {
    throw new GraphFailure(400, 'invalidRequest', `The property '${property}' is required.`);
  }
  if (rule && !rule.test(value)) {
    throw new GraphFailure(400, 'invalidRequest', `The value of '${property}' is invalid.`);
  }
  return value;
}

function rejectReadOnly(body: Record<string, unknown>, ...properties: string[]): void {
  for (const property of properties) {
    if (property in body) throw new GraphFailure(400, 'invalidRequest', `The property '${property}' is read-only.`);
  }
}

export async function startGraphEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const requests = new RequestLog(options.requestLogLimit ?? requestLogLimit);
  const faults = new FaultBook();
  const store: Stored = { connections: new Map(), groups: new Map(), members: new Map(), connectorGroups: new Map() };
  let origin = '';
  const pageSize = options.pageSize ?? 100;
  const creations: Creation[] = [];
  let batchCount = 0;
  const counts: GraphCallCounts = { httpCalls: 0, batches: 0, batchSteps: 0 };
  const schemaRegistrations = new SchemaRegistrations({ provisioningMs: options.schemaProvisioningMs }, (id) => store.connections.get(id.toLowerCase()));

  /** The calling app, from its bearer token: the client app id (`appid`/`azp`) when the token names one. */
  async function authorize(request: IncomingMessage): Promise<Caller> {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    if (!token) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    let claims: Record<string, unknown>;
    try {
      claims = options.tokenSigningKey
        ? (await jwtVerify(token, options.tokenSigningKey, { audience: origin, algorithms: ['HS256'] })).payload
        : decodeJwt(token);
    } catch {
      if (!options.tokenSigningKey) return {}; // any bearer token is accepted then
      throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience or signature.');
    }
    const appId = claims.appid ?? claims.azp;
    return typeof appId === 'string' ? { appId } : {};
  }

  const entityAt = (map: Map<string, Record<string, unknown>>, key: string, what: string) => {
    const entity = map.get(key);
    if (!entity) throw new GraphFailure(404, 'itemNotFound', `The requested ${what} was not found.`);
    return entity;
  };

  /** Graph's behaviour for one request: the answer's status and body. */
  function execute(method: string, version: string, segments: string[], body: Record<string, unknown>, query: URLSearchParams, caller: Caller): [number, unknown] {
    const route = segments.join('/');
    const context = (entitySet: string) => `${origin}/${version}/$metadata#${entitySet}/$entity`;
    let match: RegExpExecArray | null;

    if (route === 'external/connections' && method === 'POST') {
      const id = requireString(body, 'id', connectionIdRule);
      requireString(body, 'name');
      rejectReadOnly(body, 'state');
      if (store.connections.has(id.toLowerCase())) {
        throw new GraphFailure(409, 'nameAlreadyExists', `A connection with id '${id}' already exists.`);
      }
      // Graph authorizes the creating app on its connection: its create example answers with
      // configuration.authorizedAppIds filled in although the request sent none (graph-api.md §1).
      const configuration = body.configuration as { authorizedAppIds?: unknown } | null | undefined;
      const authorizedAppIds = Array.isArray(configuration?.authorizedAppIds) && configuration.authorizedAppIds.length > 0
        ? configuration.authorizedAppIds
        : caller.appId ? [caller.appId] : [];
      const connection = { ...body, id, state: 'draft', configuration: { ...configuration, authorizedAppIds } };
      store.connections.set(id.toLowerCase(), connection);
      return [201, { '@odata.context': context('external/connections'), ...connection }];
    }
    if ((match = /^external\/connections\/([^/]+)$/.exec(route)) && method === 'GET') {
      const connection = entityAt(store.connections, decodeURIComponent(match[1]!).toLowerCase(), 'connection');
      return [200, { '@odata.context': context('external/connections'), ...connection }];
    }
    if ((match = /^external\/connections\/([^/]+)\/groups$/.exec(route)) && method === 'POST') {
      const connectionId = decodeURIComponent(match[1]!);
      entityAt(store.connections, connectionId.toLowerCase(), 'connection');
      const id = requireString(body, 'id', groupIdRule);
      const key = `${connectionId.toLowerCase()}/${id}`;
      if (store.groups.has(key)) throw new GraphFailure(409, 'Conflict', `A group with id '${id}' already exists.`);
      const group = { ...body, id };
      store.groups.set(key, group);
      return [201, { '@odata.context': context(`external/connections('${connectionId}')/groups`), ...group }];
    }
    if ((match = /^external\/connections\/([^/]+)\/groups\/([^/]+)$/.exec(route)) && method === 'GET') {
      const group = entityAt(store.groups, `${decodeURIComponent(match[1]!).toLowerCase()}/${decodeURIComponent(match[2]!)}`, 'group');
      return [200, group];
    }
    if ((match = /^external\/connections\/([^/]+)\/groups\/([^/]+)\/members$/.exec(route)) && method === 'POST') {
      const groupKey = `${decodeURIComponent(match[1]!).toLowerCase()}/${decodeURIComponent(match[2]!)}`;
      entityAt(store.connections, decodeURIComponent(match[1]!).toLowerCase(), 'connection');
      entityAt(store.groups, groupKey, 'group');
      const type = requireString(body, 'type');
      if (!['user', 'group', 'externalGroup'].includes(type)) {
        throw new GraphFailure(400, 'invalidRequest', `The value '${type}' of 'type' is invalid.`);
      }
      const id = requireString(body, 'id', type === 'externalGroup' ? groupIdRule : guidRule);
      const key = `${groupKey}/${id}`;
      if (store.members.has(key)) throw new GraphFailure(409, 'Conflict', `'${id}' is already a member.`);
      const member = { id, type };
      store.members.set(key, member);
      return [201, { '@odata.context': context('external/connections/groups/members'), ...member }];
    }
    // Graph documents no read of one member (the identity resource has create and delete only).
    if (route.startsWith('onPremisesPublishingProfiles/applicationProxy/connectorGroups') && version !== 'beta') {
      throw new GraphFailure(400, 'BadRequest', "Resource not found for the segment 'onPremisesPublishingProfiles'.");
    }
    if (route === 'onPremisesPublishingProfiles/applicationProxy/connectorGroups' && method === 'POST') {
      const name = requireString(body, 'name');
      // isDefault is accepted and ignored: Graph sets it, and a new group is never the default (graph-api.md §4).
      rejectReadOnly(body, 'id', 'connectorGroupType');
      if ('isDefault' in body && typeof body.isDefault !== 'boolean') {
        throw new GraphFailure(400, 'BadRequest', "The value of 'isDefault' is invalid.");
      }
      const group = {
        id: randomUUID(),
        name,
        connectorGroupType: 'applicationProxy',
        isDefault: false,
        region: typeof body.region === 'string' ? body.region : 'nam',
      };
      store.connectorGroups.set(group.id, group);
      return [201, { '@odata.context': context('onPremisesPublishingProfiles/applicationProxy/connectorGroups'), ...group }];
    }
    if (route === 'onPremisesPublishingProfiles/applicationProxy/connectorGroups' && method === 'GET') {
      // Paged like Graph: a page, and an @odata.nextLink while more remain.
      const all = [...store.connectorGroups.values()];
      const skip = Number(query.get('$skiptoken') ?? 0);
      const page = all.slice(skip, skip + pageSize);
      const more = skip + pageSize < all.length;
      return [200, { value: page, ...(more ? { '@odata.nextLink': `${origin}/${version}/${route}?$skiptoken=${skip + pageSize}` } : {}) }];
    }
    if ((match = /^onPremisesPublishingProfiles\/applicationProxy\/connectorGroups\/([^/]+)$/.exec(route)) && method === 'GET') {
      return [200, entityAt(store.connectorGroups, decodeURIComponent(match[1]!), 'connector group')];
    }
    throw new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${segments[0] ?? ''}'.`);
  }

  /** Graph's error body, with the correlation ids of the request it answers. */
  const errorBody = (code: string, message: string, ids: CallIds) => ({
    error: {
      code,
      message,
      innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId },
    },
  });

  /** Graph's logic for one request, faults aside; its refusals come back as Graph-shaped errors. */
  async function perform(call: GraphCall, ids: CallIds): Promise<GraphOutcome> {
    try {
      const [version = '', ...segments] = call.path.split('/').filter(Boolean);
      if (!versions.has(version)) throw new GraphFailure(400, 'BadRequest', `Invalid version: ${version}`);
      let body: Record<string, unknown> = {};
      if (call.method === 'POST') {
        if (!/^application\/json/i.test(call.contentType)) {
          throw new GraphFailure(415, 'UnsupportedMediaType', 'Content-Type must be application/json.');
        }
        try {
          body = JSON.parse(call.bodyText) as Record<string, unknown>;
        } catch {
          throw new GraphFailure(400, 'BadRequest', 'Unable to read JSON request payload.');
        }
      }
      if (segments.length === 1 && segments[0] === '$batch' && call.method === 'POST') return await performBatch(version, body, call, ids);
      const schemaAnswer = schemaRegistrations.perform(call.method, version, segments, call.bodyText, origin, (code, message) => errorBody(code, message, ids));
      if (schemaAnswer) return { kind: 'answer', ...schemaAnswer };
      const [status, answer] = execute(call.method, version, segments, body, call.query, call.caller);
      const id = (answer as { id?: unknown } | undefined)?.id;
      if (call.method === 'POST' && status === 201 && typeof id === 'string') {
        creations.push({ path: `${segments.join('/')}/${encodeURIComponent(id)}`, id, clientRequestId: ids.clientRequestId, at: new Date().toISOString() });
      }
      return { kind: 'answer', status, headers: {}, body: answer };
    } catch (error) {
      if (error instanceof GraphFailure) return { kind: 'answer', status: error.status, headers: {}, body: errorBody(error.code, error.message, ids) };
      return { kind: 'answer', status: 500, headers: {}, body: errorBody('generalException', error instanceof Error ? error.message : 'failure', ids) };
    }
  }

  /**
   * One request as Graph answers it, its fault step included; the same for a direct request and
   * for a step of a batch. With `commit` the request is carried out once, before the fault: a
   * delay then returns that very answer late; a status, hang, reset or garbage hides it.
   */
  async function answerCall(call: GraphCall, ids: CallIds): Promise<GraphOutcome> {
    const applied = faults.next(call.method, call.path, call.bodyText);
    call.record.fault = applied ?? null;
    const fault = applied?.step;
    const committed = fault?.commit ? await perform(call, ids) : undefined;
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.hang) return { kind: 'hang' };
    if (fault?.reset) return { kind: 'reset' };
    if (fault?.garbage) return { kind: 'garbage' };
    if (fault?.status) {
      const status = fault.status;
      return {
        kind: 'answer',
        status,
        headers: fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
        body: fault.body !== undefined
          ? fault.body
          : errorBody(status === 429 ? 'TooManyRequests' : status === 503 ? 'serviceNotAvailable' : 'generalException', 'Injected fault.', ids),
      };
    }
    return committed ?? perform(call, ids);
  }

  /** `POST /{version}/$batch`: each step recorded and answered as a request of its own (dev/graphBatch.ts). */
  async function performBatch(version: string, payload: unknown, envelope: GraphCall, ids: CallIds): Promise<GraphOutcome> {
    let steps: BatchStep[];
    try {
      steps = parseBatch(version, payload);
    } catch (error) {
      if (error instanceof MalformedBatch) throw new GraphFailure(400, 'BadRequest', error.message);
      throw error;
    }
    batchCount += 1;
    const batch = batchCount;
    const stepIds = (step: BatchStep): CallIds => ({ requestId: randomUUID(), clientRequestId: step.headers['client-request-id'] ?? ids.clientRequestId });
    return runBatch(steps, {
      seed: batch,
      errorBody: (_status, code, message, step) => errorBody(code, message, stepIds(step)),
      runStep: async (step) => {
        const bodyText = step.hasBody ? JSON.stringify(step.body) : '';
        counts.batchSteps += 1;
        const record = requests.record({
          method: step.method,
          path: step.path,
          headers: step.headers,
          bodyText,
          receivedAt: new Date().toISOString(),
          remotePort: envelope.record.remotePort,
          batchStep: { batch, id: step.id },
        });
        const outcome = await answerCall(
          { method: step.method, path: step.path, query: step.query, contentType: step.headers['content-type'] ?? '', bodyText, caller: envelope.caller, record },
          stepIds(step),
        );
        if (outcome.kind === 'answer') record.status = outcome.status;
        return outcome;
      },
    });
  }

  const latencyMs = options.latencyMs ?? 0;
  const answerLatency = () => (latencyMs > 0 ? new Promise((resolve) => setTimeout(resolve, latencyMs)) : undefined);

  async function handleGraph(request: IncomingMessage, response: ServerResponse, path: string, query: URLSearchParams, bodyText: string, record: ReceivedRequest): Promise<void> {
    const ids: CallIds = { requestId: randomUUID(), clientRequestId: String(request.headers['client-request-id'] ?? randomUUID()) };
    const correlation = { 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId };
    let caller: Caller;
    try {
      caller = await authorize(request);
    } catch (error) {
      const failure = error instanceof GraphFailure ? error : new GraphFailure(500, 'generalException', 'failure');
      await answerLatency();
      sendJson(response, failure.status, errorBody(failure.code, failure.message, ids), correlation);
      return;
    }
    const method = request.method ?? 'GET';
    const outcome = await answerCall(
      { method, path, query, contentType: String(request.headers['content-type'] ?? ''), bodyText, caller, record },
      ids,
    );
    if (outcome.kind === 'hang') return; // the socket stays open until the caller gives up or the emulator closes
    await answerLatency();
    if (outcome.kind === 'reset') {
      request.socket.destroy();
      return;
    }
    if (outcome.kind === 'garbage') {
      request.socket.end('this is not an HTTP answer\r\n\r\n');
      return;
    }
    sendJson(response, outcome.status, outcome.body, { ...correlation, ...outcome.headers });
  }

  const running = await listenOnLoopback((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const bodyText = (await readRequestBody(request)).toString('utf8');
      if (url.pathname.startsWith('/_emulator/')) {
        handleControl(request.method ?? 'GET', url.pathname, url.searchParams, bodyText, response);
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]),
      );
      const record = requests.record({
        method: request.method ?? 'GET',
        path: url.pathname,
        headers,
        bodyText,
        receivedAt: new Date().toISOString(),
        remotePort: request.socket.remotePort,
      });
      counts.httpCalls += 1;
      if (/^\/(v1\.0|beta)\/\$batch$/.test(url.pathname)) counts.batches += 1;
      response.once('finish', () => {
        record.status = response.statusCode;
      });
      if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
      await handleGraph(request, response, url.pathname, url.searchParams, bodyText, record);
    })().catch(() => response.destroy());
  });
  origin = running.origin;

  const controlError = (response: ServerResponse, status: number, code: string, message: string, details: string[] = [], headers: Record<string, string> = {}) =>
    sendJson(response, status, { error: { code, message, ...(details.length > 0 ? { details: details.map((detail) => ({ code, message: detail })) } : {}) } }, headers);

  /** `/_emulator/*`: the faults in force, the requests received, and reset. */
  function handleControl(method: string, path: string, query: URLSearchParams, bodyText: string, response: ServerResponse): void {
    const schemaControl = schemaRegistrations.control(method, path, bodyText);
    if (schemaControl) return sendJson(response, schemaControl.status, schemaControl.body, schemaControl.headers);
    const faultById = /^\/_emulator\/faults\/(\d+)$/.exec(path);
    const routes: Record<string, string[]> = {
      '/_emulator/requests': ['GET'],
      '/_emulator/faults': ['GET', 'POST', 'DELETE'],
      '/_emulator/reset': ['POST'],
    };
    if (path === '/_emulator/requests' && method === 'GET') {
      const last = Number(query.get('last') ?? requests.limit);
      const entries = requests.entries;
      return sendJson(response, 200, entries.slice(Math.max(0, entries.length - (Number.isInteger(last) && last > 0 ? last : requests.limit))));
    }
    if (path === '/_emulator/faults' && method === 'GET') return sendJson(response, 200, { value: faults.list() });
    if (path === '/_emulator/faults' && method === 'POST') {
      let rule: unknown;
      try {
        rule = JSON.parse(bodyText);
      } catch (error) {
        return controlError(response, 400, 'invalidFault', `The fault is not valid JSON: ${(error as Error).message}`);
      }
      try {
        return sendJson(response, 201, faults.add(rule));
      } catch (error) {
        if (error instanceof FaultSpecError) return controlError(response, 400, 'invalidFault', error.message, error.reasons);
        throw error;
      }
    }
    if (path === '/_emulator/faults' && method === 'DELETE') {
      emulator.clearFaults();
      return sendJson(response, 204, undefined);
    }
    if (faultById && method === 'DELETE') {
      return faults.remove(Number(faultById[1]))
        ? sendJson(response, 204, undefined)
        : controlError(response, 404, 'itemNotFound', `No fault ${faultById[1]} is in force.`);
    }
    if (path === '/_emulator/reset' && method === 'POST') {
      emulator.reset();
      return sendJson(response, 204, undefined);
    }
    const allowed = routes[path] ?? (faultById ? ['DELETE'] : undefined);
    if (allowed) return controlError(response, 405, 'MethodNotAllowed', `${method} is not supported on ${path}.`, [], { allow: allowed.join(', ') });
    controlError(response, 404, 'UnknownRoute', `No emulator control route ${path}; there are ${Object.keys(routes).join(', ')} and /_emulator/faults/{id}.`);
  }

  const matches = (request: ReceivedRequest, filter: { method?: string; path?: RegExp }) =>
    (!filter.method || request.method === filter.method) && (!filter.path || filter.path.test(request.path));

  const emulator: GraphEmulator = {
    baseUrl: running.origin,
    get requests() {
      return requests.entries;
    },
    get receivedCount() {
      return requests.received;
    },
    graphRequests: (filter = {}) => requests.entries.filter((request) => matches(request, filter)),
    graphHttpCalls: (filter = {}) => requests.entries.filter((request) => !request.batchStep && matches(request, filter)),
    batchSteps: (filter = {}) => requests.entries.filter((request) => Boolean(request.batchStep) && matches(request, filter)),
    callCounts: () => ({ ...counts }),
    addFault: (rule) => faults.add(rule),
    faults: () => faults.list(),
    entityCounts: () => ({
      connections: store.connections.size,
      groups: store.groups.size,
      members: store.members.size,
      connectorGroups: store.connectorGroups.size,
    }),
    connectorGroups: () => [...store.connectorGroups.values()],
    seedConnection: (id, groupIds = []) => {
      store.connections.set(id.toLowerCase(), { id, name: id, state: 'draft' });
      for (const groupId of groupIds) store.groups.set(`${id.toLowerCase()}/${groupId}`, { id: groupId });
    },
    creations: () => [...creations],
    schemaRegistrations,
    seedConnectorGroup: (name) => {
      const id = randomUUID();
      store.connectorGroups.set(id, { id, name, connectorGroupType: 'applicationProxy', isDefault: false, region: 'nam' });
      return id;
    },
    clearFaults: () => {
      faults.clear();
    },
    reset: () => {
      requests.clear();
      creations.length = 0;
      batchCount = 0;
      Object.assign(counts, { httpCalls: 0, batches: 0, batchSteps: 0 });
      faults.clear();
      schemaRegistrations.reset();
      for (const map of Object.values(store)) map.clear();
    },
    close: running.close,
  };
  return emulator;
}
