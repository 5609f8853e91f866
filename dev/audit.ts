/**
 * `npm run audit -- [--operation X] [--status S] [--entity ID] [--caller ID] [--from T] [--to T] [--top N] [--json]`:
 * the audit trail as a table, newest first, read through the API (`GET /api/audit`, role
 * Audit.Read) so it shows exactly what callers of the API see.
 *
 * Where: `API` and `TOKEN` from the environment when set; else the running `npm start`'s
 * (`.local/stack-{port}.json` of the stack `PORT` names, or of the only one running; dev/localState.ts),
 * with a short-lived Audit.Read token signed by its dev
 * token issuer's key. Without a running API it says how to start one.
 */
import { parseArgs } from 'node:util';
import { devKeyFileIn, givenSettings, localStateDir, runningStack } from './localState';
import { loadOrCreateDevSigningKey, mintDevToken } from './tokenIssuer';

const usage = [
  'Usage: npm run audit -- [options]',
  '  --operation NAME   only this create operation, e.g. createExternalGroup',
  '  --status LIST      only these states, comma-separated: pending, succeeded, failed, unknown, orphaned, unresolved',
  '  --entity ID        only the records of this entity id',
  '  --caller ID        only the records of this caller (object id)',
  '  --from WHEN        requested at or after: an ISO date-time (2026-11-01T00:00:00Z) or an age (30m, 12h, 7d)',
  '  --to WHEN          requested before, the same forms; default now',
  '  --top N            how many records to show (default 50), newest first',
  '  --json             one JSON object per record instead of the table',
  'With --status, --entity or --caller the window is at most 31 days (default the last 7).',
  '',
].join('\n');

class UsageError extends Error {}

function options() {
  try {
    return parseArgs({
      options: {
        operation: { type: 'string' },
        status: { type: 'string' },
        entity: { type: 'string' },
        caller: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        top: { type: 'string', default: '50' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

const ageUnits: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `7d` → seven days ago, as the API takes it; anything else is passed on for the API to judge. */
function instant(value: string, now = Date.now()): string {
  const age = /^(\d+)([mhd])$/.exec(value.trim());
  return age ? new Date(now - Number(age[1]) * ageUnits[age[2]!]!).toISOString() : value;
}

interface AuditRow {
  requestedAt: string;
  operation: string;
  status: string;
  httpStatus?: number;
  entityId?: string;
  callerName?: string;
  callerId?: string;
  recovery?: string;
  reason?: string;
  errorCode?: string;
  requestId: string;
  /** A bulk request's record: its items and, once completed, their counts. */
  total?: number;
  created?: number;
  alreadyMember?: number;
  failed?: number;
}

/** What a record's ENTITY column shows: the entity, a bulk request's counts, or that none is known yet. */
function entityCell(record: AuditRow): string {
  if (record.entityId) return record.entityId;
  if (record.total === undefined) return '(none yet)';
  if (record.created === undefined) return `${record.total} items`;
  return `${record.total} items: ${record.created} created, ${record.alreadyMember ?? 0} already, ${record.failed ?? 0} failed`;
}

interface Where {
  api: string;
  token: string;
}

async function where(): Promise<Where> {
  const given = givenSettings();
  const stateDir = localStateDir(given);
  const stack = runningStack(stateDir, given.PORT);
  const running = stack.state === 'running' ? stack.file : undefined;
  const api = given.API ?? running?.api;
  if (!api) {
    const why = stack.state === 'none' ? stack.why : 'The running npm run stack serves no API (func start does: set API=http://localhost:7071/api).';
    throw new UsageError(`${why} Start it with npm start in another terminal, or set API (and TOKEN) to reach another one.`);
  }
  if (given.TOKEN) return { api, token: given.TOKEN };
  if (!running?.devTokens) {
    throw new UsageError('Set TOKEN to an access token for the facade that holds the Audit.Read role: this API does not trust the local dev issuer.');
  }
  const key = await loadOrCreateDevSigningKey(devKeyFileIn(stateDir));
  return { api, token: await mintDevToken(key, { roles: ['Audit.Read'], lifetimeSeconds: 600 }) };
}

async function fetchJson(url: string, token: string): Promise<{ value: AuditRow[]; '@odata.nextLink'?: string }> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new UsageError(`The API at ${new URL(url).origin} does not answer (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error)}). Is npm start still running?`);
  }
  const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string; details?: { target?: string; message: string }[] } } | undefined;
  if (!response.ok) {
    const error = body?.error;
    const details = (error?.details ?? []).map((detail) => `\n  ${detail.target ? `${detail.target}: ` : ''}${detail.message}`).join('');
    throw new UsageError(`${response.status} ${error?.code ?? ''}: ${error?.message ?? response.statusText}${details}`);
  }
  return body as unknown as { value: AuditRow[]; '@odata.nextLink'?: string };
}

const cell = (value: unknown, width: number) => {
  const text = value === undefined || value === null ? '' : String(value);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
};

function table(records: AuditRow[]): string {
  const rows = records.map((record) => [
    record.requestedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    record.operation,
    record.status,
    record.httpStatus ?? '',
    entityCell(record),
    record.callerName ?? record.callerId ?? '',
    [record.recovery, record.errorCode, record.reason].filter(Boolean).join(': '),
    record.requestId,
  ]);
  const headings = ['REQUESTED (UTC)', 'OPERATION', 'STATUS', 'HTTP', 'ENTITY', 'CALLER', 'RECOVERY / REASON', 'REQUEST ID'];
  const limits = [20, 26, 14, 4, 40, 36, 60, 36];
  const widths = headings.map((heading, column) => Math.min(limits[column]!, Math.max(heading.length, ...rows.map((row) => String(row[column]).length))));
  const line = (values: unknown[]) => values.map((value, column) => cell(value, widths[column]!).padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(headings), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const values = options();
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const wanted = Number(values.top);
  if (!Number.isInteger(wanted) || wanted < 1) throw new UsageError(`--top must be a whole number of at least 1, got "${values.top}"`);
  const { api, token } = await where();
  const search = new URLSearchParams();
  if (values.operation) search.set('operation', values.operation);
  if (values.status) search.set('status', values.status);
  if (values.entity) search.set('entityId', values.entity);
  if (values.caller) search.set('callerId', values.caller);
  if (values.from) search.set('from', instant(values.from));
  if (values.to) search.set('to', instant(values.to));
  search.set('$top', String(Math.min(wanted, 1_000)));

  const records: AuditRow[] = [];
  let next: string | undefined = `${api}/audit?${search.toString()}`;
  while (next && records.length < wanted) {
    const page = await fetchJson(next, token);
    records.push(...page.value);
    next = page['@odata.nextLink'];
  }
  const shown = records.slice(0, wanted);
  const more = records.length > wanted || next !== undefined;
  if (values.json) {
    for (const record of shown) process.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }
  if (shown.length === 0) {
    process.stdout.write(`No audit records${search.size > 1 ? ' match' : ' yet'} (${api}/audit).\n`);
    return;
  }
  process.stdout.write(`${table(shown)}\n\n${shown.length} record${shown.length === 1 ? '' : 's'}, newest first${more ? `; more exist (--top ${wanted * 2} shows more)` : ''}. ${api}/audit\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`audit: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`audit failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
