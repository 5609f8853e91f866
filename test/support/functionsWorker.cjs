/**
 * Preload (`node --require`) standing in for the Azure Functions Node.js worker when a test loads
 * the bundle: the worker makes `@azure/functions-core` requirable, and `@azure/functions` talks to
 * the host through it. This one only records what the app asks of the host, in order, and prints
 * it as one JSON line when the process exits.
 */
const Module = require('node:module');

const events = [];
const functionsCore = {
  log(level, category, message) {
    events.push({ kind: 'log', level, category, message });
  },
  setProgrammingModel(model) {
    events.push({ kind: 'programmingModel', name: model.name });
  },
  registerFunction(metadata) {
    events.push({ kind: 'registerFunction', name: metadata.name, trigger: Object.values(metadata.bindings ?? {}).find((binding) => binding.direction === 'in')?.type });
    return { dispose() {} };
  },
  registerHook(name) {
    events.push({ kind: 'registerHook', name });
    return { dispose() {} };
  },
};

const load = Module._load;
Module._load = function loadWithFunctionsCore(request, parent, isMain) {
  if (request === '@azure/functions-core') return functionsCore;
  return load.call(this, request, parent, isMain);
};

process.on('exit', () => process.stdout.write(`${JSON.stringify(events)}\n`));
