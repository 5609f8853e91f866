'use strict';
/**
 * A stand-in for `@azure/functions-core`, the module the Azure Functions Node.js worker makes
 * requirable for the app it loads. It implements the worker's documented module interface (the
 * `types-core` declarations `@azure/functions` is built against): `version`, `hostVersion`,
 * `registerFunction`, `registerHook`, `setProgrammingModel`, `getProgrammingModel`, `log` and
 * `Disposable`. With it in place `@azure/functions` leaves its test mode, so the app's real
 * `app.http`/`app.timer` registration and the library's own request/response conversion run.
 *
 * Test-only additions, as the worker's own bookkeeping: `registrations()` lists what was
 * registered, in order, and `invoke()` carries one invocation through the programming model the
 * way the worker does (getInvocationModel → getArguments → preInvocation hooks → invokeFunction →
 * postInvocation hooks → getResponse).
 */

const { randomUUID } = require('node:crypto');
const http = require('node:http');

class Disposable {
  static from(...disposables) {
    return new Disposable(() => disposables.forEach((disposable) => disposable.dispose()));
  }

  constructor(callOnDispose) {
    this._callOnDispose = callOnDispose;
    this._disposed = false;
  }

  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    this._callOnDispose();
  }
}

const functions = [];
const hooks = { preInvocation: [], postInvocation: [], appStart: [], appTerminate: [], log: [] };
const systemLogs = [];
let programmingModel;

function registerFunction(metadata, callback) {
  if (!metadata || typeof metadata.name !== 'string') throw new Error('registerFunction: metadata.name is required');
  if (typeof callback !== 'function') throw new Error(`registerFunction: "${metadata.name}" has no callback`);
  if (functions.some((entry) => entry.metadata.name === metadata.name)) {
    throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
  }
  const entry = { metadata, callback };
  functions.push(entry);
  return new Disposable(() => functions.splice(functions.indexOf(entry), 1));
}

function registerHook(hookName, callback) {
  const list = hooks[hookName];
  if (!list) throw new Error(`Unknown hook "${hookName}"`);
  list.push(callback);
  return new Disposable(() => list.splice(list.indexOf(callback), 1));
}

function setProgrammingModel(model) {
  programmingModel = model;
}

function getProgrammingModel() {
  return programmingModel;
}

function log(level, category, message) {
  systemLogs.push({ level, category, message });
}

function registrations() {
  return functions.map(({ metadata }) => ({ name: metadata.name, bindings: metadata.bindings, retryOptions: metadata.retryOptions }));
}

/** The worker's capabilities, asked of the programming model once, as the worker does at start-up. */
let capabilities;
async function workerCapabilities() {
  capabilities ??= programmingModel && typeof programmingModel.getCapabilities === 'function' ? await programmingModel.getCapabilities({}) : {};
  return capabilities;
}

/**
 * With HTTP streaming on (`HttpUri` among the capabilities) the host does not put the request in
 * the invocation: it sends it to the library's proxy with the invocation id, and reads the answer
 * from there; headers and route parameters travel in the trigger metadata.
 */
function sendThroughProxy(httpUri, invocationId, rpcHttp) {
  const url = new URL(rpcHttp.url);
  const target = new URL(`${url.pathname}${url.search}`, httpUri);
  return new Promise((resolve, reject) => {
    const request = http.request(
      target,
      {
        method: rpcHttp.method,
        headers: {
          ...(rpcHttp.headers ?? {}),
          'x-ms-invocation-id': invocationId,
          'x-forwarded-host': url.host,
          'x-forwarded-proto': url.protocol.replace(/:$/, ''),
        },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            statusCode: String(response.statusCode),
            headers: Object.fromEntries(Object.entries(response.headers).filter(([name]) => name !== 'x-ms-invocation-id').map(([name, value]) => [name, String(value)])),
            body: { bytes: Buffer.concat(chunks) },
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(rpcHttp.body?.string ?? undefined);
  });
}

function streamTriggerMetadata(rpcHttp) {
  const metadata = { Headers: { json: JSON.stringify(rpcHttp.headers ?? {}) }, Query: { json: JSON.stringify(rpcHttp.query ?? {}) } };
  for (const [name, value] of Object.entries(rpcHttp.params ?? {})) metadata[name] = { string: value };
  return metadata;
}

/**
 * Invokes a registered function as the worker does. `inputData` is the host's list of
 * `{ name, data }` bindings (e.g. `{ http: RpcHttpData }` for an HTTP trigger).
 */
async function invoke(functionName, inputData, triggerMetadata = {}) {
  const entry = functions.find((candidate) => candidate.metadata.name === functionName);
  if (!entry) throw new Error(`No function "${functionName}" is registered`);
  if (!programmingModel) throw new Error('No programming model was set');
  const invocationId = randomUUID();
  const { HttpUri: httpUri } = await workerCapabilities();
  const rpcHttp = inputData.find((binding) => binding.data && binding.data.http)?.data.http;
  const streamed = httpUri && rpcHttp ? sendThroughProxy(httpUri, invocationId, rpcHttp) : undefined;
  const logs = [];
  const coreContext = {
    invocationId,
    request: { invocationId, functionId: functionName, inputData, triggerMetadata: streamed ? { ...streamTriggerMetadata(rpcHttp), ...triggerMetadata } : triggerMetadata },
    metadata: { ...entry.metadata, bindings: entry.metadata.bindings },
    state: undefined,
    log: (level, category, message) => logs.push({ level, category, message }),
  };
  const model = await programmingModel.getInvocationModel(coreContext);
  const { context, inputs } = await model.getArguments();
  const hookData = {};
  const pre = { hookData, appHookData: {}, invocationContext: context, inputs, functionCallback: entry.callback };
  coreContext.state = 'preInvocationHooks';
  for (const hook of hooks.preInvocation) await hook(pre);
  coreContext.state = 'invocation';
  let result;
  let error = null;
  try {
    result = await model.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (caught) {
    error = caught;
  }
  const post = { hookData, appHookData: {}, invocationContext: context, inputs: pre.inputs, result, error };
  coreContext.state = 'postInvocationHooks';
  for (const hook of hooks.postInvocation) await hook(post);
  coreContext.state = undefined;
  if (post.error) throw post.error;
  const response = await model.getResponse(context, post.result);
  // Streamed: the answer went back over the proxy; it is reported as the invocation's http return value.
  if (streamed) return { response: { ...response, returnValue: { http: await streamed } }, logs, streamed: true };
  return { response, logs };
}

module.exports = {
  version: '3.0.0-stand-in',
  hostVersion: '4.0.0-stand-in',
  Disposable,
  registerFunction,
  registerHook,
  setProgrammingModel,
  getProgrammingModel,
  log,
  registrations,
  invoke,
  systemLogs,
};
