/**
 * `npm start`: builds the bundle and serves the whole API on http://127.0.0.1:${PORT:-7071}/api
 * with the embedded defaults (Graph emulator, identity endpoint, Azurite, dev token issuer) for
 * whatever is not configured. Settings come from the environment, then `local.settings.json`
 * `Values`, as `func start` reads them. It says what it is doing, one line per part with its
 * timing, then prints the shell exports the README's examples use.
 *
 * `npm start -- --stack-only` (`npm run stack`) starts only the embedded parts and prints the
 * `Values` to put in local.settings.json for `func start`.
 *
 * While it runs, `.local/stack-{port}.json` (`LOCAL_STATE_DIR`) holds the settings it serves with
 * and the API's URL, for `npm run audit` and `npm run reconcile`; it removes that file, and only
 * that one, when it stops.
 *
 * `node --import tsx dev/start.ts <bundle>` serves a bundle that is already built (tests).
 */
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { FunctionDefinition } from '../shared/operations/registry';
import { startLocalHost, type LocalHost } from './localHost';
import { localSettings } from './localSettings';
import { startLocalStack, type LocalStack, type StepRunner } from './localStack';
import { appSettingsOf, devKeyFileIn, localStateDir, removeStackFile, writeStackFile } from './localState';
import { startQueueTriggers, type QueueTriggers } from './queueTriggers';
import { firstLine, StartupError } from './startupError';

const defaultPort = 7071;
const defaultDrainSeconds = 30;

const { values: flags, positionals } = parseArgs({
  options: { 'stack-only': { type: 'boolean', default: false } },
  allowPositionals: true,
  strict: true,
});

function portFrom(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return defaultPort;
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) {
    throw new StartupError(
      `PORT must be a whole number from 0 to 65535, got "${value}".`,
      `Set PORT to a free port, e.g. PORT=7072 npm start (PORT=0 picks a free one), or unset it for ${defaultPort}.`,
    );
  }
  return port;
}

function portInUse(port: number, cause?: unknown): StartupError {
  return new StartupError(
    `Port ${port} on 127.0.0.1 is already in use.`,
    `Is npm start already running? Stop it, or set PORT to another port, e.g. PORT=${port + 1} npm start (PORT=0 picks a free one).`,
    { cause },
  );
}

function listenFailure(port: number, error: unknown): StartupError | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return portInUse(port, error);
  if (code === 'EACCES') {
    return new StartupError(`Port ${port} needs privileges this user does not have.`, 'Set PORT to a port from 1024 up, e.g. PORT=7071 npm start.', { cause: error });
  }
  return undefined;
}

/** Fails fast, before anything is built or started, when the port is taken. */
async function ensurePortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error) => reject(listenFailure(port, error) ?? error));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function drainSecondsFrom(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return defaultDrainSeconds;
  if (!/^\d+$/.test(value.trim())) {
    throw new StartupError(`LOCAL_DRAIN_SECONDS must be a whole number of seconds, got "${value}".`, `Set it to how long Ctrl-C may wait for work in flight, or unset it for ${defaultDrainSeconds}.`);
  }
  return Number(value);
}

const counted = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/**
 * Ctrl-C while work is in flight: nothing new is accepted, the requests and queued jobs running
 * are answered and finished for up to LOCAL_DRAIN_SECONDS (a second Ctrl-C stops waiting), then
 * everything stops. Says what it waits for, and what it left unfinished.
 */
async function drain(served: { host: LocalHost; queueTriggers: QueueTriggers }, boundSeconds: number, giveUp: Promise<void>): Promise<void> {
  const requests = served.host.inFlight();
  const jobs = served.queueTriggers.inFlight();
  if (requests + jobs === 0) {
    process.stdout.write('\nStopping: nothing in flight.\n');
  } else {
    process.stdout.write(
      `\nStopping: no new requests; waiting up to ${boundSeconds} s for ${counted(requests, 'request', 'requests')} and ${counted(jobs, 'queued job', 'queued jobs')} in flight (Ctrl-C again to stop now).\n`,
    );
  }
  const began = performance.now();
  const [requestsLeft] = await Promise.all([served.host.drain(boundSeconds * 1_000, giveUp), Promise.race([served.queueTriggers.close(), giveUp])]);
  const jobsLeft = served.queueTriggers.inFlight();
  if (requests + jobs === 0) return;
  process.stdout.write(
    requestsLeft + jobsLeft === 0
      ? `Finished what was in flight in ${seconds(performance.now() - began)}.\n`
      : `Stopped waiting after ${seconds(performance.now() - began)}: ${counted(requestsLeft, 'request', 'requests')} and ${counted(jobsLeft, 'queued job', 'queued jobs')} unfinished (their audit records stay pending; reconciliation settles them).\n`,
  );
}

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** One line per part: its name while it starts, then what it is and how long it took. */
const step: StepRunner = async (label, start, describe) => {
  process.stdout.write(`  ${label.padEnd(31, ' ')}`);
  const began = performance.now();
  try {
    const started = await start();
    process.stdout.write(`${describe(started)}  ${seconds(performance.now() - began)}\n`);
    return started;
  } catch (error) {
    process.stdout.write(`failed after ${seconds(performance.now() - began)}\n`);
    throw error;
  }
};

async function buildBundle(): Promise<string> {
  const { buildApp } = await import('../build');
  const built = await step('build', () => buildApp().catch((error: unknown) => {
    throw new StartupError(`The build failed: ${firstLine(error)}`, 'Fix the errors above, then run npm start again.', { cause: error });
  }), (app) => `dist/index.mjs (${Math.round(app.bundleBytes / 1024)} KiB)`);
  return built.bundle;
}

function exportsLine(values: Record<string, string | undefined>): string {
  const quoted = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  return `export ${Object.entries(values)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${quoted(value)}`)
    .join(' ')}`;
}

async function devToken(stack: LocalStack): Promise<string | undefined> {
  return stack.started.tokenIssuer?.mint({ lifetimeSeconds: 12 * 3600 });
}

function partsSummary(stack: LocalStack, stackPath: string): string[] {
  const { started, env } = stack;
  return [
    `  Graph              ${env.GRAPH_BASE_URL}${started.graphEmulator ? ' (local emulator; scripted faults at $GRAPH/_emulator/faults)' : ''}`,
    `  Identity endpoint  ${env.IDENTITY_ENDPOINT}${started.identityEndpoint ? ' (local)' : ''}`,
    `  Audit storage      ${started.azurite ? `Azurite on 127.0.0.1, tables :${started.azurite.port}, queues :${started.azurite.queuePort} (in memory)` : 'as configured'}`,
    `  Caller tokens      ${started.tokenIssuer ? 'local dev issuer (npm run -s token -- --roles ROLE mints more)' : `Microsoft Entra ID tenant ${env.AUTH_TENANT_ID ?? '(AUTH_TENANT_ID not set: every operation answers 503)'}`}`,
    `  Audit trail        $API/audit (role Audit.Read) or npm run audit; npm run audit and reconcile use this stack (${displayPath(stackPath)})`,
  ];
}

const displayPath = (path: string) => (path.startsWith(`${process.cwd()}/`) ? path.slice(process.cwd().length + 1) : path);

/** The settings the stack serves with, for the tools beside it (dev/localState.ts); the file's path. */
function recordStack(stack: LocalStack, stateDir: string, api: string | undefined): string {
  return writeStackFile(stateDir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ...(api ? { api, port: Number(new URL(api).port) } : {}),
    devTokens: stack.started.tokenIssuer !== undefined,
    settings: appSettingsOf(stack.env),
  });
}

async function serve(stack: LocalStack, entry: string, port: number, drainSeconds: number, began: number, stateDir: string, recorded: (path: string) => void): Promise<{ host: LocalHost; queueTriggers: QueueTriggers }> {
  Object.assign(process.env, stack.env);
  const { functionDefinitions } = (await import(pathToFileURL(entry).href)) as { functionDefinitions: FunctionDefinition[] };
  const quiet = process.env.LOCAL_HOST_QUIET === '1';
  const host = await step(
    'local host',
    () =>
      startLocalHost({ definitions: functionDefinitions, port, ...(quiet ? { logHandler: () => undefined } : {}) }).catch((error: unknown) => {
        throw listenFailure(port, error) ?? error;
      }),
    (started) => started.apiUrl,
  );
  const queueTriggers = await startQueueTriggers({
    definitions: functionDefinitions,
    env: process.env,
    // Jobs running at Ctrl-C get as long as the requests do.
    options: { shutdownGraceMs: drainSeconds * 1_000 },
    ...(quiet ? { logHandler: () => undefined } : {}),
  });
  const stackPath = recordStack(stack, stateDir, host.apiUrl);
  recorded(stackPath);
  const token = await devToken(stack);
  const routes = functionDefinitions.flatMap((definition) =>
    definition.kind === 'http' && !definition.options.route.includes('{*')
      ? [`  ${(definition.options.methods ?? ['GET', 'POST']).join(',').padEnd(5)} $API/${definition.options.route}`]
      : [],
  );
  process.stdout.write(
    [
      '',
      `Ready in ${seconds(performance.now() - began)}.`,
      `API: ${host.apiUrl}`,
      ...partsSummary(stack, stackPath),
      'Routes:',
      ...routes,
      '  any other path or method: a Graph-shaped 404 naming the nearest route, or 405 with Allow',
      '',
      'Paste this into another terminal; the README examples use these variables:',
      '',
      exportsLine({
        API: host.apiUrl,
        GRAPH: stack.env.GRAPH_BASE_URL,
        TOKEN: token,
      }),
      ...(token ? [] : ['  (TOKEN: an access token for the facade app registration, e.g. TOKEN=$(az account get-access-token --resource "$AUTH_AUDIENCE" --query accessToken -o tsv))']),
      '',
      `curl -s -X POST "$API/v1.0/external/connections" -H 'Content-Type: application/json' \\`,
      `  -H "Authorization: Bearer $TOKEN" \\`,
      `  -d '{"id":"contosohr","name":"Contoso HR","description":"Connection to index Contoso HR system"}'`,
      `curl -s "$API/audit?operation=createExternalConnection" -H "Authorization: Bearer $TOKEN"`,
      '',
      `${quiet ? 'Requests are not logged (LOCAL_HOST_QUIET=1).' : 'Each request is logged below, one line each.'} Ctrl-C stops everything.`,
      '',
    ].join('\n'),
  );
  return { host, queueTriggers };
}

async function printStackValues(stack: LocalStack, stateDir: string, recorded: (path: string) => void): Promise<void> {
  const stackPath = recordStack(stack, stateDir, undefined);
  recorded(stackPath);
  const names = ['GRAPH_BASE_URL', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AuditStorage', 'AUTH_TENANT_ID', 'AUTH_AUDIENCE', 'AUTH_JWKS_URI'];
  const values = Object.fromEntries(names.flatMap((name) => (stack.env[name] ? [[name, stack.env[name]]] : [])));
  const token = await devToken(stack);
  process.stdout.write(
    [
      '',
      'Running. Put these in the Values of local.settings.json, then run func start in another terminal:',
      '',
      JSON.stringify(values, null, 2),
      '',
      exportsLine({ API: 'http://localhost:7071/api', GRAPH: stack.env.GRAPH_BASE_URL, TOKEN: token }),
      '',
      `npm run reconcile uses these parts while they run (${displayPath(stackPath)}). Ctrl-C stops everything.`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const began = performance.now();
  const given = { ...localSettings(), ...process.env };
  const port = portFrom(given.PORT);
  const drainSeconds = drainSecondsFrom(given.LOCAL_DRAIN_SECONDS);
  const stackOnly = flags['stack-only'];
  if (!stackOnly) await ensurePortFree(port);
  process.stdout.write(stackOnly ? `Starting the local parts for func start (Node ${process.version}):\n` : `Starting graph-connectors-facade (Node ${process.version}):\n`);
  const entry = stackOnly ? '' : positionals[0] ?? (await buildBundle());
  const stateDir = localStateDir(given);
  const stack = await startLocalStack(given, { step, devKeyFile: devKeyFileIn(stateDir) });

  let served: { host: LocalHost; queueTriggers: QueueTriggers } | undefined;
  let stackPath: string | undefined;
  const recorded = (path: string) => (stackPath = path);
  const forgetStack = () => stackPath && removeStackFile(stackPath, process.pid);
  let stopping = false;
  let stopWaiting = () => undefined as void;
  const secondSignal = new Promise<void>((resolve) => (stopWaiting = resolve));
  const shutdown = async (code: number) => {
    if (stopping) {
      stopWaiting();
      return;
    }
    stopping = true;
    // The tools stop using this stack at once; it serves only what is in flight.
    forgetStack();
    if (served) await drain(served, drainSeconds, secondSignal);
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('disconnect', () => void shutdown(0));
  // npm does not pass SIGTERM on through its shell: when the process that started us is gone,
  // stop too, rather than leave the host and Azurite running with nobody to stop them.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown(0);
  }, 1_000).unref();

  try {
    if (stackOnly) await printStackValues(stack, stateDir, recorded);
    else served = await serve(stack, entry, port, drainSeconds, began, stateDir, recorded);
  } catch (error) {
    forgetStack();
    await stack.stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  if (error instanceof StartupError) {
    process.stderr.write(`\nnpm start: ${error.message}\n  ${error.fix}\n`);
  } else {
    process.stderr.write(`\nnpm start failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
