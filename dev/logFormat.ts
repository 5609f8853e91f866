import { format } from 'node:util';
import type { LogHandler, LogLevel } from '@azure/functions';
import { requestLogEvent } from '../shared/telemetry/requestLog';

/**
 * How the local host prints what the functions log. The functions write one JSON object per line
 * (shared/telemetry), as Application Insights wants it. Piped or captured, the local host prints
 * that object as it is, with its level: one plain JSON object per line. In a terminal it prints
 * one short line a person can read: time, status, operation, duration and the ids to look for.
 */

type Fields = Record<string, unknown>;

/** The object a log call carries, when it is one JSON object (every line the app writes is). */
function loggedObject(args: unknown[]): Fields | undefined {
  if (args.length !== 1 || typeof args[0] !== 'string' || !args[0].startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args[0]);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Fields) : undefined;
  } catch {
    return undefined;
  }
}

export function jsonLine(level: LogLevel, args: unknown[]): string {
  const fields = loggedObject(args);
  return JSON.stringify(fields ? { level, ...fields } : { level, message: format(...args) });
}

const levelLabel: Partial<Record<LogLevel, string>> = { warning: 'warn', error: 'error', critical: 'error', debug: 'debug', trace: 'trace' };
const correlation = ['invocationId', 'operation', 'requestId', 'clientRequestId', 'graphRequestId', 'callerId', 'retries'];

const clock = (now: Date) => now.toTimeString().slice(0, 8);

function idsOf(fields: Fields): string {
  return [
    fields.requestId ? `request-id ${String(fields.requestId)}` : '',
    fields.clientRequestId && fields.clientRequestId !== fields.requestId ? `client-request-id ${String(fields.clientRequestId)}` : '',
    fields.graphRequestId ? `graph ${String(fields.graphRequestId)}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

export function humanLine(level: LogLevel, args: unknown[], now: Date = new Date()): string {
  const fields = loggedObject(args);
  const label = levelLabel[level];
  if (!fields) return [clock(now), label, format(...args)].filter(Boolean).join('  ');
  if (fields.event === requestLogEvent) {
    const what = [
      String(fields.status ?? '?'),
      String(fields.operation ?? ''),
      fields.method && fields.path ? `${String(fields.method)} ${String(fields.path)}` : '',
      `${String(fields.durationMs ?? '?')} ms`,
      fields.code ? String(fields.code) : '',
      Number(fields.retries) > 0 ? `${String(fields.retries)} retries` : '',
      fields.reason ? `(${String(fields.reason)})` : '',
    ].filter(Boolean);
    return [clock(now), what.join(' '), idsOf(fields)].filter(Boolean).join('  ');
  }
  const rest = Object.entries(fields)
    .filter(([name, value]) => name !== 'event' && !correlation.includes(name) && value !== undefined)
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return [clock(now), label, String(fields.event ?? ''), fields.operation ? String(fields.operation) : '', ...rest, idsOf(fields)]
    .filter(Boolean)
    .join('  ');
}

/** Human lines on a terminal, JSON lines otherwise; one line per log call, on stdout. */
export function consoleLogHandler(stream: NodeJS.WriteStream = process.stdout): LogHandler {
  const line = stream.isTTY ? humanLine : jsonLine;
  return (level, ...args) => {
    stream.write(`${line(level, args)}\n`);
  };
}
