/**
 * Loads a function app folder the way the Azure Functions Node.js worker does, with the stand-in
 * `@azure/functions-core` the folder's node_modules provides (test/support/functions-core), and
 * runs the invocations it is given through the programming model the app set.
 *
 *   node functionsHostDriver.mjs <app folder>   < {"invocations":[{"function":"health","http":{…RpcHttpData}}]}
 *
 * Prints one JSON object: the programming model, every registration in order, and each
 * invocation's status, headers, body and log lines. Runs as its own process so nothing of the
 * test runner (module cache, test mode of @azure/functions) leaks in.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const appFolder = process.argv[2];
const scenario = JSON.parse(readFileSync(0, 'utf8') || '{"invocations":[]}');

// The same module instance the app's bundle gets when it requires @azure/functions-core.
const core = createRequire(join(appFolder, 'package.json'))('@azure/functions-core');
const { main } = JSON.parse(readFileSync(join(appFolder, 'package.json'), 'utf8'));
await import(pathToFileURL(join(appFolder, main)).href);

const registrations = core.registrations();
const results = [];
for (const invocation of scenario.invocations) {
  const registration = registrations.find((candidate) => candidate.name === invocation.function);
  const trigger = Object.entries(registration.bindings).find(([, binding]) => binding.direction === 'in' && /Trigger$/.test(binding.type));
  const { response, logs } = await core.invoke(invocation.function, [{ name: trigger[0], data: { http: invocation.http } }], {});
  const http = response.returnValue?.http;
  results.push({
    function: invocation.function,
    status: Number(http?.statusCode),
    headers: http?.headers ?? {},
    body: http?.body?.bytes ? Buffer.from(http.body.bytes).toString('utf8') : http?.body?.string ?? '',
    logs,
  });
}

const model = core.getProgrammingModel();
process.stdout.write(
  JSON.stringify({
    programmingModel: model ? { name: model.name, version: model.version } : null,
    registrations,
    results,
    systemLogs: core.systemLogs,
  }),
  // The programming model's HTTP proxy (streaming) would keep the process alive.
  () => process.exit(0),
);
