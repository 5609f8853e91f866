/**
 * Cold start of the deployed bundle: a fresh Node process loading dist/index.mjs (every function
 * registered, nothing run), against a fresh Node process loading nothing, measured in the same run.
 *
 *   npm run bench:coldstart [-- runs]
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

const runs = Number(process.argv[2] ?? 10);

function medianMs(args: string[]): number {
  const times = Array.from({ length: runs }, () => {
    const started = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    return performance.now() - started;
  }).sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)] ?? 0);
}

const empty = medianMs(['--input-type=module', '-e', '']);
const bundle = medianMs(['--input-type=module', '-e', "await import('./dist/index.mjs')"]);
const sizeKiB = Math.round(statSync('dist/index.mjs').size / 1024);
console.log(`median of ${runs} fresh processes`);
console.table([
  { process: 'node, nothing loaded (baseline)', ms: empty },
  { process: `node + dist/index.mjs (${sizeKiB} KiB bundle)`, ms: bundle },
]);
console.log(`bundle load cost: ${bundle - empty} ms; process start with the app / without: ${(bundle / empty).toFixed(2)}x`);
