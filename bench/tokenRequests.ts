/**
 * Identity endpoint requests for N concurrent token requests on a cold instance: the plain
 * `ManagedIdentityCredential` (baseline) against the facade's single-flight `CachedTokenProvider`.
 * Each side runs in a fresh process, since MSAL keeps one token cache per process.
 *
 *   npm run bench:tokens [-- 100]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startIdentityEndpoint } from '../dev/identityEndpoint';

const concurrency = Number(process.argv[2] ?? 100);

async function child(): Promise<void> {
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

async function main(): Promise<void> {
  const identity = await startIdentityEndpoint();
  identity.setFault({ kind: 'slow', delayMs: 50 });
  try {
    const run = async (side: 'plain' | 'cached') => {
      const before = identity.requestCount;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/tokenRequests.ts', String(concurrency)], {
        env: { ...process.env, BENCH_CHILD: '1', BENCH_SIDE: side, IDENTITY_ENDPOINT: identity.endpoint, IDENTITY_HEADER: identity.identityHeader },
      });
      return { side, identityRequests: identity.requestCount - before, ms: Math.round((JSON.parse(stdout) as { ms: number }).ms) };
    };
    const plain = await run('plain');
    const cached = await run('cached');
    console.log(`token requests for ${concurrency} concurrent callers on a cold instance (identity endpoint answers in 50 ms)`);
    console.table([plain, cached]);
    console.log(`identity requests, plain / single-flight: ${plain.identityRequests} / ${cached.identityRequests} = ${(plain.identityRequests / cached.identityRequests).toFixed(1)}x`);
  } finally {
    await identity.close();
  }
}

await (process.env.BENCH_CHILD ? child() : main());
