import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devIdentities } from '../../dev/tokenIssuer';
import { call, startHostProcess, type HostProcess } from '../support/stack';

/**
 * The tools beside `npm start`, as a user runs them (npm scripts, child processes, over HTTP):
 * two stacks in one checkout, each reached by `npm run audit` and `npm run reconcile` through
 * `PORT`; reconcile's exit code; `npm run token`'s refusals and its `--expired` and `--caller`
 * tokens against a running stack; Ctrl-C with a create in flight.
 */

const run = promisify(execFile);

// Each npm run and node child is a process of its own (a second or two each, more on a loaded machine).

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let stateDir: string;
let first: HostProcess;
let second: HostProcess;

/** The environment a user's shell gives the tools: the state folder, and what is asked for. */
const bare = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOCAL_STATE_DIR: stateDir, ...extra });

async function npmRun(script: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', script, '--', ...args], { env: bare(env), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Reconcile as `npm run reconcile` runs it, on the bundle the tests built (so nothing rebuilds dist/ under the other tests). */
async function reconcile(env: Record<string, string>): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'dev/reconcile.ts', 'dist/index.mjs'], { env: bare({ RECONCILE_AFTER_MINUTES: '0', ...env }), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const portOf = (host: HostProcess) => new URL(host.apiUrl).port;

/** The banner's `export API=… GRAPH=… TOKEN=…` line. */
function exported(host: HostProcess): Record<string, string> {
  const line = /^export (.+)$/m.exec(host.output())![1]!;
  return Object.fromEntries(line.split(' ').map((pair) => pair.split('=', 2) as [string, string]));
}

const createConnection = (host: HostProcess, id: string, token = exported(host).TOKEN!) =>
  call(`${host.apiUrl}/v1.0/external/connections`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: `Connection ${id}` }),
  });

const addFault = (host: HostProcess, fault: unknown) =>
  call(`${exported(host).GRAPH}/_emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'facade-tools-'));
  // Two npm starts in one checkout: the same state folder, another port each.
  [first, second] = await Promise.all([startHostProcess({ LOCAL_STATE_DIR: stateDir }), startHostProcess({ LOCAL_STATE_DIR: stateDir })]);
});

afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
});

describe('two stacks in one checkout', { timeout: 120_000 }, () => {
  it('keep a state file each, named by port', () => {
    expect(readdirSync(stateDir).filter((name) => name.startsWith('stack')).sort()).toEqual([`stack-${portOf(first)}.json`, `stack-${portOf(second)}.json`].sort());
  });

  it('npm run audit reaches each by PORT, and asks which when both run and PORT is not set', async () => {
    expect((await createConnection(first, 'stackone')).status).toBe(201);
    expect((await createConnection(second, 'stacktwo')).status).toBe(201);

    const one = await npmRun('audit', ['--operation', 'createExternalConnection'], { PORT: portOf(first) });
    expect(one).toMatchObject({ code: 0 });
    expect(one.stdout).toContain('stackone');
    expect(one.stdout).not.toContain('stacktwo');
    const two = await npmRun('audit', ['--operation', 'createExternalConnection'], { PORT: portOf(second) });
    expect(two.stdout).toContain('stacktwo');
    expect(two.stdout).not.toContain('stackone');

    const either = await npmRun('audit', []);
    expect(either.code).toBe(1);
    expect(either.stderr).toContain('Several stacks are running');
    expect(either.stderr).toContain(`port ${portOf(first)}`);
    expect(either.stderr).toContain(`port ${portOf(second)}`);

    const none = await npmRun('audit', [], { PORT: '9' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No npm start is running on port 9 (PORT).');
  });

  it('npm run reconcile reaches each by PORT, and exits 0 when nothing failed', async () => {
    for (const host of [first, second]) {
      const ran = await reconcile({ PORT: portOf(host) });
      expect(ran.stderr).toContain(`settings from the running npm start (pid ${host.pid}, ${join(stateDir, `stack-${portOf(host)}.json`)})`);
      expect(ran.code).toBe(0);
      expect(JSON.parse(ran.stdout.trim().split('\n').at(-1)!)).toMatchObject({ errors: [] });
    }
  });
});

describe('npm run reconcile', { timeout: 120_000 }, () => {
  it('exits 1 when a record could not be settled, saying how many', async () => {
    // A group create whose answer is lost (503 after creating it, Retry-After past the deadline: recorded unknown),
    // then Graph failing every read of it.
    expect((await addFault(second, { method: 'POST', path: '/groups$', steps: [{ status: 503, commit: true, retryAfter: '60' }] })).status).toBe(201);
    const lost = await call(`${second.apiUrl}/v1.0/external/connections/stacktwo/groups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${exported(second).TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'lostanswer', displayName: 'Lost answer' }),
    });
    expect(lost.status).toBe(503);
    const failing = Array.from({ length: 8 }, () => ({ status: 500 }));
    expect((await addFault(second, { method: 'GET', path: '/groups/lostanswer$', steps: failing })).status).toBe(201);

    const ran = await reconcile({ PORT: portOf(second) });
    const summary = JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as { examined: number; errors: string[] };
    expect(summary.errors).toHaveLength(1);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain('reconcile: one error; the records named stay as they were and are looked at again on the next run');
  });
});

describe('npm run token', { timeout: 120_000 }, () => {
  it.each([
    [['--bogus'], 'token: unknown option --bogus'],
    [['--minutes', '-5'], 'token: --minutes must be a positive number of minutes, got "-5" (--expired mints a token that has already expired)'],
    [['--minutes'], 'token: --minutes needs a value'],
    [['--roles', 'Nope.Role'], 'token: not an app role of the facade: Nope.Role (its roles: ExternalConnection.Create, ExternalGroup.Create, ExternalGroupMember.Create, ConnectorGroup.Create, Audit.Read)'],
    [['--caller', 'not/a/name'], 'token: --caller must be a name of letters, digits, ".", "_" or "-" (at most 64), got "not/a/name"'],
  ])('refuses %j in one line and the usage, exit code 2, no token', async (args, message) => {
    const ran = await npmRun('token', args);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    expect(ran.stderr.split('\n')[0]).toBe(message);
    expect(ran.stderr).toContain('Usage: npm run -s token --');
    expect(ran.stderr).not.toMatch(/^\s+at /m);
  });

  it('--expired mints a token the stack refuses as one that does not hold (401)', async () => {
    const expired = (await npmRun('token', ['--expired'])).stdout.trim();
    const claims = decodeJwt(expired);
    expect(claims.exp! * 1000).toBeLessThan(Date.now() - 5 * 60_000);
    const refused = await createConnection(first, 'expiredcaller', expired);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('InvalidAuthenticationToken');
  });

  it('--caller NAME is another caller, the same for the same name: another caller\'s entity is a 409', async () => {
    const [other, again, otherUser] = await Promise.all([
      npmRun('token', ['--caller', 'fabrikam-flow']),
      npmRun('token', ['--caller', 'fabrikam-flow']),
      npmRun('token', ['--caller', 'fabrikam-flow', '--user']),
    ]);
    const claims = decodeJwt(other.stdout.trim());
    expect(claims.oid).not.toBe(devIdentities.callerObjectId);
    expect(claims.sub).toBe(claims.oid);
    expect(decodeJwt(again.stdout.trim()).oid).toBe(claims.oid);
    expect(decodeJwt(otherUser.stdout.trim())).toMatchObject({ scp: 'user_impersonation', preferred_username: 'fabrikam-flow@contoso.example' });

    // stackone was made by the banner's caller: for this one, Graph's 409 stays a 409.
    const conflict = await createConnection(first, 'stackone', other.stdout.trim());
    expect(conflict.status).toBe(409);
    const mine = await createConnection(first, 'fabrikam', other.stdout.trim());
    expect(mine.status).toBe(201);
    const listed = await npmRun('audit', ['--entity', 'fabrikam', '--json'], { PORT: portOf(first) });
    expect(listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { callerId: string })).toEqual([expect.objectContaining({ callerId: claims.oid })]);
  });
});

describe('Ctrl-C with a create in flight', { timeout: 120_000 }, () => {
  it('stops accepting, says what it waits for, answers the create, then stops and removes only its own file', async () => {
    // Graph takes 4 s over the next connection create.
    expect((await addFault(second, { method: 'POST', path: '^/v1\\.0/external/connections$', steps: [{ delayMs: 4000 }] })).status).toBe(201);
    const slow = createConnection(second, 'slowcreate');
    // Ctrl-C once Graph has the create: the facade is waiting for its answer.
    const graphHasIt = async () => JSON.stringify((await call(`${exported(second).GRAPH}/_emulator/requests`)).body).includes('slowcreate');
    const deadline = Date.now() + 60_000;
    while (!(await graphHasIt()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(second.pid!, 'SIGINT');
    const secondFile = join(stateDir, `stack-${portOf(second)}.json`);
    for (let waited = 0; existsSync(secondFile) && waited < 3_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(join(stateDir, `stack-${portOf(second)}.json`))).toBe(false);
    expect(existsSync(join(stateDir, `stack-${portOf(first)}.json`))).toBe(true);
    const refused = await fetch(`${second.apiUrl}/health`).then(() => 'answered', () => 'refused');
    expect(refused).toBe('refused');

    const answered = await slow;
    expect(answered.status).toBe(201);
    expect(answered.body.id).toBe('slowcreate');
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/Stopping: no new requests; waiting up to 30 s for 1 request and 0 queued jobs in flight \(Ctrl-C again to stop now\)\.\nFinished what was in flight in [\d.]+ (s|ms)\.\n/);

    // The first stack still serves, and is now the only one the tools find.
    const audit = await npmRun('audit', ['--operation', 'createExternalConnection']);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toContain('stackone');
  });
});
