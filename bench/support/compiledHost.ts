/**
 * The local host (`dev/start.ts`) compiled to one JavaScript file, so the facade process the
 * benchmark measures runs its code as Node runs the deployed bundle: without a TypeScript loader.
 * Under `node --import tsx` the process also carries tsx's loader thread and its compiler, about
 * 70 MB of resident memory and some CPU that the deployed app never has. Packages stay in
 * node_modules, loaded as `npm start` loads them. The file goes to `.bench/` at the checkout's
 * root, one level down like `dev/`, so the paths the host finds from its own location (the
 * project root, host.json) stay right.
 */
import { join } from 'node:path';
import { build } from 'esbuild';

const compiled = new Map<string, Promise<string>>();

/** `checkout/.bench/host.mjs`, compiled once per run. */
export function compiledLocalHost(checkout: string): Promise<string> {
  let host = compiled.get(checkout);
  if (!host) {
    const outfile = join(checkout, '.bench', 'host.mjs');
    host = build({
      entryPoints: [join(checkout, 'dev', 'start.ts')],
      outfile,
      bundle: true,
      packages: 'external',
      platform: 'node',
      target: 'node20',
      format: 'esm',
      logLevel: 'warning',
    }).then(() => outfile);
    compiled.set(checkout, host);
  }
  return host;
}
