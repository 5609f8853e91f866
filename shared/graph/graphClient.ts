import { FacadeError } from '../errors';
import type { TokenProvider } from '../identity/tokenProvider';
import { systemClock, type Clock } from '../time/clock';
import { backoffDelay, maxRetries, parseRetryAfter, retriableStatuses, retryAfterSeconds } from './retryPolicy';

export interface GraphRequest {
  method: 'GET' | 'POST';
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

/**
 * `refused`: nothing reached Graph. `reset`/`timeout`: the request may have reached Graph.
 * `local`: it never left this process (say, a header fetch will not send).
 */
type AttemptFailure = { kind: 'timeout' | 'reset' | 'refused' | 'local'; error: unknown };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The least time worth starting an attempt with. */
const minimumAttemptMs = 250;

/**
 * Calls Microsoft Graph with the app's identity, retrying as Graph asks, inside one deadline.
 * One instance per process: Node's fetch keeps connections to Graph alive between requests.
 */
export class GraphClient {
  private readonly backoffBaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: Clock;

  constructor(private readonly options: GraphClientOptions) {
    this.backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.clock = options.clock ?? systemClock;
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
    for (let retry = 0; ; retry += 1) {
      progress.retries = retry;
      const remaining = options.deadlineAt - this.clock.now();
      if (remaining < minimumAttemptMs) throw deadlinePassed(retry, progress.uncertain);
      const token = await this.options.tokens.getToken();
      const outcome = await this.attempt(request, token, retry, Math.min(this.options.attemptTimeoutMs, remaining));

      if ('kind' in outcome) {
        if (outcome.kind === 'local') throw localFailure(outcome.error);
        const uncertain = outcome.kind !== 'refused';
        const mayRetry = retry < maxRetries && (options.retryMode === 'all' || !uncertain);
        const delay = backoffDelay(retry + 1, this.backoffBaseMs);
        if (!mayRetry || this.clock.now() + delay + minimumAttemptMs > options.deadlineAt) {
          progress.uncertain ||= uncertain;
          throw transportFailure(outcome, progress.uncertain, this.options.attemptTimeoutMs);
        }
        progress.uncertain ||= uncertain;
        await this.sleep(delay);
        continue;
      }

      const response = outcome;
      const earlierAttemptUncertain = progress.uncertain;
      const retriable = retriableStatuses.has(response.status) && retry < maxRetries;
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
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(`${this.options.baseUrl}${request.path}`, {
        method: request.method,
        headers: {
          ...request.headers,
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(retry > 0 ? { 'retry-attempt': String(retry) } : {}),
        },
        body: request.body === undefined ? null : JSON.stringify(request.body),
        signal,
      });
      const text = await response.text();
      return {
        status: response.status,
        body: parseJson(text),
        requestId: response.headers.get('request-id') ?? undefined,
        retryAfter: response.headers.get('retry-after') ?? undefined,
      };
    } catch (error) {
      return { kind: classify(error, signal), error };
    }
  }
}

/** Connection errors after which nothing can have reached Graph. */
const nothingSent = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/** Connection errors on a request that may have reached Graph. */
const connectionLost = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function classify(error: unknown, signal: AbortSignal): AttemptFailure['kind'] {
  if (signal.aborted) return 'timeout';
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof code === 'string' && nothingSent.has(code)) return 'refused';
  if (typeof code === 'string' && connectionLost.has(code)) return 'reset';
  return 'local';
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { error: { code: 'generalException', message: text.slice(0, 500) } };
  }
}

function deadlinePassed(retry: number, outcomeUnknown: boolean): FacadeError {
  if (retry === 0) {
    // Graph was never called: the time went on the way to it (storage, identity), not on Graph.
    return new FacadeError(503, 'deadlineExceeded', 'The request ran out of time before Microsoft Graph could be called. Retry later.', {
      retryAfterSeconds: 5,
    });
  }
  return new FacadeError(504, 'gatewayTimeout', 'Microsoft Graph did not complete the request within the deadline.', {
    retryAfterSeconds: 5,
    outcomeUnknown,
  });
}

function localFailure(error: unknown): FacadeError {
  return new FacadeError(500, 'generalException', 'The request to Microsoft Graph could not be sent.', { cause: error });
}

function transportFailure(failure: AttemptFailure, outcomeUnknown: boolean, attemptTimeoutMs: number): FacadeError {
  if (failure.kind === 'timeout') {
    return new FacadeError(504, 'gatewayTimeout', `Microsoft Graph did not answer within ${attemptTimeoutMs} ms.`, {
      retryAfterSeconds: 5,
      cause: failure.error,
      outcomeUnknown,
    });
  }
  return new FacadeError(502, 'badGateway', 'The connection to Microsoft Graph failed.', {
    retryAfterSeconds: 5,
    cause: failure.error,
    outcomeUnknown,
  });
}
