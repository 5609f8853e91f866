import { execFileSync } from 'node:child_process';

/** Integration tests serve the bundle that is deployed (dist/index.mjs): build it once per run. */
export default function setup(): void {
  execFileSync(process.execPath, ['--import', 'tsx', 'build.ts'], { stdio: 'inherit' });
}
