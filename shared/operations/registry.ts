import { createRequire } from 'node:module';
import type { HttpFunctionOptions, StorageQueueFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import { app } from '../azureFunctions';

/**
 * The app's own list of function definitions. Under the Functions host each is also passed to
 * `app.http`/`app.timer`/`app.storageQueue`; outside it (tests, the local host) `@azure/functions`
 * is in test mode, where registering would only print warnings, so the list is all there is.
 *
 * Under the host, HTTP streaming is turned on first (`app.setup({ enableHttpStream: true })`):
 * without it the worker receives every request body whole before a handler runs, so neither the
 * 1 MiB cap (shared/http/jsonBody.ts) nor the order "authenticate, then read the body" would hold
 * in Azure. With it, `request.body` is a stream the pipeline reads only after authorization, and
 * stops reading one chunk past the cap. `setup` must come before the first registration and is
 * not called in test mode (there it would only log).
 */

export interface HttpFunctionDefinition {
  kind: 'http';
  name: string;
  options: HttpFunctionOptions & { route: string };
}

export interface TimerFunctionDefinition {
  kind: 'timer';
  name: string;
  options: TimerFunctionOptions;
}

export interface QueueFunctionDefinition {
  kind: 'queue';
  name: string;
  options: StorageQueueFunctionOptions;
}

export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition | QueueFunctionDefinition;

export const functionDefinitions: FunctionDefinition[] = [];

let insideFunctionsHost: boolean | undefined;

/** The Functions worker makes `@azure/functions-core` requirable; nothing else does. */
function runsInFunctionsHost(): boolean {
  if (insideFunctionsHost === undefined) {
    try {
      createRequire(import.meta.url)('@azure/functions-core');
      insideFunctionsHost = true;
    } catch {
      insideFunctionsHost = false;
    }
  }
  return insideFunctionsHost;
}

let hostSetUp = false;

/** Under the Functions host, before the first function is registered: stream request bodies. */
function setUpHost(): boolean {
  if (!runsInFunctionsHost()) return false;
  if (!hostSetUp) {
    app.setup({ enableHttpStream: true });
    hostSetUp = true;
  }
  return true;
}

export function registerHttp(name: string, options: HttpFunctionOptions & { route: string }): void {
  if (functionDefinitions.some((definition) => definition.name === name)) return;
  functionDefinitions.push({ kind: 'http', name, options });
  if (setUpHost()) app.http(name, options);
}

export function registerTimer(name: string, options: TimerFunctionOptions): void {
  if (functionDefinitions.some((definition) => definition.name === name)) return;
  functionDefinitions.push({ kind: 'timer', name, options });
  if (setUpHost()) app.timer(name, options);
}

/**
 * A queue-triggered function: runs once per message of `queueName` on the storage account named by
 * `connection` (an app setting prefix: `AuditStorage` reads the connection string `AuditStorage`,
 * or identity-based `AuditStorage__queueServiceUri`). The Functions host (and the local host,
 * dev/queueTriggers.ts) keeps the message invisible while the handler runs, deletes it when the
 * handler returns, makes it visible again after host.json `extensions.queues.visibilityTimeout`
 * when the handler throws, and moves it to `{queueName}-poison` after `maxDequeueCount` failures.
 *
 * The handler receives the message's JSON as parsed (send it with `Queues.send`), typed `unknown`:
 * validate it. `context.triggerMetadata.dequeueCount` says which attempt this is (1 for the first);
 * the same message can run more than once (a retry, or a crashed instance's message reappearing),
 * so the handler must be idempotent.
 */
export function registerQueue(name: string, options: StorageQueueFunctionOptions): void {
  if (functionDefinitions.some((definition) => definition.name === name)) return;
  functionDefinitions.push({ kind: 'queue', name, options });
  if (setUpHost()) app.storageQueue(name, options);
}
