/**
 * Identity endpoint requests for N concurrent token requests on a cold instance: the plain
 * `ManagedIdentityCredential` (baseline) against the facade's single-flight `CachedTokenProvider`.
 * Each side runs in a fresh process, since MSAL keeps one token cache per process.
 *
 *   npm run bench:tokens [-- 100]
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startIdentityEndpoint } from '../dev/identityEndpoint';

export interface TokenSide {
  side: 'plain' | 'cached';
  identityRequests: number;
  ms: number;
}

export interface TokenRequestsResult {
  concurrency: number;
  plain: TokenSide;
  cached: TokenSide;
}

async function child(concurrency: number): Promise<void> {
  const { ManagedIdentityCredential } = await import('@azure/identity');
  const { CachedTokenProvider } = await import('../shared/identity/tokenProvider');
  const credential = new ManagedIdentityCredential();
  const scope = 'https://graph.microsoft.com/.default';
  const getToken =
    process.env.BENCH_SIDE === 'cached'
      ? (() => {
          const provider = new CachedTokenProvider(credential, { scope });
          return () => provider.getToken();
        })()
      : () => credential.getToken(scope);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => getToken()));
  process.stdout.write(JSON.stringify({ ms: performance.now() - started }));
}

const script = fileURLToPath(import.meta.url);

/** Both sides, each in a fresh process, against a local identity endpoint answering in 50 ms. */
export async function measureTokenRequests(concurrency: number): Promise<TokenRequestsResult> {
  const identity = await startIdentityEndpoint();
  identity.setFault({ kind: 'slow', delayMs: 50 });
  try {
    const run = async (side: 'plain' | 'cached'): Promise<TokenSide> => {
      const before = identity.requestCount;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, String(concurrency)], {
        env: { ...process.env, BENCH_CHILD: '1', BENCH_SIDE: side, IDENTITY_ENDPOINT: identity.endpoint, IDENTITY_HEADER: identity.identityHeader },
      });
      return { side, identityRequests: identity.requestCount - before, ms: Math.round((JSON.parse(stdout) as { ms: number }).ms) };
    };
    return { concurrency, plain: await run('plain'), cached: await run('cached') };
  } finally {
    await identity.close();
  }
}

async function main(concurrency: number): Promise<void> {
  const { plain, cached } = await measureTokenRequests(concurrency);
  console.log(`token requests for ${concurrency} concurrent callers on a cold instance (identity endpoint answers in 50 ms)`);
  console.table([plain, cached]);
  console.log(`identity requests, plain / single-flight: ${plain.identityRequests} / ${cached.identityRequests} = ${(plain.identityRequests / cached.identityRequests).toFixed(1)}x`);
}

if (process.argv[1] && resolve(process.argv[1]) === script) {
  const concurrency = Number(process.argv[2] ?? 100);
  await (process.env.BENCH_CHILD ? child(concurrency) : main(concurrency));
}
