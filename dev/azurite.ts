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
  port: number;
  /** Value for `AuditStorage`. */
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

function azuriteTableEntry(): string {
  return createRequire(import.meta.url).resolve('azurite/dist/src/table/main.js');
}

function waitForStart(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('successfully started')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
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
 * Starts Azurite's table service (the npm package) in memory, telemetry off, on a free loopback
 * port, as a child process that exits with its parent.
 */
export async function startAzurite(attempts = 3): Promise<RunningAzurite> {
  const location = mkdtempSync(join(tmpdir(), 'azurite-'));
  const preload = fileURLToPath(new URL('./exit-with-parent.cjs', import.meta.url));
  for (let attempt = 1; ; attempt += 1) {
    const port = await freeLoopbackPort();
    const child = spawn(
      process.execPath,
      [
        '--require', preload,
        azuriteTableEntry(),
        '--inMemoryPersistence', '--disableTelemetry', '--silent', '--skipApiVersionCheck',
        '--tableHost', '127.0.0.1', '--tablePort', String(port),
      ],
      // Azurite writes nothing in memory mode, but keeps its working folder out of the repo all the same.
      { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd: location },
    );
    try {
      await waitForStart(child, 20_000);
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
      port,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${accountKey};TableEndpoint=http://127.0.0.1:${port}/${account};`,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(location, { recursive: true, force: true });
      },
    };
  }
}
