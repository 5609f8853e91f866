/**
 * `npm start`: the whole API on http://localhost:${PORT:-7071}/api with the embedded defaults
 * (Graph emulator, identity endpoint, Azurite) for whatever is not configured. Settings come from
 * the environment, then `local.settings.json` `Values`, as `func start` reads them.
 */
import { pathToFileURL } from 'node:url';
import type { FunctionDefinition } from '../shared/operations/registry';
import { startLocalHost } from './localHost';
import { localSettings } from './localSettings';
import { startLocalStack } from './localStack';
import { startQueueTriggers } from './queueTriggers';

async function main(): Promise<void> {
  const given = { ...localSettings(), ...process.env };
  const stack = await startLocalStack(given);
  Object.assign(process.env, stack.env);

  const entry = pathToFileURL(process.argv[2] ?? 'dist/index.mjs').href;
  const { functionDefinitions } = (await import(entry)) as { functionDefinitions: FunctionDefinition[] };
  const quiet = process.env.LOCAL_HOST_QUIET === '1';
  const host = await startLocalHost({
    definitions: functionDefinitions,
    port: Number(process.env.PORT ?? 7071),
    ...(quiet ? { logHandler: () => undefined } : {}),
  });
  const queueTriggers = await startQueueTriggers({ definitions: functionDefinitions, env: process.env, ...(quiet ? { logHandler: () => undefined } : {}) });

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await host.close();
    await queueTriggers.close();
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('disconnect', () => void shutdown(0));

  const parts = [
    `Graph: ${stack.env.GRAPH_BASE_URL}${stack.started.graphEmulator ? ' (local emulator)' : ''}`,
    `Identity endpoint: ${stack.env.IDENTITY_ENDPOINT}${stack.started.identityEndpoint ? ' (local)' : ''}`,
    `Audit storage: ${stack.started.azurite ? `Azurite on 127.0.0.1, tables :${stack.started.azurite.port}, queues :${stack.started.azurite.queuePort} (in memory)` : 'as configured'}`,
    `Caller tokens: ${stack.started.tokenIssuer ? `local dev issuer, keys at ${stack.env.AUTH_JWKS_URI} (npm run -s token -- --roles ROLE mints more)` : `Microsoft Entra ID tenant ${stack.env.AUTH_TENANT_ID ?? '(AUTH_TENANT_ID not set: every operation answers 503)'}`}`,
  ];
  const token = stack.started.tokenIssuer ? await stack.started.tokenIssuer.mint({ lifetimeSeconds: 12 * 3600 }) : '$TOKEN';
  const apiUrl = host.apiUrl.replace('127.0.0.1', 'localhost');
  process.stdout.write(
    [
      `API: ${host.apiUrl}`,
      ...parts,
      'Routes:',
      ...functionDefinitions
        .filter((definition) => definition.kind === 'http')
        .map((definition) => `  ${(definition.options.methods ?? ['GET', 'POST']).join(',').padEnd(5)} ${apiUrl}/${definition.options.route}`),
      'Try:',
      ...(stack.started.tokenIssuer ? [] : ['  (TOKEN: an access token for the facade app registration, e.g. `az account get-access-token --resource <app id URI>`)']),
      `  curl -s -X POST ${apiUrl}/v1.0/external/connections -H 'Content-Type: application/json' \\`,
      `    -H "Authorization: Bearer ${token}" \\`,
      `    -d '{"id":"contosohr","name":"Contoso HR","description":"Connection to index Contoso HR system"}'`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
