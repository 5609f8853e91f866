import type { AuthSettingName } from '../shared/auth/settings';
import { startAzurite, type RunningAzurite } from './azurite';
import { firstLine, StartupError } from './startupError';
import { startGraphEmulator, type GraphEmulator } from './graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from './identityEndpoint';
import { defaultDevKeyFile, loadOrCreateDevSigningKey, startDevTokenIssuer, type DevTokenIssuer } from './tokenIssuer';

/**
 * The embedded defaults of `npm start`: each part is started only when its setting is absent,
 * and a setting that is present always wins.
 */
export interface LocalStack {
  /** The settings to run the app with: the given ones plus those of the parts started here. */
  env: Record<string, string>;
  started: { graphEmulator?: GraphEmulator; identityEndpoint?: IdentityEndpoint; azurite?: RunningAzurite; tokenIssuer?: DevTokenIssuer };
  stop(): Promise<void>;
}

/** Runs one part's start; `npm start` passes one that prints a progress line with its timing. */
export type StepRunner = <T>(label: string, start: () => Promise<T>, describe: (started: T) => string) => Promise<T>;

export interface LocalStackOptions {
  /** Where the dev token issuer keeps its key (shared with `npm run token`). */
  devKeyFile?: string;
  step?: StepRunner;
}

const silently: StepRunner = (_label, start) => start();

/** Every setting of shared/auth/settings.ts: with any of them given, auth is the caller's to configure. */
const authSettings = [
  'AUTH_MODE', 'AUTH_TENANT_ID', 'AUTH_AUDIENCE', 'AUTH_ISSUER', 'AUTH_JWKS_URI', 'AUTH_ACCEPTED_SCOPES', 'AUTH_ALLOWED_CLIENT_APPS',
] as const satisfies readonly AuthSettingName[];

export async function startLocalStack(given: Record<string, string | undefined>, options: LocalStackOptions = {}): Promise<LocalStack> {
  const env: Record<string, string> = Object.fromEntries(
    Object.entries(given).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''),
  );
  const started: LocalStack['started'] = {};
  const stop = async () => {
    await Promise.allSettled([
      started.graphEmulator?.close(),
      started.identityEndpoint?.close(),
      started.azurite?.stop(),
      started.tokenIssuer?.close(),
    ]);
  };
  const step = options.step ?? silently;
  try {
    if (!env.IDENTITY_ENDPOINT || !env.IDENTITY_HEADER) {
      started.identityEndpoint = await step('identity endpoint', () => startIdentityEndpoint(), (part) => `${part.endpoint} (managed-identity protocol)`);
      env.IDENTITY_ENDPOINT = started.identityEndpoint.endpoint;
      env.IDENTITY_HEADER = started.identityEndpoint.identityHeader;
    }
    if (!env.GRAPH_BASE_URL) {
      const signingKey = started.identityEndpoint?.signingKey;
      started.graphEmulator = await step(
        'Graph emulator',
        () => startGraphEmulator(signingKey ? { tokenSigningKey: signingKey } : {}),
        (part) => part.baseUrl,
      );
      env.GRAPH_BASE_URL = started.graphEmulator.baseUrl;
    }
    if (!env.AuditStorage && !env.AuditStorage__tableServiceUri && !env.AuditStorage__queueServiceUri) {
      started.azurite = await step(
        'Azurite (audit tables, queues)',
        () =>
          startAzurite().catch((error: unknown) => {
            throw new StartupError(
              `Azurite, the local storage for audit records and queued work, could not start: ${firstLine(error)}`,
              'Run npm install (Azurite comes with the dev dependencies) and try again, or set AuditStorage to the connection string of a table service you run yourself.',
              { cause: error },
            );
          }),
        (part) => `127.0.0.1 tables :${part.port}, queues :${part.queuePort}, in memory`,
      );
      env.AuditStorage = started.azurite.connectionString;
    }
    // No AUTH_* setting at all: a local issuer stands in for Microsoft Entra ID. Never on an Azure
    // instance (WEBSITE_INSTANCE_ID), where missing settings must refuse every call instead.
    if (authSettings.every((name) => !env[name]) && !env.WEBSITE_INSTANCE_ID) {
      started.tokenIssuer = await step(
        'dev token issuer',
        async () => startDevTokenIssuer({ key: await loadOrCreateDevSigningKey(options.devKeyFile ?? defaultDevKeyFile) }),
        (part) => `keys at ${part.jwksUri}`,
      );
      Object.assign(env, started.tokenIssuer.env);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, started, stop };
}
