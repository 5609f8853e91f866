import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, jwtVerify } from 'jose';
import { FaultBook, FaultSpecError, RequestLog, requestLogLimit, type ActiveFault, type FaultRule, type ReceivedRequest } from './emulatorControl';
import { MalformedBatch, parseBatch, runBatch, type BatchStep, type GraphOutcome } from './graphBatch';
import { GraphStore } from './graphStore';
import { listenOnLoopback, readRequestBody, sendJson } from './listen';
import '../functions/index';
import { GraphRefusal } from '../shared/operations/graphFacts';
import type { OperationDefinition } from '../shared/operations/operation';
import { operationDefinitions } from '../shared/operations/registerOperation';
import { SchemaRegistrations } from './schemaRegistration';

/**
 * A local Microsoft Graph for every registered create operation: real HTTP on loopback, Graph's
 * rules as each operation's Graph facts declare them (dev/graphStore.ts: 404 for a missing parent,
 * the duplicate answer, what Graph refuses, generates and fills in, the reads Graph offers),
 * Graph-shaped errors with `request-id`,
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
  /** The create's `x-emulator-origin` tag (which request, or reconciliation, sent it), if it had one. */
  origin?: string;
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
  /** The create operations it serves; default every registered one (functions/index.ts). */
  operations?: readonly OperationDefinition[];
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
  /** How many entities each collection holds, by its facts' `collectionName` (`connections`, `groups`, …). */
  entityCounts(): Record<string, number>;
  /** The entities of one collection (`connectorGroups`). */
  entities(collectionName: string): Record<string, unknown>[];
  /** Adds an entity as if someone had made it elsewhere; `parentIds` name its parents in path order. */
  seed(collectionName: string, entity: Record<string, unknown> & { id: string }, parentIds?: string[]): void;
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
  /** The `x-emulator-origin` tag of the request (a batch's steps carry their envelope's). */
  origin?: string;
}

/** Graph's refusal (the name this file has always used). */
class GraphFailure extends GraphRefusal {}

const versions = new Set(['v1.0', 'beta']);

export async function startGraphEmulator(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
  const requests = new RequestLog(options.requestLogLimit ?? requestLogLimit);
  const faults = new FaultBook();
  const store = new GraphStore(options.operations ?? operationDefinitions);
  let origin = '';
  const pageSize = options.pageSize ?? 100;
  const creations: Creation[] = [];
  let batchCount = 0;
  const counts: GraphCallCounts = { httpCalls: 0, batches: 0, batchSteps: 0 };
  const schemaRegistrations = new SchemaRegistrations({ provisioningMs: options.schemaProvisioningMs }, (id) => {
    const connections = store.collection('connections');
    return connections.entities.get(GraphStore.keyOf(connections, [], id));
  });

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

  /** Graph's behaviour for one request: the answer's status and body. */
  function execute(method: string, version: string, segments: string[], body: Record<string, unknown>, query: URLSearchParams, caller: Caller): [number, unknown] {
    const answer = store.execute({ method, version, segments, body, query, ...(caller.appId ? { appId: caller.appId } : {}) }, { origin, pageSize });
    if (answer) return answer;
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
        creations.push({
          path: `${segments.join('/')}/${encodeURIComponent(id)}`,
          id,
          clientRequestId: ids.clientRequestId,
          ...(ids.origin === undefined ? {} : { origin: ids.origin }),
          at: new Date().toISOString(),
        });
      }
      return { kind: 'answer', status, headers: {}, body: answer };
    } catch (error) {
      if (error instanceof GraphRefusal) return { kind: 'answer', status: error.status, headers: {}, body: errorBody(error.code, error.message, ids) };
      return { kind: 'answer', status: 500, headers: {}, body: errorBody('generalException', error instanceof Error ? error.message : 'failure', ids) };
    }
  }

  /**
   * One request as Graph answers it, its fault step included; the same for a direct request and
   * for a step of a batch. With `commit` the request is carried out once, before the fault: a
   * delay then returns that very answer late; a status, hang, reset or garbage hides it.
   */
  async function answerCall(call: GraphCall, ids: CallIds): Promise<GraphOutcome> {
    const applied = faults.next(call.method, call.path, call.bodyText, ids.origin);
    call.record.fault = applied ?? null;
    const fault = applied?.step;
    const committed = fault?.commit ? await perform(call, ids) : undefined;
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.hang) return { kind: 'hang' };
    if (fault?.reset) return { kind: 'reset' };
    if (fault?.garbage) return { kind: 'garbage' };
    // A success stands in for Graph's answer only where Graph carried the call out: Graph never
    // answers 2xx to a create it refused (a duplicate, a missing parent).
    if (fault?.status && fault.status < 300 && committed?.kind === 'answer' && committed.status >= 300) return committed;
    if (fault?.status) {
      const status = fault.status;
      return {
        kind: 'answer',
        status,
        headers: fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
        ...(fault.bodyText === undefined ? {} : { text: fault.bodyText }),
        body: fault.bodyText !== undefined
          ? fault.bodyText
          : fault.body !== undefined
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
    const stepIds = (step: BatchStep): CallIds => ({
      requestId: randomUUID(),
      clientRequestId: step.headers['client-request-id'] ?? ids.clientRequestId,
      ...(ids.origin === undefined ? {} : { origin: ids.origin }),
    });
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
    const origin = request.headers['x-emulator-origin'];
    const ids: CallIds = {
      requestId: randomUUID(),
      clientRequestId: String(request.headers['client-request-id'] ?? randomUUID()),
      ...(typeof origin === 'string' ? { origin } : {}),
    };
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
    if (outcome.text !== undefined) {
      response.writeHead(outcome.status, { 'content-length': String(Buffer.byteLength(outcome.text)), ...correlation, ...outcome.headers });
      response.end(outcome.text);
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
    entityCounts: () => store.counts(),
    entities: (collectionName) => [...store.collection(collectionName).entities.values()],
    seed: (collectionName, entity, parentIds) => store.seed(store.collection(collectionName), entity, parentIds),
    connectorGroups: () => emulator.entities('connectorGroups'),
    seedConnection: (id, groupIds = []) => {
      emulator.seed('connections', { id, name: id, state: 'draft' });
      for (const groupId of groupIds) emulator.seed('groups', { id: groupId }, [id]);
    },
    creations: () => [...creations],
    schemaRegistrations,
    seedConnectorGroup: (name) => {
      const id = randomUUID();
      emulator.seed('connectorGroups', { id, name, connectorGroupType: 'applicationProxy', isDefault: false, region: 'nam' });
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
      store.clear();
    },
    close: running.close,
  };
  return emulator;
}
