import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startHostProcess, type HostProcess } from '../support/stack';

/**
 * The audit trail a new user sees locally: `npm start` (what it runs once built: dev/start.ts
 * serving dist/index.mjs, as a child process) writes its settings to `stack-{port}.json` in
 * LOCAL_STATE_DIR and prints a ready curl for the audit list; `npm run audit` and
 * `npm run reconcile` (its script, so as not to rebuild dist/ under the other tests), given
 * nothing but that folder, reach the running stack; stopping it removes the file.
 */

const run = promisify(execFile);

let stateDir: string;
let host: HostProcess;

/** What the tools get from the environment: nothing of the stack, only where its state is. */
const bare = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOCAL_STATE_DIR: stateDir });

const audit = (...args: string[]) => run('npm', ['run', '-s', 'audit', '--', ...args], { env: bare(), timeout: 30_000 });

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'facade-state-'));
  // A short Graph deadline, so a lost answer is answered (and recorded unknown) within the test.
  host = await startHostProcess({ LOCAL_STATE_DIR: stateDir, GRAPH_DEADLINE_MS: '3000' });
});

afterAll(async () => {
  await host?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The banner's `export API=… GRAPH=… TOKEN=…` line, as a user pastes it. */
function exported(): Record<string, string> {
  const line = /^export (.+)$/m.exec(host.output())![1]!;
  return Object.fromEntries(line.split(' ').map((pair) => pair.split('=', 2) as [string, string]));
}

describe('npm start and the tools beside it', () => {
  it('writes the running stack\'s settings to stack-{port}.json, readable by its user only', () => {
    const path = join(stateDir, `stack-${new URL(host.apiUrl).port}.json`);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(file).toMatchObject({ pid: host.pid, api: host.apiUrl, port: Number(new URL(host.apiUrl).port), devTokens: true });
    expect(Object.keys(file.settings)).toEqual(expect.arrayContaining([
      'AuditStorage', 'GRAPH_BASE_URL', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AUTH_TENANT_ID', 'AUTH_AUDIENCE', 'AUTH_JWKS_URI', 'GRAPH_DEADLINE_MS',
    ]));
    expect(file.settings.GRAPH_BASE_URL).toBe(exported().GRAPH);
    expect(Object.keys(file.settings)).not.toEqual(expect.arrayContaining(['PATH']));
  });

  it('prints a ready curl for the audit list, which answers with the banner\'s token', async () => {
    expect(host.output()).toContain('curl -s "$API/audit?operation=createExternalConnection" -H "Authorization: Bearer $TOKEN"');
    expect(host.output()).toMatch(/Audit trail +\$API\/audit \(role Audit\.Read\)/);
    const { API, TOKEN } = exported();
    const created = await call(`${API}/v1.0/external/connections`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'contosohr', name: 'Contoso HR' }),
    });
    expect(created.status).toBe(201);
    const listed = await call(`${API}/audit?operation=createExternalConnection`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(listed.status).toBe(200);
    expect(listed.body.value).toEqual([expect.objectContaining({ entityId: 'contosohr', status: 'succeeded' })]);
  });

  it('npm run audit shows the trail and npm run reconcile settles a lost answer, from the stack file alone', async () => {
    const { API, GRAPH, TOKEN } = exported();
    // Graph creates the group, then its answer is lost (503, retry only after the deadline): the record says unknown.
    const fault = await call(`${GRAPH}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'POST', path: '/groups$', steps: [{ status: 503, commit: true, retryAfter: '10' }] }),
    });
    expect(fault.status).toBe(201);
    const lost = await call(`${API}/v1.0/external/connections/contosohr/groups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'lostanswer', displayName: 'Lost answer' }),
    });
    expect(lost.status).toBe(503);

    const before = await audit('--operation', 'createExternalGroup');
    const [heading, row] = before.stdout.split('\n');
    expect(heading).toMatch(/^REQUESTED \(UTC\) +OPERATION +STATUS +HTTP +ENTITY +CALLER +RECOVERY \/ REASON +REQUEST ID$/);
    expect(row).toMatch(/createExternalGroup +unknown +503 +lostanswer +facade00-0000-4000-8000-000000000004 /);
    expect(before.stdout).toContain(`1 record, newest first. ${API}/audit`);

    const reconciled = await run(process.execPath, ['--import', 'tsx', 'dev/reconcile.ts', 'dist/index.mjs'], {
      env: { ...bare(), RECONCILE_AFTER_MINUTES: '0' },
      timeout: 30_000,
    });
    expect(reconciled.stderr).toContain(`settings from the running npm start (pid ${host.pid}, ${join(stateDir, `stack-${new URL(host.apiUrl).port}.json`)})`);
    const summary = JSON.parse(reconciled.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ examined: 1, settled: { succeeded: 1 }, errors: [] });

    const after = await audit('--status', 'succeeded', '--entity', 'lostanswer', '--json');
    expect(after.stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ operation: 'createExternalGroup', entityId: 'lostanswer', status: 'succeeded', recovery: 'reconciliation' }),
    ]);
  });

  it('npm run audit reports the API\'s refusals as they are', async () => {
    const refused = await audit('--status', 'gone').catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toMatch(/^audit: 400 invalidRequest: The request is invalid \(one problem\); see details\.\n {2}status: /);
  });

  it('stopping npm start removes its stack file; the tools then say no stack runs, and know a file whose npm start is gone', async () => {
    const port = new URL(host.apiUrl).port;
    await host.stop();
    expect(existsSync(join(stateDir, `stack-${port}.json`))).toBe(false);
    const none = await audit().catch((error: { code: number; stderr: string }) => error);
    expect(none).toMatchObject({ code: 1, stderr: expect.stringContaining('No npm start is running. Start it with npm start') });

    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(stateDir, 'stack-9.json'), JSON.stringify({ pid: gone, port: 9, startedAt: new Date().toISOString(), api: 'http://127.0.0.1:9/api', devTokens: true, settings: {} }));
    const stale = await audit().catch((error: { code: number; stderr: string }) => error);
    expect(stale).toMatchObject({ code: 1, stderr: expect.stringContaining(`names an npm start (pid ${gone}) that is no longer running`) });
  });
});
