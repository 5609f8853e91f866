import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An HTTP proxy in front of Azurite's table service that can lose the answers of chosen calls:
 * the call is forwarded at once and carried out, and its answer is then held back (never
 * delivered), so the client's own timeout (`AUDIT_TABLE_TIMEOUT_MS`) ends it. A write that
 * landed with its answer lost, as a review reproduced with a proxy of its own; every other call
 * passes unchanged.
 */

export interface TableCall {
  method: string;
  /** Decoded path and query: `/devstoreaccount1/Audit1234(PartitionKey='p',RowKey='r')`. */
  path: string;
  body: string;
}

export interface LostAnswerRule {
  /** Which calls lose their answer. */
  matches: (call: TableCall) => boolean;
  /** How many of them (default 1). */
  times?: number;
}

export interface LostAnswers {
  /** The calls whose answers were held back so far, with Azurite's status for each. */
  lost(): (TableCall & { status: number })[];
}

export interface TableAnswerProxy {
  port: number;
  /** An `AuditStorage` connection string whose table endpoint is this proxy. */
  connectionString: string;
  loseAnswers(rule: LostAnswerRule): LostAnswers;
  /** Every table call seen, oldest first. */
  calls(): TableCall[];
  close(): Promise<void>;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `connectionString` is Azurite's; its table endpoint at `tablePort` is replaced by the proxy's. */
export async function startTableAnswerProxy(tablePort: number, connectionString: string): Promise<TableAnswerProxy> {
  const rules: { rule: LostAnswerRule; left: number; lost: (TableCall & { status: number })[] }[] = [];
  const seen: TableCall[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    void (async () => {
      const body = await readAll(incoming);
      const call: TableCall = { method: incoming.method ?? 'GET', path: decodeURIComponent(incoming.url ?? '/'), body: body.toString('utf8') };
      seen.push(call);
      const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
        const forwarded = httpRequest({ host: '127.0.0.1', port: tablePort, method: incoming.method, path: incoming.url, headers: incoming.headers }, resolve);
        forwarded.on('error', reject);
        forwarded.end(body);
      });
      const answer = await readAll(upstream);
      const holding = rules.find((entry) => entry.left > 0 && entry.rule.matches(call));
      if (holding) {
        holding.left -= 1;
        holding.lost.push({ ...call, status: upstream.statusCode ?? 0 });
        // Carried out, never answered: the client gives up on its own timeout.
        return;
      }
      outgoing.writeHead(upstream.statusCode ?? 502, upstream.headers);
      outgoing.end(answer);
    })().catch(() => outgoing.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy did not bind');
  const port = address.port;
  return {
    port,
    connectionString: connectionString.replace(`:${tablePort}/`, `:${port}/`),
    loseAnswers: (rule) => {
      const entry = { rule, left: rule.times ?? 1, lost: [] as (TableCall & { status: number })[] };
      rules.push(entry);
      return { lost: () => [...entry.lost] };
    },
    calls: () => [...seen],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
