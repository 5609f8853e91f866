import { defaultAcceptedScope, parseAuthSettings, type AuthSettings } from './auth/settings';
import { isLoopbackHost } from './http/loopback';

/**
 * Every setting the app reads, in one catalogue: the configuration table of docs/deploy.md, the local
 * stack and the infra drift test are all checked against this list.
 */

export type SettingScope = 'app' | 'local';

export interface SettingSpec {
  name: string;
  default: string | undefined;
  description: string;
  /** `app`: read by the functions in Azure; `local`: read only by the local stack. */
  scope: SettingScope;
}

export const settingsCatalog = [
  { name: 'GRAPH_BASE_URL', default: 'https://graph.microsoft.com', scope: 'app',
    description: 'Microsoft Graph root, without version. The token scope is derived from it (`{origin}/.default`). Locally, absent → the Graph emulator is started.' },
  { name: 'IDENTITY_ENDPOINT', default: undefined, scope: 'app',
    description: 'Managed-identity token endpoint; set by App Service / Functions. Locally, absent (with `IDENTITY_HEADER`) → a local identity endpoint is started.' },
  { name: 'IDENTITY_HEADER', default: undefined, scope: 'app',
    description: 'Secret sent as `X-IDENTITY-HEADER` to the identity endpoint; set by the platform.' },
  { name: 'AZURE_CLIENT_ID', default: undefined, scope: 'app',
    description: 'Client id of a user-assigned managed identity to call Graph with; absent → the system-assigned identity.' },
  { name: 'AuditStorage', default: undefined, scope: 'app',
    description: 'Connection string of the audit storage account: its tables (audit) and queues (asynchronous work, read by the queue-triggered functions). Locally, absent (and no `AuditStorage__tableServiceUri` or `__queueServiceUri`) → Azurite is started.' },
  { name: 'AuditStorage__tableServiceUri', default: undefined, scope: 'app',
    description: 'Identity-based alternative to `AuditStorage`: the table service URI, e.g. `https://acct.table.core.windows.net`.' },
  { name: 'AuditStorage__queueServiceUri', default: undefined, scope: 'app',
    description: 'Identity-based alternative to `AuditStorage` for queues: the queue service URI, e.g. `https://acct.queue.core.windows.net` (the app sends to it; the Functions host reads its queue triggers from it).' },
  { name: 'AuditStorage__credential', default: 'managedidentity', scope: 'app',
    description: 'With `AuditStorage__tableServiceUri`/`__queueServiceUri`: the credential kind (only `managedidentity`).' },
  { name: 'AuditStorage__clientId', default: undefined, scope: 'app',
    description: 'With `AuditStorage__tableServiceUri`/`__queueServiceUri`: client id of the user-assigned identity for storage; absent → `AZURE_CLIENT_ID`, then system-assigned.' },
  { name: 'AUDIT_TABLE_NAME', default: 'AuditLog', scope: 'app',
    description: 'Audit table name; created if missing.' },
  { name: 'AUDIT_TABLE_TIMEOUT_MS', default: '5000', scope: 'app',
    description: 'Each audit table call gives up after this long (an outage answers 503 instead of hanging). A request holds its `Idempotency-Key` for `GRAPH_DEADLINE_MS` + 3× this + 2 s.' },
  { name: 'GRAPH_DEADLINE_MS', default: '30000', scope: 'app',
    description: 'Overall deadline for the Graph part of one request, retries included (well under the 120 s Logic Apps and Power Automate wait).' },
  { name: 'GRAPH_ATTEMPT_TIMEOUT_MS', default: '10000', scope: 'app',
    description: 'Timeout of one attempt at a Graph call; an attempt past it is abandoned (and retried when that is safe).' },
  { name: 'IDEMPOTENCY_RETENTION_HOURS', default: '24', scope: 'app',
    description: 'How long an `Idempotency-Key` and its stored answer are kept (fractions of an hour allowed).' },
  { name: 'RECONCILE_AFTER_MINUTES', default: '10', scope: 'app',
    description: 'Reconciliation settles `pending`/`unknown` audit records older than this.' },
  { name: 'RECONCILE_MAX_RECORDS', default: '200', scope: 'app',
    description: 'Most audit records one reconciliation run settles.' },
  { name: 'BULK_BATCHES_IN_FLIGHT', default: '4', scope: 'app',
    description: 'Graph JSON batches (20 adds each) one bulk request has in flight at once.' },
  { name: 'BULK_ASYNC_AFTER_SECONDS', default: '60', scope: 'app',
    description: 'A bulk request expected to take longer is answered 202 and carried out from the queue (as is one sent with `Prefer: respond-async`); a synchronous one sends nothing after this long (under the 120 s Logic Apps and Power Automate wait).' },
  { name: 'AUTH_MODE', default: 'jwt', scope: 'app',
    description: '`jwt`: validate Microsoft Entra ID bearer tokens; `appservice`: trust App Service Authentication (Easy Auth) `X-MS-CLIENT-PRINCIPAL`.' },
  { name: 'AUTH_TENANT_ID', default: undefined, scope: 'app',
    description: 'Microsoft Entra tenant id whose tokens are accepted (`tid`).' },
  { name: 'AUTH_AUDIENCE', default: undefined, scope: 'app',
    description: 'Accepted token audiences, comma-separated (the facade app registration\'s application id URI and/or client id).' },
  { name: 'AUTH_ISSUER', default: undefined, scope: 'app',
    description: 'Override of the accepted issuers (comma-separated); default the v1 and v2 issuers of `AUTH_TENANT_ID`.' },
  { name: 'AUTH_JWKS_URI', default: undefined, scope: 'app',
    description: 'Override of the signing keys URL; default `https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys`.' },
  { name: 'AUTH_ACCEPTED_SCOPES', default: defaultAcceptedScope, scope: 'app',
    description: 'Delegated scopes (comma or space separated) of which a user token must carry one in `scp`: none → 401, only others → 403. App-only tokens carry no scopes.' },
  { name: 'AUTH_ALLOWED_CLIENT_APPS', default: undefined, scope: 'app',
    description: 'Client application ids (`azp`/`appid`, comma or space separated) allowed to call; another client app gets 403. Absent → any client app of the tenant.' },
  { name: 'PUBLIC_BASE_URL', default: undefined, scope: 'app',
    description: 'Public URL the API is reached at, without `/api` (a custom domain, API Management): the server URL of `/api/swagger.json` and `/api/openapi.json`. Absent → `https://{WEBSITE_HOSTNAME}` in Azure.' },
  { name: 'PORT', default: '7071', scope: 'local',
    description: 'Port of the local host (`npm start`); the API is served below `/api`.' },
  { name: 'LOCAL_HOST_QUIET', default: '0', scope: 'local',
    description: 'Local host only: `1` silences the per-request log lines (tests set it).' },
  { name: 'LOCAL_STATE_DIR', default: '.local', scope: 'local',
    description: 'Local tools only: the folder, relative to the project, where `npm start` keeps the dev token issuer\'s key and, while it runs, `stack-{port}.json` (its settings, for `npm run audit` and `npm run reconcile`).' },
  { name: 'LOCAL_QUEUE_LEASE_SECONDS', default: '600', scope: 'local',
    description: 'Local host only: how long a queue message stays invisible while its function runs, renewed at half-time (the Functions host uses 10 minutes); a crashed instance\'s message reappears after it.' },
  { name: 'LOCAL_DRAIN_SECONDS', default: '30', scope: 'local',
    description: 'Local host only: on Ctrl-C, how long `npm start` waits for the requests and queued jobs in flight before it stops anyway.' },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof settingsCatalog)[number]['name'];

export type AuditStorageSettings =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'managedIdentity'; tableServiceUri: string; clientId: string | undefined };

/** The storage account's queues: the same `AuditStorage` connection, its queue service. */
export type QueueStorageSettings =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'managedIdentity'; queueServiceUri: string; clientId: string | undefined };

export interface Settings {
  graphBaseUrl: string;
  graphScope: string;
  managedIdentityClientId: string | undefined;
  auditStorage: AuditStorageSettings | undefined;
  /** Queues of the same account (asynchronous work); absent when neither a connection string nor a queue URI is set. */
  queueStorage: QueueStorageSettings | undefined;
  auditTableName: string;
  auditTableTimeoutMs: number;
  graphDeadlineMs: number;
  graphAttemptTimeoutMs: number;
  idempotencyRetentionHours: number;
  reconcileAfterMinutes: number;
  reconcileMaxRecords: number;
  /** Graph JSON batches one bulk request has in flight at once. */
  bulkBatchesInFlight: number;
  /** A bulk request expected to take longer runs from the queue; a synchronous one stops sending after it. */
  bulkAsyncAfterMs: number;
  /** How callers are authenticated (`AUTH_*`); `notConfigured` refuses every operation. */
  auth: AuthSettings;
}

export type Environment = Readonly<Record<string, string | undefined>>;

function defaultOf(name: SettingName): string | undefined {
  return settingsCatalog.find((setting) => setting.name === name)?.default;
}

function read(env: Environment, name: SettingName): string | undefined {
  const value = env[name]?.trim();
  return value ? value : defaultOf(name);
}

function positiveInteger(env: Environment, name: SettingName): number {
  const raw = read(env, name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`Setting ${name} must be a positive integer, got "${raw}".`);
  }
  return value;
}

function positiveNumber(env: Environment, name: SettingName): number {
  const raw = read(env, name);
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`Setting ${name} must be a number above 0, got "${raw}".`);
  }
  return value;
}

function nonNegativeNumber(env: Environment, name: SettingName): number {
  const raw = read(env, name);
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`Setting ${name} must be a number of at least 0, got "${raw}".`);
  }
  return value;
}

/** The Graph token scope for a base URL: `https://graph.microsoft.com` → `https://graph.microsoft.com/.default`. */
export function graphScopeFor(graphBaseUrl: string): string {
  return `${new URL(graphBaseUrl).origin}/.default`;
}

/**
 * Where callers reach the API, for the documents that describe it: `PUBLIC_BASE_URL` when set,
 * else the app's own host name, which the platform sets in Azure (`WEBSITE_HOSTNAME`, a platform
 * variable like `WEBSITE_INSTANCE_ID`, not a setting). Never the request's `Host` header, which
 * anyone can send. Undefined outside Azure without the setting.
 */
export function publicBaseUrlFrom(env: Environment): URL | undefined {
  const configured = read(env, 'PUBLIC_BASE_URL');
  if (configured) {
    let url: URL | undefined;
    try {
      url = new URL(configured);
    } catch {
      // Reported below.
    }
    const secure = url && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)));
    if (!url || !secure || url.search || url.hash || url.username || url.password) {
      throw new Error(`Setting PUBLIC_BASE_URL must be an https URL without query or credentials, e.g. https://connectors.contoso.com (plain http only on loopback), got "${configured}".`);
    }
    return url;
  }
  const platformHost = env.WEBSITE_HOSTNAME?.trim();
  return platformHost && /^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(platformHost) ? new URL(`https://${platformHost}`) : undefined;
}

/** The identity for identity-based storage (`AuditStorage__*`, as the Functions host reads them). */
function storageIdentityFrom(env: Environment): string | undefined {
  const credential = read(env, 'AuditStorage__credential');
  if (credential?.toLowerCase() !== 'managedidentity') {
    throw new Error(`Setting AuditStorage__credential must be "managedidentity", got "${credential}".`);
  }
  return read(env, 'AuditStorage__clientId') ?? read(env, 'AZURE_CLIENT_ID');
}

function auditStorageFrom(env: Environment): AuditStorageSettings | undefined {
  const connectionString = read(env, 'AuditStorage');
  if (connectionString) return { kind: 'connectionString', connectionString };
  const tableServiceUri = read(env, 'AuditStorage__tableServiceUri');
  if (!tableServiceUri) return undefined;
  return { kind: 'managedIdentity', tableServiceUri, clientId: storageIdentityFrom(env) };
}

function queueStorageFrom(env: Environment): QueueStorageSettings | undefined {
  const connectionString = read(env, 'AuditStorage');
  if (connectionString) return { kind: 'connectionString', connectionString };
  const queueServiceUri = read(env, 'AuditStorage__queueServiceUri');
  if (!queueServiceUri) return undefined;
  return { kind: 'managedIdentity', queueServiceUri, clientId: storageIdentityFrom(env) };
}

export function loadSettings(env: Environment = process.env): Settings {
  const graphBaseUrl = (read(env, 'GRAPH_BASE_URL') ?? 'https://graph.microsoft.com').replace(/\/+$/, '');
  const tableName = read(env, 'AUDIT_TABLE_NAME') ?? 'AuditLog';
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(tableName)) {
    throw new Error(`Setting AUDIT_TABLE_NAME "${tableName}" is not a valid table name.`);
  }
  return {
    graphBaseUrl,
    graphScope: graphScopeFor(graphBaseUrl),
    managedIdentityClientId: read(env, 'AZURE_CLIENT_ID'),
    auditStorage: auditStorageFrom(env),
    queueStorage: queueStorageFrom(env),
    auditTableName: tableName,
    auditTableTimeoutMs: positiveInteger(env, 'AUDIT_TABLE_TIMEOUT_MS'),
    graphDeadlineMs: positiveInteger(env, 'GRAPH_DEADLINE_MS'),
    graphAttemptTimeoutMs: positiveInteger(env, 'GRAPH_ATTEMPT_TIMEOUT_MS'),
    idempotencyRetentionHours: positiveNumber(env, 'IDEMPOTENCY_RETENTION_HOURS'),
    reconcileAfterMinutes: nonNegativeNumber(env, 'RECONCILE_AFTER_MINUTES'),
    reconcileMaxRecords: positiveInteger(env, 'RECONCILE_MAX_RECORDS'),
    bulkBatchesInFlight: positiveInteger(env, 'BULK_BATCHES_IN_FLIGHT'),
    bulkAsyncAfterMs: positiveInteger(env, 'BULK_ASYNC_AFTER_SECONDS') * 1_000,
    auth: parseAuthSettings((name) => read(env, name), env),
  };
}
