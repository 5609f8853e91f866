import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RunningServer {
  server: Server;
  /** `http://127.0.0.1:{port}` */
  origin: string;
  port: number;
  /**
   * Stops listening and resolves once the server has closed. Every connection is ended at once,
   * unless `waitForActive`: then only idle ones are, and those answering a request end after it.
   */
  close(options?: { waitForActive?: boolean }): Promise<void>;
}

/** Serves on loopback (port 0 → a free one) and tracks sockets so `close` ends kept-alive ones too. */
export async function listenOnLoopback(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  port = 0,
): Promise<RunningServer> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    server,
    port: actualPort,
    origin: `http://127.0.0.1:${actualPort}`,
    close: (closeOptions = {}) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (closeOptions.waitForActive) server.closeIdleConnections();
        else for (const socket of sockets) socket.destroy();
      }),
  };
}

export async function readRequestBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    ...(text ? { 'content-type': 'application/json' } : {}),
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}
