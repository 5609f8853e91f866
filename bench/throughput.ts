/**
 * Load on the facade over loopback with autocannon, against the Graph emulator alone as the
 * baseline measured in the same run: what validation, the token, two audit writes and the extra
 * hop cost per create. Also the rejection path (invalid bodies, answered before any I/O).
 *
 *   npm run bench:throughput [-- seconds]
 */
import { TableClient } from '@azure/data-tables';
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { startTestStack } from '../test/support/stack';

const seconds = Number(process.argv[2] ?? 5);
const connections = 10;

interface Figures {
  scenario: string;
  'req/s': number;
  'p50 ms': number;
  'p99 ms': number;
  non2xx: number;
}

async function load(scenario: string, url: string, body: () => string, headers: Record<string, string>): Promise<Figures> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...headers },
    requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
  });
  return {
    scenario,
    'req/s': Math.round(result.requests.average),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    non2xx: result.non2xx,
  };
}

/** How many creates' worth of audit writes Azurite takes per second: the local ceiling. */
async function azuriteWritesPerSecond(connectionString: string, durationSeconds: number): Promise<number> {
  const table = TableClient.fromConnectionString(connectionString, 'BenchCeiling', { allowInsecureConnection: true });
  await table.createTable();
  const until = Date.now() + durationSeconds * 1000;
  let creates = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      for (let index = 0; Date.now() < until; index += 1) {
        const rowKey = `${worker}_${index}`;
        await table.createEntity({ partitionKey: 'createExternalGroup', rowKey, status: 'pending', body: 'x'.repeat(200) });
        await Promise.all([
          table.updateEntity({ partitionKey: 'createExternalGroup', rowKey, status: 'succeeded' }, 'Merge'),
          table.upsertEntity({ partitionKey: 'entity_externalGroup', rowKey, auditRowKey: rowKey }, 'Replace'),
        ]);
        creates += 1;
      }
    }),
  );
  return Math.round(creates / durationSeconds);
}

const stack = await startTestStack();
try {
  await stack.post('/v1.0/external/connections', { id: 'bench', name: 'Bench' });
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience(stack.graph.baseUrl)
    .setExpirationTime('1h')
    .sign(stack.identity.signingKey);
  const group = () => JSON.stringify({ id: randomUUID(), displayName: 'Bench group' });

  const auditWrites = await azuriteWritesPerSecond(stack.azurite.connectionString, seconds);
  const baseline = await load('Graph emulator alone (baseline)', `${stack.graph.baseUrl}/v1.0/external/connections/bench/groups`, group, {
    authorization: `Bearer ${token}`,
  });
  const residentMiB = () => {
    const status = readFileSync(`/proc/${stack.host.pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  };
  await stack.post('/v1.0/external/connections/bench/groups', { id: 'warmup' });
  const idleMiB = residentMiB();
  const caller = { authorization: `Bearer ${await stack.token()}` };
  const facade = await load('facade create (auth, validate, token, audit ×2, Graph)', `${stack.host.apiUrl}/v1.0/external/connections/bench/groups`, group, caller);
  const rejected = await load('facade rejection (invalid body)', `${stack.host.apiUrl}/v1.0/external/connections/bench/groups`, () => '{"id":"not valid!"}', caller);

  // A create figure only counts creates: any other answer makes the run invalid, not faster.
  for (const run of [baseline, facade]) {
    if (run.non2xx > 0) throw new Error(`${run.scenario}: ${run.non2xx} answers were not 2xx; the figures would not measure creates`);
  }
  console.log(`${seconds} s per scenario, ${connections} connections, loopback, 2 cores`);
  console.table([baseline, facade, rejected]);
  console.log(`Azurite alone, the 3 table writes of one create (insert, merge, index upsert) with ${connections} workers: ${auditWrites} creates/s`);
  console.log(`facade create throughput / Azurite's 3-write ceiling: ${(facade['req/s'] / auditWrites).toFixed(2)}x`);
  const loadedMiB = residentMiB();
  console.log(`host resident memory: ${idleMiB} MiB warm and idle, ${loadedMiB} MiB after the load (${(loadedMiB / idleMiB).toFixed(2)}x)`);
  console.log(`facade create throughput / baseline: ${(facade['req/s'] / baseline['req/s']).toFixed(2)}x`);
  console.log(`facade create p50 latency / baseline: ${(facade['p50 ms'] / Math.max(baseline['p50 ms'], 1)).toFixed(1)}x`);
  console.log(`rejection throughput / create throughput: ${(rejected['req/s'] / facade['req/s']).toFixed(1)}x`);
} finally {
  await stack.stop();
}
