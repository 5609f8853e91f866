import { FacadeError } from '../errors';
import type { TokenProvider } from '../identity/tokenProvider';
import { systemClock, type Clock } from '../time/clock';
import { backoffDelay, maxRetries, parseRetryAfter, retriableStatuses, retryAfterSeconds } from './retryPolicy';
import { GraphTransport, type AttemptFailure, type PreparedRequest } from './transport';

export interface GraphRequest {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path below the base URL, version included: `/v1.0/external/connections`. Already encoded. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface GraphResponse {
  status: number;
  body: unknown;
  /** Graph's `request-id` response header. */
  requestId: string | undefined;
  retryAfter: string | undefined;
  /** Graph's `Location` header, when it sent one. */
  location?: string;
}

/**
 * `all`: every retriable failure is retried (safe when a duplicate is detectable, because the
 * caller chose the id). `throttlingOnly`: only answers that prove Graph did nothing (429, a refused
 * connection) are retried; an attempt whose outcome is unknown is never repeated.
 */
export type RetryMode = 'all' | 'throttlingOnly';

export interface SendOptions {
  /** Epoch ms by which the whole exchange, retries included, must be over. */
  deadlineAt: number;
  retryMode: RetryMode;
  /** Filled in as the exchange goes, so a caller knows the retries also when it ends in an error. */
  progress?: ExchangeProgress;
  /** The deadline's length, for the message when it runs out (GRAPH_DEADLINE_MS). */
  deadlineMs?: number;
  /** Retries at most (default `maxRetries`, 3); 0 when the caller retries itself (JSON batches, per step). */
  maxRetries?: number;
}

export interface ExchangeProgress {
  /** Attempts after the first. */
  retries: number;
  /** Some attempt may have been carried out by Graph although we saw no success. */
  uncertain: boolean;
}

export interface GraphExchange {
  response: GraphResponse;
  /** Attempts after the first. */
  retries: number;
  /** An earlier attempt may have been carried out by Graph although we saw no success. */
  earlierAttemptUncertain: boolean;
}

export interface GraphClientOptions {
  baseUrl: string;
  tokens: TokenProvider;
  attemptTimeoutMs: number;
  backoffBaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The clock deadlines are measured on. */
  clock?: Clock;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The least time worth starting an attempt with. */
export const minimumAttemptMs = 250;

/**
 * Calls Microsoft Graph with the app's identity, retrying as Graph asks, inside one deadline.
 * One instance per process: its transport keeps connections to Graph alive between requests.
 * An attempt that failed is `refused` (the connection was never made, so nothing reached Graph),
 * or a `timeout` or `lost` answer: the request may have reached Graph and been carried out — any
 * failure not proven to have happened before the request left this process (a reset, an answer
 * that is not HTTP, …) counts as lost (shared/graph/transport.ts).
 */
export class GraphClient {
  /** Base of the exponential back-off when Graph names no wait (callers that retry themselves use it too). */
  readonly backoffBaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: Clock;
  private readonly transport: GraphTransport;

  constructor(private readonly options: GraphClientOptions) {
    this.backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.clock = options.clock ?? systemClock;
    this.transport = new GraphTransport(options.baseUrl);
  }

  /** Closes the connections kept to Graph. */
  close(): void {
    this.transport.close();
  }

  /** A `@odata.nextLink` as a path below the base URL; a link elsewhere is refused. */
  relativePath(link: string): string {
    const url = new URL(link, this.options.baseUrl);
    const base = new URL(this.options.baseUrl);
    if (url.origin !== base.origin) throw new Error(`nextLink points away from Graph: ${url.origin}`);
    return `${url.pathname.slice(base.pathname.replace(/\/$/, '').length)}${url.search}`;
  }

  /** Gets (or reuses) the token now, so a missing identity is known before anything else happens. */
  async ensureToken(): Promise<void> {
    await this.options.tokens.getToken();
  }

  async send(request: GraphRequest, options: SendOptions): Promise<GraphExchange> {
    const progress = options.progress ?? { retries: 0, uncertain: false };
    const retriesAllowed = options.maxRetries ?? maxRetries;
    for (let retry = 0; ; retry += 1) {
      progress.retries = retry;
      const remaining = options.deadlineAt - this.clock.now();
      if (remaining < minimumAttemptMs) throw deadlinePassed(retry, progress.uncertain, options.deadlineMs);
      let token: string;
      try {
        token = await this.options.tokens.getToken();
      } catch (error) {
        if (!progress.uncertain || !(error instanceof FacadeError)) throw error;
        // Nothing is sent without a token, but an earlier attempt may have been carried out.
        throw new FacadeError(error.status, error.code, error.message, {
          ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
          cause: error,
          outcomeUnknown: true,
          reason: 'an earlier attempt’s answer was lost, then no token could be had for another',
        });
      }
      const outcome = await this.attempt(request, token, retry, Math.min(this.options.attemptTimeoutMs, remaining));

      if ('kind' in outcome) {
        const uncertain = outcome.kind !== 'refused';
        const mayRetry = retry < retriesAllowed && (options.retryMode === 'all' || !uncertain);
        const delay = backoffDelay(retry + 1, this.backoffBaseMs);
        if (!mayRetry || this.clock.now() + delay + minimumAttemptMs > options.deadlineAt) {
          progress.uncertain ||= uncertain;
          throw transportFailure(outcome, progress.uncertain, retry + 1, this.options.attemptTimeoutMs, options.deadlineMs);
        }
        progress.uncertain ||= uncertain;
        await this.sleep(delay);
        continue;
      }

      const response = outcome;
      const earlierAttemptUncertain = progress.uncertain;
      const retriable = retriableStatuses.has(response.status) && retry < retriesAllowed;
      // A 503/504 may hide a create Graph carried out (graph-api.md §1, known issue); a 429 never does.
      const uncertain = response.status !== 429;
      const delay = parseRetryAfter(response.retryAfter) ?? backoffDelay(retry + 1, this.backoffBaseMs);
      if (!retriable || (options.retryMode === 'throttlingOnly' && uncertain)) {
        // A throttled or unavailable Graph always leaves with a retry hint, whether Graph gave one or not.
        const hinted = retriableStatuses.has(response.status) && response.retryAfter === undefined
          ? { ...response, retryAfter: String(retryAfterSeconds(delay)) }
          : response;
        return { response: hinted, retries: retry, earlierAttemptUncertain };
      }
      if (this.clock.now() + delay + minimumAttemptMs > options.deadlineAt) {
        // Graph's wait does not fit: answer now and let the caller retry when Graph said.
        return {
          response: { ...response, retryAfter: String(retryAfterSeconds(delay)) },
          retries: retry,
          earlierAttemptUncertain,
        };
      }
      progress.uncertain ||= uncertain;
      await this.sleep(delay);
    }
  }

  private async attempt(
    request: GraphRequest,
    token: string,
    retry: number,
    timeoutMs: number,
  ): Promise<GraphResponse | AttemptFailure> {
    // Everything that can fail before the request leaves the process fails here, outside the attempt.
    let prepared: PreparedRequest;
    try {
      const body = request.body === undefined ? undefined : JSON.stringify(request.body);
      prepared = this.transport.prepare(
        request.method,
        request.path,
        {
          ...request.headers,
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(retry > 0 ? { 'retry-attempt': String(retry) } : {}),
        },
        body,
      );
    } catch (error) {
      throw new FacadeError(500, 'generalException', 'The request to Microsoft Graph could not be sent.', { cause: error });
    }
    const outcome = await this.transport.exchange(prepared, timeoutMs);
    if ('kind' in outcome) return outcome;
    return { status: outcome.status, body: parseJson(outcome.text), requestId: outcome.requestId, retryAfter: outcome.retryAfter, ...(outcome.location ? { location: outcome.location } : {}) };
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { error: { code: 'generalException', message: text.slice(0, 500) } };
  }
}

const deadlineOf = (deadlineMs: number | undefined) => (deadlineMs === undefined ? 'its deadline' : `its deadline of ${deadlineMs} ms`);
const attemptsOf = (attempts: number) => (attempts === 1 ? 'one attempt' : `${attempts} attempts`);

function deadlinePassed(retry: number, outcomeUnknown: boolean, deadlineMs: number | undefined): FacadeError {
  if (retry === 0) {
    // Graph was never called: the time went on the way to it (storage, identity), not on Graph.
    return new FacadeError(503, 'deadlineExceeded', `The request ran out of ${deadlineOf(deadlineMs)} before Microsoft Graph could be called; nothing was sent. Retry later.`, {
      retryAfterSeconds: 5,
    });
  }
  return new FacadeError(504, 'gatewayTimeout', `Microsoft Graph did not complete the request within ${deadlineOf(deadlineMs)} (${attemptsOf(retry)}).`, {
    retryAfterSeconds: 5,
    outcomeUnknown,
    ...(outcomeUnknown ? { reason: 'an attempt’s answer was lost and the deadline ran out before another could tell' } : {}),
  });
}

function transportFailure(failure: AttemptFailure, outcomeUnknown: boolean, attempts: number, attemptTimeoutMs: number, deadlineMs: number | undefined): FacadeError {
  const reason = outcomeUnknown ? { reason: 'Graph’s answer to an attempt was lost (a timeout, a reset or an answer that is not HTTP): the create may have taken place' } : {};
  if (failure.kind === 'timeout') {
    return new FacadeError(
      504,
      'gatewayTimeout',
      `Microsoft Graph did not answer: ${attemptsOf(attempts)} of at most ${attemptTimeoutMs} ms each, within ${deadlineOf(deadlineMs)}.`,
      { retryAfterSeconds: 5, cause: failure.error, outcomeUnknown, ...reason },
    );
  }
  const what = failure.kind === 'refused' ? 'could not be reached' : 'connection failed before it answered';
  return new FacadeError(502, 'badGateway', `Microsoft Graph ${what} (${attemptsOf(attempts)}).`, {
    retryAfterSeconds: 5,
    cause: failure.error,
    outcomeUnknown,
    ...reason,
  });
}
