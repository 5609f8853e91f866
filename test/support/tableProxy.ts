import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** One call to the table service as it passes the proxy. */
export interface TableCall {
  method: string;
  /** Path and query, as sent: `/devstoreaccount1/Audit1(PartitionKey='…',RowKey='…')`. */
  url: string;
  body: string;
}

/** The table service's answer to a call, as the proxy got it. */
export interface TableAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The table service's "busy" answer (503 ServerBusy), for a hook to give in place of the service's own. */
export const serviceBusy: TableAnswer = {
  status: 503,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { value: 'The table service is unavailable (test).' } } })),
};

/**
 * Decides what becomes of a call: `forward()` sends it to the table service and gives its answer,
 * which the hook returns (at once, or after holding it back). Calls the hook does not hold pass
 * straight through.
 */
export type TableHook = (call: TableCall, forward: () => Promise<TableAnswer>) => Promise<TableAnswer>;

export interface TableProxy {
  port: number;
  /** The connection string of the table service behind, pointed at the proxy instead. */
  connectionString: string;
  /** Every call passes through this hook from now on (undefined: straight through). */
  intercept(hook: TableHook | undefined): void;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of the table service (Azurite) that a test drives call by call:
 * it can hold a request before the service sees it, or hold the service's answer back, so the
 * order in which two hosts' table calls land is the test's, not the scheduler's.
 */
export async function startTableProxy(target: { port: number; connectionString: string }): Promise<TableProxy> {
  let hook: TableHook | undefined;
  const forwardTo = (call: TableCall, headers: IncomingHttpHeaders) => (): Promise<TableAnswer> =>
    new Promise((resolve, reject) => {
      const upstream = httpRequest(
        { host: '127.0.0.1', port: target.port, method: call.method, path: call.url, headers: { ...headers, host: `127.0.0.1:${target.port}` } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
          answer.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(call.body);
    });
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const call: TableCall = { method: incoming.method ?? 'GET', url: incoming.url ?? '/', body: Buffer.concat(chunks).toString('utf8') };
      const forward = forwardTo(call, incoming.headers);
      (hook ? hook(call, forward) : forward()).then(
        (answer) => {
          const { 'transfer-encoding': _chunked, connection: _connection, ...headers } = answer.headers;
          outgoing.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
          outgoing.end(answer.body);
        },
        () => outgoing.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('table proxy did not bind');
  return {
    port: address.port,
    connectionString: target.connectionString.replaceAll(`:${target.port}/`, `:${address.port}/`),
    intercept: (next) => {
      hook = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
