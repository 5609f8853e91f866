import { startAzurite, type RunningAzurite } from './azurite';
import { startGraphEmulator, type GraphEmulator } from './graphEmulator';
import { startIdentityEndpoint, type IdentityEndpoint } from './identityEndpoint';

/**
 * The embedded defaults of `npm start`: each part is started only when its setting is absent,
 * and a setting that is present always wins.
 */
export interface LocalStack {
  /** The settings to run the app with: the given ones plus those of the parts started here. */
  env: Record<string, string>;
  started: { graphEmulator?: GraphEmulator; identityEndpoint?: IdentityEndpoint; azurite?: RunningAzurite };
  stop(): Promise<void>;
}

export async function startLocalStack(given: Record<string, string | undefined>): Promise<LocalStack> {
  const env: Record<string, string> = Object.fromEntries(
    Object.entries(given).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''),
  );
  const started: LocalStack['started'] = {};
  const stop = async () => {
    await Promise.allSettled([
      started.graphEmulator?.close(),
      started.identityEndpoint?.close(),
      started.azurite?.stop(),
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
    if (!env.AuditStorage && !env.AuditStorage__tableServiceUri) {
      started.azurite = await startAzurite();
      env.AuditStorage = started.azurite.connectionString;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, started, stop };
}
