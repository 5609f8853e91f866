/**
 * `npm run reconcile`: one reconciliation run against the configured audit storage and Graph
 * (environment, then local.settings.json `Values`), as the timer function does every 5 minutes.
 */
import { pathToFileURL } from 'node:url';
import { InvocationContext } from '../shared/azureFunctions';
import { localSettings } from './localSettings';
import { consoleLogHandler } from './logFormat';

async function main(): Promise<void> {
  for (const [name, value] of Object.entries(localSettings())) process.env[name] ??= value;
  const entry = pathToFileURL(process.argv[2] ?? 'dist/index.mjs').href;
  const { reconcileAuditRecords } = (await import(entry)) as typeof import('../functions/index');
  const context = new InvocationContext({
    functionName: 'reconcile',
    logHandler: consoleLogHandler(),
  });
  const summary = await reconcileAuditRecords(undefined, context);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`reconcile failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
