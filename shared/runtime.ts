import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { AuditStore } from './audit/auditStore';
import { createAuthenticator, type Authenticator } from './auth/authenticator';
import { loadSettings, type Environment, type Settings } from './config';
import { GraphClient } from './graph/graphClient';
import { IdempotencyStore } from './idempotency/idempotencyStore';
import { CachedTokenProvider } from './identity/tokenProvider';
import { Queues } from './storage/queue';
import { Table, type TablePolicy } from './storage/table';
import type { RecoveryDependencies } from './recovery/attribution';
import { systemClock, type Clock } from './time/clock';

/** The long-lived parts a request uses, built once per process (cold start) and shared after. */
export interface Runtime {
  settings: Settings;
  graph: GraphClient;
  audit: AuditStore;
  idempotency: IdempotencyStore;
  /** The storage account's queues: asynchronous work for the queue-triggered functions. */
  queues: Queues;
  /** Checks callers; holds the cached signing keys. */
  auth: Authenticator;
  clock: Clock;
}

/**
 * What a runtime is built with besides the settings: the clock, and what a fault simulation needs
 * (fault-injecting table policies, a short Graph back-off).
 */
export interface RuntimeOptions {
  clock?: Clock;
  tablePolicies?: TablePolicy[];
  graphBackoffBaseMs?: number;
}

/** The stores kept in the audit table: records with their index and attempts, and idempotency keys. */
export function tableStores(table: Table, settings: Settings): Pick<Runtime, 'audit' | 'idempotency'> {
  const retentionMs = settings.idempotencyRetentionHours * 3_600_000;
  return { audit: new AuditStore(table, retentionMs), idempotency: new IdempotencyStore(table, retentionMs) };
}

/** What the lost-answer rules (shared/recovery) use of a runtime. */
export function recoveryDependencies(runtime: Runtime): RecoveryDependencies {
  return {
    audit: runtime.audit,
    graph: runtime.graph,
    clock: runtime.clock,
    retentionMs: runtime.settings.idempotencyRetentionHours * 3_600_000,
    reconcileAfterMs: runtime.settings.reconcileAfterMinutes * 60_000,
  };
}

export function createRuntime(env: Environment = process.env, options: RuntimeOptions = {}): Runtime {
  const settings = loadSettings(env);
  const clock = options.clock ?? systemClock;
  const credentials = new Map<string, TokenCredential>();
  const credentialFor = (clientId: string | undefined): TokenCredential => {
    const key = clientId ?? '';
    let credential = credentials.get(key);
    if (!credential) {
      credential = clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
      credentials.set(key, credential);
    }
    return credential;
  };
  const tokens = new CachedTokenProvider(credentialFor(settings.managedIdentityClientId), {
    scope: settings.graphScope,
  });
  const table = new Table({
    storage: settings.auditStorage,
    tableName: settings.auditTableName,
    credentialFor,
    timeoutMs: settings.auditTableTimeoutMs,
    ...(options.tablePolicies ? { policies: options.tablePolicies } : {}),
  });
  return {
    settings,
    graph: new GraphClient({
      baseUrl: settings.graphBaseUrl,
      tokens,
      attemptTimeoutMs: settings.graphAttemptTimeoutMs,
      clock,
      ...(options.graphBackoffBaseMs === undefined ? {} : { backoffBaseMs: options.graphBackoffBaseMs }),
    }),
    ...tableStores(table, settings),
    queues: new Queues({ storage: settings.queueStorage, credentialFor }),
    auth: createAuthenticator(settings.auth),
    clock,
  };
}

let processRuntime: Runtime | undefined;

/** The process-wide runtime, read from the environment on first use. */
export function getRuntime(): Runtime {
  processRuntime ??= createRuntime();
  return processRuntime;
}

/** Drops the process-wide runtime so the next request reads the environment again (tests). */
export function resetRuntime(): void {
  processRuntime = undefined;
}
