import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the bundle is built from (build.ts): the app's sources, the build itself and the installed packages. */
export const bundleInputs = ['functions', 'shared', 'build.ts', 'host.json', 'package.json', 'package-lock.json'];

function newestChange(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestChange(join(path, name))), stats.mtimeMs);
}

export type BundleState = { state: 'current' } | { state: 'missing' } | { state: 'stale'; changed: string[] };

/** Whether `bundle` was built after every input under `root` last changed (a file's or folder's time). */
export function bundleState(root: string, bundle: string, inputs: readonly string[] = bundleInputs): BundleState {
  if (!existsSync(bundle)) return { state: 'missing' };
  const builtAt = statSync(bundle).mtimeMs;
  const changed = inputs.filter((input) => existsSync(join(root, input)) && newestChange(join(root, input)) > builtAt);
  return changed.length === 0 ? { state: 'current' } : { state: 'stale', changed };
}
