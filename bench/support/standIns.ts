/**
 * The parts the facade talks to besides Azurite, in a process of their own so their CPU is never
 * counted as the facade's nor the load generator's: the managed-identity endpoint, one Graph
 * emulator per latency under test, and the dev token issuer standing in for Microsoft Entra ID.
 * Prints one JSON line (`StandIns`) when all listen; exits when the benchmark that started it goes.
 */
import { SignJWT } from 'jose';
import { startGraphEmulator } from '../../dev/graphEmulator';
import { startIdentityEndpoint } from '../../dev/identityEndpoint';
import { startDevTokenIssuer } from '../../dev/tokenIssuer';

export interface StandInGraph {
  latencyMs: number;
  baseUrl: string;
  /** A token this emulator accepts, for calling it directly (the baseline). */
  token: string;
}

export interface StandIns {
  identity: { endpoint: string; identityHeader: string };
  graphs: StandInGraph[];
  /** The `AUTH_*` settings that make the facade trust `callerToken`. */
  authEnv: Record<string, string>;
  /** An app-only token holding every role, valid for the whole run. */
  callerToken: string;
  /** The connection every create goes into (it exists in each emulator). */
  connectionId: string;
}

export const benchConnectionId = 'bench';

async function main(): Promise<void> {
  const latencies = (process.argv[2] ?? '0').split(',').map(Number);
  const identity = await startIdentityEndpoint({ tokenLifetimeSeconds: 24 * 3600 });
  const graphs: StandInGraph[] = [];
  for (const latencyMs of latencies) {
    const graph = await startGraphEmulator({ tokenSigningKey: identity.signingKey, latencyMs });
    graph.seedConnection(benchConnectionId);
    const token = await new SignJWT({ appid: 'bench', idtyp: 'app' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(graph.baseUrl)
      .setExpirationTime('24h')
      .sign(identity.signingKey);
    graphs.push({ latencyMs, baseUrl: graph.baseUrl, token });
  }
  const issuer = await startDevTokenIssuer();
  const standIns: StandIns = {
    identity: { endpoint: identity.endpoint, identityHeader: identity.identityHeader },
    graphs,
    authEnv: issuer.env,
    callerToken: await issuer.mint({ lifetimeSeconds: 24 * 3600 }),
    connectionId: benchConnectionId,
  };
  process.stdout.write(`${JSON.stringify(standIns)}\n`);
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.env.BENCH_STAND_INS === '1') await main();
