import { execFileSync } from 'node:child_process';

/**
 * Integration tests serve the bundle that is deployed (dist/index.mjs): build it once per run.
 * The run says which Node it is on (test/unit/nodeVersion.test.ts checks it is the pinned one).
 */
export default function setup(): void {
  process.stdout.write(`Tests run on Node ${process.version} (${process.execPath})\n`);
  execFileSync(process.execPath, ['--import', 'tsx', 'build.ts'], { stdio: 'inherit' });
}
