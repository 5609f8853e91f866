import { createRequire } from 'node:module';
import type { HttpFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import { app } from '../azureFunctions';

/**
 * The app's own list of function definitions. Under the Functions host each is also passed to
 * `app.http`/`app.timer`; outside it (tests, the local host) `@azure/functions` is in test mode,
 * where registering would only print warnings, so the list is all there is.
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

export function registerHttp(name: string, options: HttpFunctionOptions & { route: string }): void {
  if (functionDefinitions.some((definition) => definition.name === name)) return;
  functionDefinitions.push({ kind: 'http', name, options });
  if (runsInFunctionsHost()) app.http(name, options);
}

export function registerTimer(name: string, options: TimerFunctionOptions): void {
  if (functionDefinitions.some((definition) => definition.name === name)) return;
  functionDefinitions.push({ kind: 'timer', name, options });
  if (runsInFunctionsHost()) app.timer(name, options);
}
