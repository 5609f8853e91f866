import { describe, expect, it } from 'vitest';
import { humanLine, jsonLine } from '../../dev/logFormat';

/** How the local host prints the functions' log lines: JSON when piped, one short line in a terminal. */

const requestLine = JSON.stringify({
  event: 'facade.request',
  invocationId: 'inv-1',
  operation: 'createExternalGroup',
  requestId: '6f1c0d3e-0000-4000-8000-000000000001',
  clientRequestId: 'flow-run-42',
  graphRequestId: 'graph-7',
  callerId: 'caller-1',
  retries: 1,
  outcome: 'created',
  status: 201,
  durationMs: 212,
});
const at = new Date(2026, 10, 28, 9, 5, 7);

describe('piped (not a terminal): one plain JSON object per line', () => {
  it('prints the logged object itself with its level, not a JSON string inside JSON', () => {
    const line = jsonLine('information', [requestLine]);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ level: 'information', ...JSON.parse(requestLine) });
    expect(line.length).toBeLessThan(requestLine.length + 30);
  });

  it('keeps a message that is not a JSON object as text', () => {
    expect(JSON.parse(jsonLine('error', ['unhandled function error', 'Error: boom\n    at x']))).toEqual({
      level: 'error',
      message: 'unhandled function error Error: boom\n    at x',
    });
  });
});

describe('in a terminal: one short line a person reads', () => {
  it('a request: time, status, operation, duration, retries and the ids', () => {
    expect(humanLine('information', [requestLine], at)).toBe(
      '09:05:07  201 createExternalGroup 212 ms 1 retries  request-id 6f1c0d3e-0000-4000-8000-000000000001  client-request-id flow-run-42  graph graph-7',
    );
  });

  it('a refused request names its code; a wrong route its method and path', () => {
    const refused = JSON.stringify({ event: 'facade.request', operation: 'unknownRoute', requestId: 'r1', clientRequestId: 'r1', status: 404, code: 'UnknownRoute', durationMs: 1, method: 'POST', path: '/api/v1.0/external/connectionz' });
    expect(humanLine('warning', [refused], at)).toBe('09:05:07  404 unknownRoute POST /api/v1.0/external/connectionz 1 ms UnknownRoute  request-id r1');
  });

  it('another event: its level, name and own fields', () => {
    const denied = JSON.stringify({ event: 'request denied', operation: 'createExternalGroup', requestId: 'r2', clientRequestId: 'c2', reason: 'missing role', status: 403 });
    expect(humanLine('warning', [denied], at)).toBe('09:05:07  warn  request denied  createExternalGroup  reason=missing role  status=403  request-id r2  client-request-id c2');
  });
});
