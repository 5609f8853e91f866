/**
 * `npm run reconcile`: one reconciliation run against the configured audit storage and Graph
 * (environment, then local.settings.json `Values`), as the timer function does every 5 minutes.
 * With neither configuring storage, Graph or the identity endpoint, it runs against the running
 * `npm start` (its `.local/stack.json`, dev/localState.ts); a setting given still wins
 * (`RECONCILE_AFTER_MINUTES=0 npm run reconcile` settles records of the last minutes too).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvocationContext } from '../shared/azureFunctions';
import { toolSettings } from './localState';
import { consoleLogHandler } from './logFormat';

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true, strict: true });
  const { settings, source } = toolSettings();
  for (const [name, value] of Object.entries(settings)) process.env[name] ??= value;
  process.stderr.write(`reconcile: settings from ${source}\n`);
  const entry = pathToFileURL(positionals[0] ?? 'dist/index.mjs').href;
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
