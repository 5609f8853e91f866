import type { HttpResponseInit } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { HttpRequest, InvocationContext } from '../../shared/azureFunctions';
import { FacadeError } from '../../shared/errors';
import type { OperationContext, Stage } from '../../shared/pipeline/context';
import { createOperationHandler } from '../../shared/pipeline/pipeline';
import { readBody } from '../../shared/pipeline/stages/readBody';
import { respond } from '../../shared/pipeline/stages/respond';
import { validate } from '../../shared/pipeline/stages/validate';
import type { Runtime } from '../../shared/runtime';
import { outcomeOf, requestLogEvent } from '../../shared/telemetry/requestLog';

/**
 * The one line a request logs: the correlation fields, through the invocation context, as JSON;
 * never the token or the body. Graph is replaced by a stage that answers like it.
 */

const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViamVjdCJ9.c2lnbmF0dXJlLXNlY3JldA';
const secretInBody = 'Confidential Marketing Plan 2027';

interface LogLine {
  level: string;
  text: string;
}

function invocation(lines: LogLine[]) {
  return new InvocationContext({
    invocationId: 'inv-123',
    functionName: 'createExternalGroup',
    logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(' ') }),
  });
}

function request(body: unknown, headers: Record<string, string> = {}) {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/v1.0/external/connections/contosohr/groups',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'client-request-id': 'client-1', ...headers },
    params: { version: 'v1.0', connectionId: 'contosohr' },
    body: { string: JSON.stringify(body) },
  });
}

const noRuntime = (): Runtime => {
  throw new Error('not needed');
};

const signIn: Stage = async (context, next) => {
  context.caller = { kind: 'app', id: 'caller-oid', roles: [], scopes: [] };
  return next();
};

/** Stands in for auditTrail + callGraph: Graph answers `status`, after `retries` retries. */
function graphAnswers(status: number, retries: number): Stage {
  return async (context: OperationContext): Promise<HttpResponseInit> => {
    context.graphResponse = { status, body: { id: 'g1', secret: secretInBody }, requestId: 'graph-req-9', retryAfter: undefined };
    context.graphRetries = retries;
    if (status === 201) return { status: 201, jsonBody: context.graphResponse.body };
    throw new FacadeError(status, 'TooManyRequests', 'Too many requests.', { headers: { 'retry-after': '3' } });
  };
}

async function run(stages: Stage[], body: unknown, headers?: Record<string, string>) {
  const lines: LogLine[] = [];
  const handler = createOperationHandler(createExternalGroup, stages, noRuntime);
  const response = await handler(request(body, headers), invocation(lines));
  return { response, lines };
}

const body = { id: 'g1', displayName: secretInBody, description: secretInBody };

describe('the request log line', () => {
  it('is one JSON line with every correlation field, for a created entity', async () => {
    const { response, lines } = await run([respond, readBody, signIn, validate, graphAnswers(201, 2)], body);
    expect(response.status).toBe(201);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('information');
    const fields = JSON.parse(lines[0]!.text) as Record<string, unknown>;
    expect(fields).toEqual({
      event: requestLogEvent,
      invocationId: 'inv-123',
      operation: 'createExternalGroup',
      requestId: (response.headers as Record<string, string>)['request-id'],
      clientRequestId: 'client-1',
      graphRequestId: 'graph-req-9',
      callerId: 'caller-oid',
      retries: 2,
      outcome: 'created',
      status: 201,
      durationMs: expect.any(Number),
      validateMs: expect.any(Number),
      totalMs: expect.any(Number),
    });
  });

  it('says graphError and warns when Graph refused, with its code and retries', async () => {
    const { response, lines } = await run([respond, readBody, signIn, validate, graphAnswers(429, 3)], body);
    expect(response.status).toBe(429);
    expect(lines[0]!.level).toBe('warning');
    expect(JSON.parse(lines[0]!.text)).toMatchObject({ outcome: 'graphError', status: 429, code: 'TooManyRequests', retries: 3 });
  });

  it('says rejected for invalid input, with retries 0 and no Graph request id', async () => {
    const { lines } = await run([respond, readBody, signIn, validate, graphAnswers(201, 0)], { id: 'has space', displayName: secretInBody });
    expect(JSON.parse(lines[0]!.text)).toMatchObject({ outcome: 'rejected', status: 400, code: 'invalidRequest', retries: 0 });
    expect(JSON.parse(lines[0]!.text)).not.toHaveProperty('graphRequestId');
  });

  it('says failed, logs an error with the reason, for an unexpected failure', async () => {
    const broken: Stage = async () => {
      throw new Error('socket hang up');
    };
    const { response, lines } = await run([respond, readBody, signIn, validate, broken], body);
    expect(response.status).toBe(500);
    expect(lines[0]!.level).toBe('error');
    expect(JSON.parse(lines[0]!.text)).toMatchObject({ outcome: 'failed', status: 500, code: 'generalException', reason: 'socket hang up' });
  });

  it('never contains the token, the authorization header or anything from the bodies', async () => {
    for (const stages of [
      [respond, readBody, signIn, validate, graphAnswers(201, 0)],
      [respond, readBody, signIn, validate, graphAnswers(429, 1)],
    ]) {
      const { lines } = await run(stages, body);
      const text = lines.map((line) => line.text).join('\n');
      expect(text).not.toContain(token);
      expect(text).not.toContain('Bearer');
      expect(text.toLowerCase()).not.toContain('authorization');
      expect(text).not.toContain(secretInBody);
    }
  });

  it('classifies outcomes by status and by who answered', () => {
    expect(outcomeOf(201, false)).toBe('created');
    expect(outcomeOf(202, false)).toBe('accepted');
    expect(outcomeOf(401, false)).toBe('denied');
    expect(outcomeOf(403, true)).toBe('denied');
    expect(outcomeOf(415, false)).toBe('rejected');
    expect(outcomeOf(409, true)).toBe('graphError');
    expect(outcomeOf(503, false)).toBe('failed');
    expect(outcomeOf(503, true)).toBe('graphError');
  });
});
