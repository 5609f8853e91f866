import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { AuditStore } from './audit/auditStore';
import { createAuthenticator, type Authenticator } from './auth/authenticator';
import { loadSettings, type Environment, type Settings } from './config';
import { GraphClient } from './graph/graphClient';
import { IdempotencyStore } from './idempotency/idempotencyStore';
import { CachedTokenProvider } from './identity/tokenProvider';
import { Queues } from './storage/queue';
import { Table, type TablePolicy } from './storage/table';
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
 * What a runtime is built with besides the settings: the clock, and the table and Graph client
 * tuning a fault simulation needs (short timeouts and back-off, fault-injecting table policies).
 */
export interface RuntimeOptions {
  clock?: Clock;
  tablePolicies?: TablePolicy[];
  tableTimeoutMs?: number;
  graphBackoffBaseMs?: number;
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
    ...(options.tableTimeoutMs ? { timeoutMs: options.tableTimeoutMs } : {}),
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
    audit: new AuditStore(table),
    idempotency: new IdempotencyStore(table, settings.idempotencyRetentionHours * 3_600_000),
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
