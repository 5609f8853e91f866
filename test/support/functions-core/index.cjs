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
  const coreContext = {
    invocationId,
    request: { invocationId, functionId: functionName, inputData, triggerMetadata },
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
