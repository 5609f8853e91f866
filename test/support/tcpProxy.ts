import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Every open connection is reset and new ones are dropped: the service behind looks down. */
  cut(): void;
  /** Connections are kept open but nothing passes either way: the service behind hangs. */
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy that can make the service behind it unreachable without stopping it. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let isCut = false;
  let isBlackhole = false;
  const links = new Set<{ client: Socket; upstream: Socket }>();
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (isCut) {
      client.destroy();
      return;
    }
    if (isBlackhole) return;
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const link = { client, upstream };
    links.add(link);
    client.on('close', () => links.delete(link));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy did not bind');
  return {
    port: address.port,
    cut: () => {
      isCut = true;
      for (const socket of sockets) socket.destroy();
    },
    blackhole: () => {
      isBlackhole = true;
      for (const { client, upstream } of links) {
        client.unpipe(upstream);
        upstream.unpipe(client);
      }
    },
    restore: () => {
      isCut = false;
      isBlackhole = false;
      for (const { client, upstream } of links) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
