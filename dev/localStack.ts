import { startAzurite, type RunningAzurite } from './azurite';
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

export interface LocalStackOptions {
  /** Where the dev token issuer keeps its key (shared with `npm run token`). */
  devKeyFile?: string;
}

const authSettings = ['AUTH_MODE', 'AUTH_TENANT_ID', 'AUTH_AUDIENCE', 'AUTH_ISSUER', 'AUTH_JWKS_URI'] as const;

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
  try {
    if (!env.IDENTITY_ENDPOINT || !env.IDENTITY_HEADER) {
      started.identityEndpoint = await startIdentityEndpoint();
      env.IDENTITY_ENDPOINT = started.identityEndpoint.endpoint;
      env.IDENTITY_HEADER = started.identityEndpoint.identityHeader;
    }
    if (!env.GRAPH_BASE_URL) {
      started.graphEmulator = await startGraphEmulator({
        ...(started.identityEndpoint ? { tokenSigningKey: started.identityEndpoint.signingKey } : {}),
      });
      env.GRAPH_BASE_URL = started.graphEmulator.baseUrl;
    }
    if (!env.AuditStorage && !env.AuditStorage__tableServiceUri && !env.AuditStorage__queueServiceUri) {
      started.azurite = await startAzurite();
      env.AuditStorage = started.azurite.connectionString;
    }
    // No AUTH_* setting at all: a local issuer stands in for Microsoft Entra ID. Never on an Azure
    // instance (WEBSITE_INSTANCE_ID), where missing settings must refuse every call instead.
    if (authSettings.every((name) => !env[name]) && !env.WEBSITE_INSTANCE_ID) {
      const key = await loadOrCreateDevSigningKey(options.devKeyFile ?? defaultDevKeyFile);
      started.tokenIssuer = await startDevTokenIssuer({ key });
      Object.assign(env, started.tokenIssuer.env);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, started, stop };
}
