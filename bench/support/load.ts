/**
 * HTTP load with autocannon. Latency percentiles are computed here from every 2xx answer's own
 * response time (autocannon's histogram keeps whole milliseconds; the facade's added latency is a
 * few of them).
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  /** Bearer token sent with every request. */
  token: string;
  /** A fresh body per request (unique ids: every create is a real create). */
  body: () => string;
  connections: number;
  /** Stop after this long... */
  durationSeconds?: number;
  /** ...or after this many requests. */
  amount?: number;
  /** Called with the number of answers so far, after each answer. */
  onAnswer?: (answered: number) => void;
}

export interface LoadFigures {
  connections: number;
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 2xx, and transport errors: a run with any is not a measure of creates. */
  non2xx: number;
  errors: number;
  /** The other answers by status, with a sample body of each (what went wrong, when something did). */
  otherAnswers: Record<string, { count: number; body: string }>;
}

export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

export async function load(options: LoadOptions): Promise<LoadFigures> {
  const times: number[] = [];
  let answered = 0;
  let non2xx = 0;
  const otherAnswers: LoadFigures['otherAnswers'] = {};
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        connections: options.connections,
        ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds ?? 5 }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
        requests: [
          {
            setupRequest: (request) => ({ ...request, body: options.body() }),
            onResponse: (status, body) => {
              if (status >= 300) (otherAnswers[String(status)] ??= { count: 0, body: '' }).body ||= String(body).slice(0, 400);
            },
          },
        ],
        timeout: 30,
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      answered += 1;
      if (statusCode >= 200 && statusCode < 300) {
        times.push(responseTime);
      } else {
        non2xx += 1;
        (otherAnswers[String(statusCode)] ??= { count: 0, body: '' }).count += 1;
      }
      options.onAnswer?.(answered);
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(times).sort();
  return {
    connections: options.connections,
    requests: times.length,
    seconds,
    reqPerSec: times.length / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    non2xx,
    errors: result.errors + result.timeouts,
    otherAnswers,
  };
}

/** A create figure only counts creates: any other answer makes the run invalid, not faster. */
export function requireAllCreated(what: string, figures: LoadFigures): LoadFigures {
  if (figures.non2xx > 0 || figures.errors > 0) {
    throw new Error(
      `${what}: ${figures.non2xx} answers were not 2xx and ${figures.errors} requests failed; the figures would not measure creates\n${JSON.stringify(figures.otherAnswers)}`,
    );
  }
  return figures;
}
