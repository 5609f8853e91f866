import { request as httpRequest } from 'node:http';

/** An answer as it came off the wire: status, headers in lower case, the body's text and its JSON. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: unknown;
}

/**
 * One HTTP request with headers of the test's choosing, `Host` included (fetch sets its own), to a
 * loopback URL.
 */
export function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const headers = { ...(body === undefined ? {} : { 'content-length': String(body.length) }), ...init.headers };
    const outgoing = httpRequest(url, { method: init.method ?? 'GET', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = text;
        }
        const flat: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({ status: response.statusCode ?? 0, headers: flat, text, body: parsed });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
