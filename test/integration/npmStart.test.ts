import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm start`'s expected failures, run as a user runs it (a child process of npm): a clear line
 * saying what happened and how to fix it, no stack trace, exit code 1, and nothing left running
 * (it fails before it builds or starts anything).
 */

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function npmStart(env: Record<string, string>, timeoutMs = 60_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['start'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOCAL_HOST_QUIET: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a start that wrongly succeeds is stopped whole (npm, shell, node).
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
      reject(new Error(`npm start did not exit within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const stackTraceLine = /^\s+at .+\(?.*:\d+:\d+\)?$/m;

let occupied: Server;
let occupiedPort: number;

beforeAll(async () => {
  occupied = createServer();
  await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', () => resolve()));
  occupiedPort = (occupied.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => occupied.close(() => resolve()));
});

describe('npm start', () => {
  it('on a port already in use: says so, suggests another PORT, exits 1, starts nothing', async () => {
    const result = await npmStart({ PORT: String(occupiedPort) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`npm start: Port ${occupiedPort} on 127.0.0.1 is already in use.`);
    expect(result.stderr).toMatch(/Is npm start already running\? Stop it, or set PORT to another port/);
    expect(result.stderr).not.toMatch(stackTraceLine);
    expect(result.stdout).not.toMatch(/Azurite|build {2,}|API:/);
  });

  it('with a PORT that is not a port: says which value, how to fix it, exits 1', async () => {
    const result = await npmStart({ PORT: 'seventy' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('npm start: PORT must be a whole number from 0 to 65535, got "seventy".');
    expect(result.stderr).toMatch(/Set PORT to a free port/);
    expect(result.stderr).not.toMatch(stackTraceLine);
  });
});
