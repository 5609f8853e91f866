import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import { MalformedBatch, parseBatch, runBatch, type BatchStep, type GraphOutcome } from './graphBatch';
import { listenOnLoopback, readRequestBody, sendJson } from './listen';

/**
 * A local Microsoft Graph for the four create operations: real HTTP on loopback, Graph's rules
 * (404 for a missing parent, 409 for a duplicate id or member, generated ids and preset fields
 * for connector groups, `state: draft` for connections), Graph-shaped errors with `request-id`,
 * bearer tokens from the local identity endpoint, and scriptable faults. It records every
 * request it receives so tests can prove what never reached it.
 */

export interface FaultStep {
  /** Answer with this status and a Graph-shaped error (or `body`). */
  status?: number;
  retryAfter?: string;
  body?: unknown;
  /**
   * Wait this long before answering (alone: a slow but otherwise normal answer; with `commit`: the
   * request is carried out first and its own answer comes late).
   */
  delayMs?: number;
  /** Never answer. */
  hang?: boolean;
  /** Destroy the connection without an answer. */
  reset?: boolean;
  /** Carry out the request (create the entity) before the fault: the outcome the caller cannot see. */
  commit?: boolean;
}

export interface FaultRule {
  method?: string;
  /** Regular expression tested against the path, version included: `^/v1\.0/external/connections$`. */
  path: string;
  steps: FaultStep[];
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  receivedAt: string;
  /** The client's port: the same port on two requests means one kept-alive connection. */
  remotePort: number | undefined;
  /** Set on a step of a JSON batch: the batch's number (1, 2, … in this emulator) and the step's id. */
  batchStep?: { batch: number; id: string };
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
}

export interface GraphEmulator {
  /** Value for `GRAPH_BASE_URL`. */
  baseUrl: string;
  readonly requests: readonly ReceivedRequest[];
  /**
   * Requests to Graph proper (not the emulator's own control routes): direct requests, `$batch`
   * envelopes and each step a batch carried out, as Graph saw them.
   */
  graphRequests(filter?: { method?: string; path?: RegExp }): ReceivedRequest[];
  /** The HTTP requests to Graph (a batch is one): what a client paid in round trips. */
  graphHttpCalls(filter?: { method?: string; path?: RegExp }): ReceivedRequest[];
  /** The steps batches carried out, each with its `batchStep`. */
  batchSteps(filter?: { method?: string; path?: RegExp }): ReceivedRequest[];
  callCounts(): GraphCallCounts;
  addFault(rule: FaultRule): void;
  /** How many entities of each kind exist. */
  entityCounts(): Record<keyof Stored, number>;
  /** The connector groups that exist. */
  connectorGroups(): Record<string, unknown>[];
  /** Creates a connector group as if someone had made it elsewhere (the portal, another tool). */
  seedConnectorGroup(name: string): string;
  clearFaults(): void;
  /** Forget every entity, request and fault. */
  reset(): void;
  close(): Promise<void>;
}

interface Stored {
  connections: Map<string, Record<string, unknown>>;
  groups: Map<string, Record<string, unknown>>;
  members: Map<string, Record<string, unknown>>;
  connectorGroups: Map<string, Record<string, unknown>>;
}

/** One request as the emulator carries it out: a direct request or a step of a batch. */
interface GraphCall {
  method: string;
  /** Version included: `/v1.0/external/connections`. */
  path: string;
  query: URLSearchParams;
  contentType: string;
  bodyText: string;
  remotePort: number | undefined;
}

interface CallIds {
  requestId: string;
  clientRequestId: string;
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
  const requests: ReceivedRequest[] = [];
  let faults: FaultRule[] = [];
  let batchCount = 0;
  const store: Stored = { connections: new Map(), groups: new Map(), members: new Map(), connectorGroups: new Map() };
  let origin = '';
  const pageSize = options.pageSize ?? 100;

  const nextFault = (method: string, path: string): FaultStep | undefined => {
    for (const rule of faults) {
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      if (!new RegExp(rule.path).test(path)) continue;
      const step = rule.steps.shift();
      if (step) return step;
    }
    return undefined;
  };

  async function authorize(request: IncomingMessage): Promise<void> {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    if (!token) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    if (!options.tokenSigningKey) return;
    try {
      await jwtVerify(token, options.tokenSigningKey, { audience: origin, algorithms: ['HS256'] });
    } catch {
      throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience or signature.');
    }
  }

  const entityAt = (map: Map<string, Record<string, unknown>>, key: string, what: string) => {
    const entity = map.get(key);
    if (!entity) throw new GraphFailure(404, 'itemNotFound', `The requested ${what} was not found.`);
    return entity;
  };

  /** Graph's behaviour for one request: the answer's status and body. */
  function execute(method: string, version: string, segments: string[], body: Record<string, unknown>, query: URLSearchParams): [number, unknown] {
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
      const connection = { ...body, id, state: 'draft' };
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
      rejectReadOnly(body, 'id', 'isDefault', 'connectorGroupType');
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
      const [status, answer] = execute(call.method, version, segments, body, call.query);
      return { kind: 'answer', status, headers: {}, body: answer };
    } catch (error) {
      if (error instanceof GraphFailure) return { kind: 'answer', status: error.status, headers: {}, body: errorBody(error.code, error.message, ids) };
      return { kind: 'answer', status: 500, headers: {}, body: errorBody('generalException', error instanceof Error ? error.message : 'failure', ids) };
    }
  }

  /**
   * One request as Graph answers it, its fault step included; the same for a direct request and
   * for a step of a batch. With `commit` the request is carried out once, before the fault: a
   * delay then returns that very answer late, a status or reset hides it.
   */
  async function answerCall(call: GraphCall, ids: CallIds): Promise<GraphOutcome> {
    const fault = nextFault(call.method, call.path);
    const committed = fault?.commit ? await perform(call, ids) : undefined;
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.hang) return { kind: 'hang' };
    if (fault?.reset) return { kind: 'reset' };
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
      runStep: (step) => {
        const bodyText = step.hasBody ? JSON.stringify(step.body) : '';
        requests.push({
          method: step.method,
          path: step.path,
          headers: step.headers,
          body: step.hasBody ? step.body : undefined,
          receivedAt: new Date().toISOString(),
          remotePort: envelope.remotePort,
          batchStep: { batch, id: step.id },
        });
        return answerCall(
          { method: step.method, path: step.path, query: step.query, contentType: step.headers['content-type'] ?? '', bodyText, remotePort: envelope.remotePort },
          stepIds(step),
        );
      },
    });
  }

  async function handleGraph(request: IncomingMessage, response: ServerResponse, path: string, query: URLSearchParams, bodyText: string): Promise<void> {
    const ids: CallIds = { requestId: randomUUID(), clientRequestId: String(request.headers['client-request-id'] ?? randomUUID()) };
    const correlation = { 'request-id': ids.requestId, 'client-request-id': ids.clientRequestId };
    try {
      await authorize(request);
    } catch (error) {
      const failure = error instanceof GraphFailure ? error : new GraphFailure(500, 'generalException', 'failure');
      sendJson(response, failure.status, errorBody(failure.code, failure.message, ids), correlation);
      return;
    }
    const method = request.method ?? 'GET';
    const outcome = await answerCall(
      { method, path, query, contentType: String(request.headers['content-type'] ?? ''), bodyText, remotePort: request.socket.remotePort },
      ids,
    );
    if (outcome.kind === 'hang') return; // the socket stays open until the caller gives up or the emulator closes
    if (outcome.kind === 'reset') {
      request.socket.destroy();
      return;
    }
    sendJson(response, outcome.status, outcome.body, { ...correlation, ...outcome.headers });
  }

  const running = await listenOnLoopback((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const bodyText = (await readRequestBody(request)).toString('utf8');
      if (url.pathname.startsWith('/_emulator/')) {
        handleControl(request.method ?? 'GET', url.pathname, bodyText, response);
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]),
      );
      let body: unknown = bodyText;
      try {
        body = bodyText ? JSON.parse(bodyText) : undefined;
      } catch {
        // Recorded as received.
      }
      requests.push({
        method: request.method ?? 'GET',
        path: url.pathname,
        headers,
        body,
        receivedAt: new Date().toISOString(),
        remotePort: request.socket.remotePort,
      });
      await handleGraph(request, response, url.pathname, url.searchParams, bodyText);
    })().catch(() => response.destroy());
  });
  origin = running.origin;

  function handleControl(method: string, path: string, bodyText: string, response: ServerResponse): void {
    if (path === '/_emulator/requests' && method === 'GET') return sendJson(response, 200, requests);
    if (path === '/_emulator/faults' && method === 'POST') {
      emulator.addFault(JSON.parse(bodyText) as FaultRule);
      return sendJson(response, 204, undefined);
    }
    if (path === '/_emulator/faults' && method === 'DELETE') {
      emulator.clearFaults();
      return sendJson(response, 204, undefined);
    }
    if (path === '/_emulator/reset' && method === 'POST') {
      emulator.reset();
      return sendJson(response, 204, undefined);
    }
    sendJson(response, 404, { error: 'unknown emulator control route' });
  }

  const matches = (request: ReceivedRequest, filter: { method?: string; path?: RegExp }) =>
    (!filter.method || request.method === filter.method) && (!filter.path || filter.path.test(request.path));

  const emulator: GraphEmulator = {
    baseUrl: running.origin,
    get requests() {
      return requests;
    },
    graphRequests: (filter = {}) => requests.filter((request) => matches(request, filter)),
    graphHttpCalls: (filter = {}) => requests.filter((request) => !request.batchStep && matches(request, filter)),
    batchSteps: (filter = {}) => requests.filter((request) => Boolean(request.batchStep) && matches(request, filter)),
    callCounts: () => ({
      httpCalls: requests.filter((request) => !request.batchStep).length,
      batches: requests.filter((request) => !request.batchStep && /^\/(v1\.0|beta)\/\$batch$/.test(request.path)).length,
      batchSteps: requests.filter((request) => request.batchStep).length,
    }),
    addFault: (rule) => {
      faults.push({ ...rule, steps: [...rule.steps] });
    },
    entityCounts: () => ({
      connections: store.connections.size,
      groups: store.groups.size,
      members: store.members.size,
      connectorGroups: store.connectorGroups.size,
    }),
    connectorGroups: () => [...store.connectorGroups.values()],
    seedConnectorGroup: (name) => {
      const id = randomUUID();
      store.connectorGroups.set(id, { id, name, connectorGroupType: 'applicationProxy', isDefault: false, region: 'nam' });
      return id;
    },
    clearFaults: () => {
      faults = [];
    },
    reset: () => {
      requests.length = 0;
      faults = [];
      for (const map of Object.values(store)) map.clear();
    },
    close: running.close,
  };
  return emulator;
}
