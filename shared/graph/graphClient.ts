import { FacadeError } from '../errors';
import type { TokenProvider } from '../identity/tokenProvider';

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

export interface GraphClientOptions {
  baseUrl: string;
  tokens: TokenProvider;
  timeoutMs: number;
}

/** Calls Microsoft Graph with the app's identity. One instance per process keeps connections alive. */
export class GraphClient {
  constructor(private readonly options: GraphClientOptions) {}

  async send(request: GraphRequest): Promise<GraphResponse> {
    const token = await this.options.tokens.getToken();
    const url = `${this.options.baseUrl}${request.path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: request.method,
        headers: {
          ...request.headers,
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: request.body === undefined ? null : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw transportFailure(error, this.options.timeoutMs);
    }
    const text = await response.text().catch((error: unknown) => {
      throw transportFailure(error, this.options.timeoutMs);
    });
    return {
      status: response.status,
      body: parseJson(text),
      requestId: response.headers.get('request-id') ?? undefined,
      retryAfter: response.headers.get('retry-after') ?? undefined,
    };
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

function transportFailure(error: unknown, timeoutMs: number): FacadeError {
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new FacadeError(504, 'gatewayTimeout', `Microsoft Graph did not answer within ${timeoutMs} ms.`, {
      retryAfterSeconds: 5,
      cause: error,
    });
  }
  return new FacadeError(502, 'badGateway', 'The connection to Microsoft Graph failed.', {
    retryAfterSeconds: 5,
    cause: error,
  });
}
