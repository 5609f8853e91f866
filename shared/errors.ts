/**
 * Graph-shaped errors. Every failure the facade reports, its own or Graph's, leaves in the body
 * Microsoft Graph uses (docs/graph-facts.md §5), so a caller branches on `error.code` alone.
 */

export interface GraphErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    target?: string;
    details?: GraphErrorDetail[];
    innerError: {
      'request-id': string;
      'client-request-id': string;
      date: string;
      [key: string]: string;
    };
  };
}

export interface FacadeErrorInit {
  target?: string;
  details?: GraphErrorDetail[];
  /** Seconds the caller should wait before retrying (sent as `Retry-After`). */
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
  cause?: unknown;
  /** Graph may have carried out the request although the facade saw no success. */
  outcomeUnknown?: boolean;
  /** Why the outcome is not known, for the audit record (the caller gets `message`). */
  reason?: string;
}

/** A failure that ends the pipeline with a Graph-shaped response of the given status. */
export class FacadeError extends Error {
  readonly target: string | undefined;
  readonly details: GraphErrorDetail[];
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Record<string, string>;
  readonly outcomeUnknown: boolean;
  readonly reason: string | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    init: FacadeErrorInit = {},
  ) {
    super(message, { cause: init.cause });
    this.name = 'FacadeError';
    this.target = init.target;
    this.details = init.details ?? [];
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.headers = init.headers ?? {};
    this.outcomeUnknown = init.outcomeUnknown ?? false;
    this.reason = init.reason;
  }
}

export const badRequest = (message: string, details: GraphErrorDetail[] = [], target?: string) =>
  new FacadeError(400, 'invalidRequest', message, { details, ...(target ? { target } : {}) });

export const serviceUnavailable = (code: string, message: string, retryAfterSeconds: number, cause?: unknown) =>
  new FacadeError(503, code, message, { retryAfterSeconds, cause });

export interface Correlation {
  /** This facade's id for the request, returned as `request-id`. */
  requestId: string;
  /** The caller's `client-request-id`, or one generated for it. */
  clientRequestId: string;
}

export function graphErrorBody(
  error: Pick<FacadeError, 'code' | 'message' | 'target' | 'details'>,
  correlation: Correlation,
  now: Date = new Date(),
): GraphErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.target ? { target: error.target } : {}),
      ...(error.details.length > 0 ? { details: error.details } : {}),
      innerError: {
        'request-id': correlation.requestId,
        'client-request-id': correlation.clientRequestId,
        date: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    },
  };
}

/** Reads Graph's error code and message from a response body, whatever shape it arrived in. */
export function parseGraphError(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return {
    code: typeof code === 'string' ? code : 'generalException',
    message: typeof message === 'string' ? message : 'Microsoft Graph returned an error.',
  };
}
