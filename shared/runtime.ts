import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { AuditStore } from './audit/auditStore';
import { createAuthenticator, type Authenticator } from './auth/authenticator';
import { loadSettings, type Environment, type Settings } from './config';
import { GraphClient } from './graph/graphClient';
import { IdempotencyStore } from './idempotency/idempotencyStore';
import { CachedTokenProvider } from './identity/tokenProvider';
import { Queues } from './storage/queue';
import { Table } from './storage/table';

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
}

export function createRuntime(env: Environment = process.env): Runtime {
  const settings = loadSettings(env);
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
  const table = new Table({ storage: settings.auditStorage, tableName: settings.auditTableName, credentialFor });
  return {
    settings,
    graph: new GraphClient({ baseUrl: settings.graphBaseUrl, tokens, attemptTimeoutMs: settings.graphAttemptTimeoutMs }),
    audit: new AuditStore(table),
    idempotency: new IdempotencyStore(table, settings.idempotencyRetentionHours * 3_600_000),
    queues: new Queues({ storage: settings.queueStorage, credentialFor }),
    auth: createAuthenticator(settings.auth),
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
