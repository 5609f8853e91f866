import type { HttpRequest as HttpRequestType, HttpResponseInit, InvocationContext as InvocationContextType } from '@azure/functions';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import type { Stage } from '../../shared/pipeline/context';
import { authenticate } from '../../shared/pipeline/stages/authenticate';
import { authorize } from '../../shared/pipeline/stages/authorize';
import { readBody } from '../../shared/pipeline/stages/readBody';
import { respond } from '../../shared/pipeline/stages/respond';

/** Helpers for calling an operation handler directly, as the Functions host does. */

export interface LogEntry {
  level: string;
  message: unknown;
  fields: Record<string, unknown>;
}

/** An InvocationContext whose log lines are kept (and not printed). */
export function capturingInvocation(functionName = 'createExternalConnection'): { invocation: InvocationContextType; logs: LogEntry[] } {
  const logs: LogEntry[] = [];
  const invocation = new InvocationContext({
    functionName,
    logHandler: (level, ...args) => {
      // The pipeline writes JSON lines (shared/telemetry): `event` names the line.
      const line = typeof args[0] === 'string' && args[0].startsWith('{') ? (JSON.parse(args[0]) as Record<string, unknown>) : undefined;
      const fields = line ?? args.find((arg): arg is Record<string, unknown> => typeof arg === 'object' && arg !== null) ?? {};
      logs.push({ level, message: line ? line.event : args[0], fields });
    },
  });
  return { invocation, logs };
}

export function connectionRequest(headers: Record<string, string> = {}, body: unknown = { id: 'authconn', name: 'Auth' }): HttpRequestType {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/v1.0/external/connections',
    headers: { 'content-type': 'application/json', ...headers },
    params: { version: 'v1.0' },
    body: { string: JSON.stringify(body) },
  });
}

/** Terminal stage answering 200 with the caller the auth stages set. */
export const echoCaller: Stage = async (context): Promise<HttpResponseInit> => ({ status: 200, jsonBody: { caller: context.caller } });

/** The auth part of the pipeline only, then `echoCaller`. */
export const authStages: readonly Stage[] = [respond, authenticate, authorize, readBody, echoCaller];

export interface GraphShapedError {
  error: { code: string; message: string; innerError: Record<string, string> };
}

export const errorOf = (response: HttpResponseInit) => (response.jsonBody as GraphShapedError).error;

export function headerOf(response: HttpResponseInit, name: string): string | undefined {
  return (response.headers as Record<string, string> | undefined)?.[name];
}
