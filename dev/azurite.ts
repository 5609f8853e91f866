import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Azurite's well-known development account (public, documented, not a secret). */
const account = 'devstoreaccount1';
const accountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  /** The table service's port. */
  port: number;
  /** The queue service's port. */
  queuePort: number;
  /** Azurite's process (its CPU and memory are read from /proc by the benchmark). */
  pid: number | undefined;
  /** Value for `AuditStorage`: the table and queue endpoints of the development account. */
  connectionString: string;
  /** Stops the process (in-memory data is gone with it). */
  stop(): Promise<void>;
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Azurite's combined entry (blob, queue and table in one process) rather than separate table and
 * queue processes: one Node start-up instead of two (measured: about 1.1 s of CPU and 116 MiB
 * resident against 1.6–2.0 s and 174 MiB for the pair), and with port 0 it reports the ports it
 * actually listens on, so there is no race for a free port. The blob service is not used; it
 * listens on a free loopback port like the others.
 */
function azuriteEntry(): string {
  return createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
}

type Service = 'Blob' | 'Queue' | 'Table';

/** Resolves with each service's port once all three listen. */
function waitForStart(child: ChildProcess, timeoutMs: number): Promise<Record<Service, number>> {
  return new Promise((resolve, reject) => {
    let output = '';
    const ports: Partial<Record<Service, number>> = {};
    const timer = setTimeout(() => fail(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const match of output.matchAll(/Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/127\.0\.0\.1:(\d+)/g)) {
        ports[match[1] as Service] = Number(match[2]);
      }
      if (ports.Blob && ports.Queue && ports.Table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve(ports as Record<Service, number>);
      }
    };
    const onExit = (code: number | null) => fail(new Error(`Azurite exited with code ${code}:\n${output}`));
    function fail(error: Error) {
      clearTimeout(timer);
      child.off('exit', onExit);
      reject(error);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', onExit);
  });
}

/**
 * Starts Azurite's table and queue services (the npm package) in memory, telemetry off, on free
 * loopback ports, as a child process that exits with its parent.
 */
export async function startAzurite(attempts = 3): Promise<RunningAzurite> {
  const location = mkdtempSync(join(tmpdir(), 'azurite-'));
  const preload = fileURLToPath(new URL('./exit-with-parent.cjs', import.meta.url));
  for (let attempt = 1; ; attempt += 1) {
    const child = spawn(
      process.execPath,
      [
        '--require', preload,
        azuriteEntry(),
        '--inMemoryPersistence', '--disableTelemetry', '--silent', '--skipApiVersionCheck',
        '--blobHost', '127.0.0.1', '--blobPort', '0',
        '--queueHost', '127.0.0.1', '--queuePort', '0',
        '--tableHost', '127.0.0.1', '--tablePort', '0',
      ],
      // Azurite writes nothing in memory mode, but keeps its working folder out of the repo all the same.
      { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd: location },
    );
    let ports: Record<Service, number>;
    try {
      ports = await waitForStart(child, 20_000);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt >= attempts) {
        rmSync(location, { recursive: true, force: true });
        throw error;
      }
      continue;
    }
    child.stdout?.resume();
    child.stderr?.resume();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      port: ports.Table,
      queuePort: ports.Queue,
      pid: child.pid,
      connectionString:
        `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${accountKey};` +
        `TableEndpoint=http://127.0.0.1:${ports.Table}/${account};QueueEndpoint=http://127.0.0.1:${ports.Queue}/${account};`,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          // Azurite closes its servers on SIGTERM but the IPC channel would keep it alive; closing
          // the channel makes it exit (exit-with-parent.cjs). Its data lives in memory only.
          if (child.connected) child.disconnect();
          const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(location, { recursive: true, force: true });
      },
    };
  }
}
