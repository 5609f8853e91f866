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

/** The programming model's HTTP proxy (`HttpUri`), asked for once as the worker asks at start; null when the app does not stream. */
let httpUri;

async function streamingUri() {
  if (httpUri === undefined) {
    const capabilities = programmingModel.getCapabilities ? await programmingModel.getCapabilities({}) : {};
    httpUri = capabilities.HttpUri ?? null;
  }
  return httpUri;
}

/**
 * With HTTP streaming (`app.setup({ enableHttpStream: true })`) the host does not put the request
 * in the invocation: it sends it to the app's proxy with `x-ms-invocation-id`, and reads the
 * answer from there. Resolves with that answer as `RpcHttpData`.
 */
function sendThroughProxy(uri, invocationId, rpcHttp) {
  return new Promise((resolve, reject) => {
    const target = new URL(rpcHttp.url);
    const request = http.request(
      new URL(`${target.pathname}${target.search}`, uri),
      {
        method: rpcHttp.method,
        // As the host forwards a request: where it was sent, and which invocation it belongs to.
        headers: { ...rpcHttp.headers, 'x-forwarded-host': target.host, 'x-forwarded-proto': target.protocol.slice(0, -1), 'x-ms-invocation-id': invocationId },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const headers = {};
          for (const [name, value] of Object.entries(response.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
          resolve({ statusCode: String(response.statusCode), headers, body: { bytes: Buffer.concat(chunks) } });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    const body = rpcHttp.body?.string ?? (rpcHttp.body?.bytes ? Buffer.from(rpcHttp.body.bytes) : undefined);
    request.end(body);
  });
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
  const logs = [];
  const rpcHttp = inputData.find((input) => input.data?.http)?.data.http;
  const uri = rpcHttp ? await streamingUri() : null;
  if (uri) {
    // A streamed request's headers and route parameters reach the library as trigger metadata.
    const params = Object.fromEntries(Object.entries(rpcHttp.params ?? {}).map(([name, value]) => [name, { string: value }]));
    triggerMetadata = { ...triggerMetadata, ...params, Headers: { json: JSON.stringify(rpcHttp.headers ?? {}) } };
  }
  const coreContext = {
    invocationId,
    request: { invocationId, functionId: functionName, inputData, triggerMetadata },
    metadata: { ...entry.metadata, bindings: entry.metadata.bindings },
    state: undefined,
    log: (level, category, message) => logs.push({ level, category, message }),
  };
  const proxied = uri ? sendThroughProxy(uri, invocationId, rpcHttp) : undefined;
  // Not awaited here: the answer comes once the function has run and its response is written.
  proxied?.catch(() => undefined);
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
  if (proxied) response.returnValue = { http: await proxied };
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
