import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { RestError, TableClient } from '@azure/data-tables';
import type { PipelineRequest, PipelineResponse, SendRequest } from '@azure/core-rest-pipeline';
import type { Interleaving } from './interleaving';
import { startAzurite, type RunningAzurite } from '../../dev/azurite';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../dev/identityEndpoint';
import { startDevTokenIssuer, type DevTokenIssuer } from '../../dev/tokenIssuer';
import { createRuntime, tableStores, type Runtime } from '../../shared/runtime';
import type { GraphTransport } from '../../shared/graph/transport';
import { asyncWorkQueueName, Queues, type SendOptions, type SentMessage } from '../../shared/storage/queue';
import { Table, type TablePolicy } from '../../shared/storage/table';
import type { Clock } from '../../shared/time/clock';
import type { Crash, TableFault } from './schedule';
import type { BulkJobMessage } from '../../shared/bulk/job';

/**
 * What the simulation runs in: one Azurite, one Graph emulator, one identity endpoint and one token
 * issuer for the whole run; per schedule a fresh audit table and two instances of the app (each
 * its own runtime: table client, Graph client, token cache) sharing it, on a clock the schedule
 * moves forward.
 */

/** Real time plus what the schedule has let pass. */
export class ScheduleClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

/**
 * What one request (or reconciliation run, or job run) carries through the pipeline, for the fault
 * policy, the crash points and the oracle's tag.
 */
export interface RequestScope {
  /** Where a create Graph receives came from (`x-emulator-origin`): `request 3`, `reconciliation`, `job 5`. */
  origin: string;
  tableFaults: TableFault[];
  /** Storage calls (table and queue) made so far. */
  tableCalls: number;
  /** Graph attempts made so far. */
  graphAttempts: number;
  crash: Crash | null;
  /** Called at the crash point: the instance is gone; resolves only if the request resumes. */
  freeze(): Promise<void>;
  /** The schedule's order of calls: recorded, or enforced when replaying a failure. */
  interleaving: Interleaving;
  /** Told of each storage fault as it is applied (what the schedule actually reached). */
  noteFault?: (kind: TableFault['kind'], whilePaused: boolean) => void;
  /** The run is paused (its crash point's `pauseMs`): a `whilePaused` fault hits its first storage call meanwhile. */
  paused?: boolean;
  pausedFaultTaken?: boolean;
  /** Slow storage: each storage call waits this long first. */
  storageDelayMs?: number;
  /** The schedule's storage calls as they land, shared by all its scopes (for `late` calls). */
  wire?: StorageWire;
  /** Told of each `late` call when it goes on: whether another origin's write landed while it was held. */
  noteLate?: (overtaken: boolean) => void;
}

/** How long the wire must be quiet (no other origin's call landing) before a late call goes on. */
export const lateQuietMs = 60;
/** Longest a late call is held (its own timeout, if shorter, ends it first). */
export const lateCapMs = 1_500;

/**
 * The storage calls of one schedule as they land at the table or queue service, whoever sent
 * them: a `late` call is one delayed on the wire while calls of other requests and runs pass it.
 */
export class StorageWire {
  /** Every landing so far, in order. */
  private readonly landings: { origin: string; write: boolean; at: number }[] = [];
  private readonly listeners = new Set<() => void>();

  /** Where the wire is now: a call issued here is passed by what lands after. */
  mark(): number {
    return this.landings.length;
  }

  /** A call of `origin` reached the service and was answered (or its answer lost). */
  landed(origin: string, write: boolean): void {
    this.landings.push({ origin, write, at: Date.now() });
    for (const listener of [...this.listeners]) listener();
  }

  /**
   * Holds a call of `origin`, issued at `issued` (`mark()`), before it is sent: until a write of
   * another origin has landed since it was issued and then no other origin's call lands for
   * `lateQuietMs`, at most `lateCapMs`. Counted from the issue, not from the hold: a replay holds
   * the call until its turn, which may come after what passed it. Aborted meanwhile (its own
   * timeout), it is never sent. Says whether another origin's write passed it.
   */
  hold(origin: string, issued: number, signal: PipelineRequest['abortSignal']): Promise<{ overtaken: boolean; aborted: boolean }> {
    return new Promise((resolve) => {
      let overtaken = false;
      let quiet: NodeJS.Timeout | undefined;
      const finish = (aborted: boolean) => {
        clearTimeout(quiet);
        clearTimeout(cap);
        signal?.removeEventListener('abort', onAbort);
        this.listeners.delete(check);
        resolve({ overtaken, aborted });
      };
      const onAbort = () => finish(true);
      const check = () => {
        const passed = this.landings.slice(issued).filter((landing) => landing.origin !== origin);
        const first = passed.findIndex((landing) => landing.write);
        if (first < 0) return;
        overtaken = true;
        const since = Date.now() - passed.at(-1)!.at;
        clearTimeout(quiet);
        quiet = setTimeout(() => finish(false), Math.max(0, lateQuietMs - since));
      };
      const cap = setTimeout(() => finish(false), lateCapMs);
      if (signal?.aborted) return finish(true);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.listeners.add(check);
      check();
    });
  }
}

/** A storage call sent by a scope: noted on the wire when it lands, answered or not. */
async function onWire<T>(scope: RequestScope, write: boolean, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } finally {
    scope.wire?.landed(scope.origin, write);
  }
}

/** A `late` call: held on the wire (see `StorageWire.hold`); one whose own timeout passed meanwhile was never sent. */
async function heldLate(scope: RequestScope, issued: number, signal: PipelineRequest['abortSignal']): Promise<void> {
  const { overtaken, aborted } = scope.wire ? await scope.wire.hold(scope.origin, issued, signal) : { overtaken: false, aborted: false };
  scope.noteLate?.(overtaken);
  if (aborted) throw abortError();
}

/** How long a storage call sent without a timeout of its own hangs before its connection drops. */
export const unboundedHangMs = 30_000;

/** How long a stalled storage call keeps its run waiting: past a third of a job lease, so the lease is renewed meanwhile. */
export const stallMs = 3_600;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The scope's run pauses at its crash point, its timers (lease renewals) going on meanwhile. */
async function pauseRun(scope: RequestScope, ms: number): Promise<void> {
  scope.paused = true;
  await pause(ms);
  scope.paused = false;
}

/** The fault (if any) and crash point (if any) of the scope's next storage call, counting it. */
async function nextStorageCall(scope: RequestScope): Promise<TableFault['kind'] | undefined> {
  const call = scope.tableCalls;
  scope.tableCalls += 1;
  if (scope.storageDelayMs) await pause(scope.storageDelayMs);
  if (scope.crash?.storageCall === call) await (scope.crash.pauseMs ? pauseRun(scope, scope.crash.pauseMs) : scope.freeze());
  const numbered = scope.tableFaults.find((candidate) => candidate.call === call)?.kind;
  const whilePaused = numbered ? undefined : faultWhilePaused(scope);
  const fault = numbered ?? whilePaused;
  if (fault) scope.noteFault?.(fault, whilePaused !== undefined);
  return fault;
}

function faultWhilePaused(scope: RequestScope): TableFault['kind'] | undefined {
  if (!scope.paused || scope.pausedFaultTaken) return undefined;
  const fault = scope.tableFaults.find((candidate) => candidate.call === 'whilePaused')?.kind;
  if (fault) scope.pausedFaultTaken = true;
  return fault;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

const abortError = () => Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });

/**
 * Audit-store faults at the chosen table call of a request: refused before it is sent, hanging
 * until the call's own timeout, carried out with its answer lost (landed but timed out), or late
 * (held on the wire until other requests' writes have passed it).
 */
export const auditStoreFaults: TablePolicy = {
  position: 'perCall',
  policy: {
    name: 'simulatedAuditStoreFaults',
    async sendRequest(request, next) {
      const scope = requestScope.getStore();
      if (!scope) return next(request);
      const issued = scope.wire?.mark() ?? 0;
      return scope.interleaving.call(scope.interleaving.nameOf(scope.origin, `table ${request.method}`), () => faultedTableCall(scope, request, next, issued));
    },
  },
};

async function faultedTableCall(scope: RequestScope, request: PipelineRequest, next: SendRequest, issued: number): Promise<PipelineResponse> {
      const fault = await nextStorageCall(scope);
      const write = request.method !== 'GET';
      switch (fault) {
        case undefined:
          return onWire(scope, write, () => next(request));
        case 'late':
          // Delayed on the wire before it reaches the table service: other requests' calls pass it.
          await heldLate(scope, issued, request.abortSignal);
          return onWire(scope, write, () => next(request));
        case 'stall':
          await new Promise((resolve) => setTimeout(resolve, stallMs));
          throw abortError();
        case 'fail':
          throw new RestError('connect ECONNREFUSED (simulated)', { code: 'ECONNREFUSED', request });
        case 'hang':
          // Until the call's own timeout; a call sent without one waits until the connection is
          // dropped (here after `unboundedHangMs`), far past any request's or run's time.
          await new Promise<void>((resolve) => {
            if (request.abortSignal?.aborted) resolve();
            request.abortSignal?.addEventListener('abort', () => resolve(), { once: true });
            if (!request.abortSignal) setTimeout(resolve, unboundedHangMs).unref();
          });
          if (!request.abortSignal) throw new RestError('read ECONNRESET (simulated: a call without a timeout hung)', { code: 'ECONNRESET', request });
          throw abortError();
        case 'landedTimeout':
          await onWire(scope, write, () => next(request));
          throw abortError();
      }
}

/**
 * The queue service as a scene sees it: the real queue (Azurite) under a name of the scene's own,
 * its sends faulted like table calls, and each message's visibility delay kept on the schedule's
 * clock (the queue service's own clock does not move with the schedule): a message is sent visible,
 * and the trigger (execute.ts) leaves one alone until its time on the schedule's clock.
 */
export class SceneQueues extends Queues {
  /** Message id → when it may be run, on the schedule's clock. */
  readonly dueAt = new Map<string, number>();
  /**
   * A bulk job's id → the origin (`request 3`) whose scope queued its message: the oracle's own
   * knowledge of which request a job works for, never read from the facade's records. A keyed
   * retry replaying the stored 202 names the same job but queues nothing.
   */
  readonly jobQueuedBy = new Map<string, string>();

  constructor(
    storage: ConstructorParameters<typeof Queues>[0]['storage'],
    readonly suffix: string,
    private readonly clock: Clock,
  ) {
    super({
      storage,
      credentialFor: () => {
        throw new Error('connection-string storage needs no credential');
      },
      timeoutMs: 1_000,
    });
  }

  sceneQueueName(queueName: string): string {
    return `${queueName}-${this.suffix}`;
  }

  override async send(queueName: string, message: unknown, options: SendOptions = {}): Promise<SentMessage> {
    const scope = requestScope.getStore();
    if (!scope) return this.faultedSend(undefined, queueName, message, options);
    const issued = scope.wire?.mark() ?? 0;
    return scope.interleaving.call(scope.interleaving.nameOf(scope.origin, 'queue send'), () => this.faultedSend(scope, queueName, message, options, issued));
  }

  private async faultedSend(scope: RequestScope | undefined, queueName: string, message: unknown, options: SendOptions, issued = 0): Promise<SentMessage> {
    const fault = scope ? await nextStorageCall(scope) : undefined;
    if (fault === 'fail') throw new RestError('connect ECONNREFUSED (simulated)', { code: 'ECONNREFUSED' });
    if (fault === 'hang') {
      await new Promise((resolve) => setTimeout(resolve, this.timeoutMs));
      throw abortError();
    }
    if (fault === 'stall') {
      await new Promise((resolve) => setTimeout(resolve, stallMs));
      throw abortError();
    }
    // Held no longer than the send's own timeout: past it, the send was never made.
    if (fault === 'late' && scope) await heldLate(scope, issued, AbortSignal.timeout(this.timeoutMs));
    const { visibilityDelaySeconds, ...rest } = options;
    const sendIt = () => super.send(this.sceneQueueName(queueName), message, rest);
    const sent = scope ? await onWire(scope, true, sendIt) : await sendIt();
    const job = message as Partial<BulkJobMessage> | Partial<{ kind: 'manifestApply'; id: string }>;
    if (scope?.origin.startsWith('request ') && (job.kind === 'bulkJob' || job.kind === 'manifestApply') && typeof job.id === 'string' && !this.jobQueuedBy.has(job.id)) this.jobQueuedBy.set(job.id, scope.origin);
    this.dueAt.set(sent.messageId, this.clock.now() + (visibilityDelaySeconds ?? 0) * 1_000);
    if (fault === 'landedTimeout') throw abortError();
    return sent;
  }
}

/**
 * Tags every Graph call of a runtime with its scope's origin (the oracle's, read by the emulator;
 * never the forwarded `client-request-id`), and lets a scope die before its n-th Graph attempt.
 */
function tagGraphCalls(runtime: Runtime): void {
  const transport = (runtime.graph as unknown as { transport: GraphTransport }).transport;
  const prepare = transport.prepare.bind(transport);
  const exchange = transport.exchange.bind(transport);
  transport.prepare = (method, path, headers, body) => {
    const scope = requestScope.getStore();
    return prepare(method, path, scope ? { ...headers, 'x-emulator-origin': scope.origin } : headers, body);
  };
  transport.exchange = async (prepared, timeoutMs) => {
    const scope = requestScope.getStore();
    if (scope) {
      const attempt = scope.graphAttempts;
      scope.graphAttempts += 1;
      if (scope.crash?.graphAttempt === attempt) await (scope.crash.pauseMs ? pauseRun(scope, scope.crash.pauseMs) : scope.freeze());
      const name = scope.interleaving.nameOf(scope.origin, `graph ${prepared.options.method ?? ''}`);
      return scope.interleaving.call(name, () => exchange(prepared, timeoutMs));
    }
    return exchange(prepared, timeoutMs);
  };
}

export interface Caller {
  id: string;
  appId: string;
  token: string;
}

export interface Instance {
  runtime: Runtime;
}

/**
 * One of the schedules running at the same time: its own Graph emulator and clock, and two
 * instances of the app (Graph client, token cache, signing keys) that each schedule gives a fresh
 * audit table of its own.
 */
export interface Lane {
  graph: GraphEmulator;
  clock: ScheduleClock;
  /** A fresh audit table and two instances over it; the clock starts again at the real time. */
  newScene(): Promise<Scene>;
}

export interface World {
  azurite: RunningAzurite;
  identity: IdentityEndpoint;
  tokens: DevTokenIssuer;
  callers: Record<'A' | 'B', Caller>;
  lanes: Lane[];
  stop(): Promise<void>;
}

export interface Scene {
  tableName: string;
  queues: SceneQueues;
  instances: [Instance, Instance];
  /** The table as an operator sees it (straight on Azurite). */
  table: TableClient;
  dispose(): Promise<void>;
}

export const simulationSettings = {
  AUDIT_TABLE_TIMEOUT_MS: '400',
  GRAPH_DEADLINE_MS: '3000',
  GRAPH_ATTEMPT_TIMEOUT_MS: '250',
  RECONCILE_AFTER_MINUTES: '10',
  IDEMPOTENCY_RETENTION_HOURS: '24',
  RECONCILE_MAX_RECORDS: '200',
  BULK_ASYNC_AFTER_SECONDS: '3',
};


export async function startWorld(laneCount = 6): Promise<World> {
  const parts: (() => Promise<void>)[] = [];
  const stop = async () => {
    await Promise.allSettled(parts.reverse().map((part) => part()));
  };
  try {
    const azurite = await startAzurite();
    parts.push(azurite.stop);
    const identity = await startIdentityEndpoint();
    parts.push(identity.close);
    const tokens = await startDevTokenIssuer();
    parts.push(tokens.close);
    // The managed-identity credential reads the platform's variables itself.
    process.env.IDENTITY_ENDPOINT = identity.endpoint;
    process.env.IDENTITY_HEADER = identity.identityHeader;
    const caller = async (suffix: string): Promise<Caller> => {
      const id = `5a5a5a5a-0000-4000-8000-00000000000${suffix}`;
      const appId = `5a5a5a5a-0000-4000-8000-0000000000a${suffix}`;
      return { id, appId, token: await tokens.mint({ claims: { oid: id, sub: id, azp: appId }, lifetimeSeconds: 24 * 3600 }) };
    };
    const callers = { A: await caller('1'), B: await caller('2') };
    const lanes: Lane[] = [];
    for (let index = 0; index < laneCount; index += 1) {
      const graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey });
      parts.push(graph.close);
      lanes.push(lane(graph, azurite, {
        ...tokens.env,
        GRAPH_BASE_URL: graph.baseUrl,
        IDENTITY_ENDPOINT: identity.endpoint,
        IDENTITY_HEADER: identity.identityHeader,
        AuditStorage: azurite.connectionString,
        ...simulationSettings,
      }));
    }
    return { azurite, identity, tokens, callers, lanes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function lane(graph: GraphEmulator, azurite: RunningAzurite, settings: Record<string, string>): Lane {
  const clock = new ScheduleClock();
  const bases = [0, 1].map(() => {
    const runtime = createRuntime(settings, { clock, tablePolicies: [auditStoreFaults], graphBackoffBaseMs: 5 });
    tagGraphCalls(runtime);
    return runtime;
  });
  const onTable = async (base: Runtime, tableName: string, queues: SceneQueues): Promise<Runtime> => {
    const table = new Table({
      storage: base.settings.auditStorage,
      tableName,
      credentialFor: () => {
        throw new Error('connection-string storage needs no credential');
      },
      timeoutMs: base.settings.auditTableTimeoutMs,
      policies: [auditStoreFaults],
    });
    // The instance's table handle is ready before the schedule, outside any request: its one
    // creation call is shared by every request of the instance (shared/storage/table.ts), so taken
    // inside the first request's scope it would count as that request's storage call, and a crash
    // there would hold every other request of the instance on a call no request owns (a real
    // instance that stalls stalls them all; one that dies takes its table handle along).
    await table.ready();
    return { ...base, ...tableStores(table, base.settings), queues };
  };
  return {
    graph,
    clock,
    newScene: async () => {
      clock.offsetMs = 0;
      const tableName = `Sim${randomBytes(6).toString('hex')}`;
      const table = TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true });
      await table.createTable();
      const queues = new SceneQueues(bases[0]!.settings.queueStorage, tableName.toLowerCase(), clock);
      const instances: [Instance, Instance] = [{ runtime: await onTable(bases[0]!, tableName, queues) }, { runtime: await onTable(bases[1]!, tableName, queues) }];
      return {
        tableName,
        queues,
        instances,
        table,
        dispose: async () => {
          await table.deleteTable().catch(() => undefined);
          const queue = await queues.client(queues.sceneQueueName(asyncWorkQueueName)).catch(() => undefined);
          await queue?.deleteIfExists().catch(() => undefined);
        },
      };
    },
  };
}
