/**
 * `npm run reconcile`: one reconciliation run against the configured audit storage and Graph
 * (environment, then local.settings.json `Values`), as the timer function does every 5 minutes.
 * With neither configuring storage, Graph or the identity endpoint, it runs against the running
 * `npm start` (the one `PORT` names, or the only one running: dev/localState.ts); a setting given
 * still wins (`RECONCILE_AFTER_MINUTES=0 npm run reconcile` settles records of the last minutes too).
 *
 * It runs the built bundle, rebuilt first only when a source is newer than it. It exits 1 when
 * the run could not settle a record it examined or could not read the table (the summary's
 * `errors`), so a scheduled job notices.
 *
 * `node --import tsx dev/reconcile.ts <bundle>` runs that bundle as it is (tests).
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvocationContext } from '../shared/azureFunctions';
import { bundleState } from './bundleFreshness';
import { toolSettings } from './localState';
import { consoleLogHandler } from './logFormat';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** The bundle, built again only when it is missing or older than a source. */
async function currentBundle(): Promise<string> {
  const bundle = join(projectRoot, 'dist', 'index.mjs');
  const found = bundleState(projectRoot, bundle);
  if (found.state === 'current') {
    process.stderr.write('reconcile: dist/index.mjs is up to date\n');
    return bundle;
  }
  process.stderr.write(`reconcile: building dist/index.mjs (${found.state === 'missing' ? 'not built yet' : `changed: ${found.changed.join(', ')}`})\n`);
  const { buildApp } = await import('../build');
  return (await buildApp()).bundle;
}

async function main(): Promise<number> {
  const { positionals } = parseArgs({ allowPositionals: true, strict: true });
  const { settings, source } = toolSettings();
  for (const [name, value] of Object.entries(settings)) process.env[name] ??= value;
  process.stderr.write(`reconcile: settings from ${source}\n`);
  const entry = pathToFileURL(positionals[0] ?? (await currentBundle())).href;
  const { reconcileAuditRecords } = (await import(entry)) as typeof import('../functions/index');
  const context = new InvocationContext({
    functionName: 'reconcile',
    logHandler: consoleLogHandler(),
  });
  const summary = await reconcileAuditRecords(undefined, context);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (summary.errors.length === 0) return 0;
  process.stderr.write(`reconcile: ${summary.errors.length === 1 ? 'one error' : `${summary.errors.length} errors`}; the records named stay as they were and are looked at again on the next run\n`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`reconcile failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
