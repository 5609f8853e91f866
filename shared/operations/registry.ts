import { createRequire } from 'node:module';
import type { HttpFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import { app } from '../azureFunctions';

/**
 * The app's own list of function definitions. Under the Functions host each is also passed to
 * `app.http`/`app.timer`; outside it (tests, the local host) `@azure/functions` is in test mode,
 * where registering would only print warnings, so the list is all there is.
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

export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition;

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
