/**
 * `npm run build`: stages the deployable function app in dist/, exactly what `azd up` deploys
 * (azure.yaml `dist: dist`, no remote build):
 * - index.mjs: the whole app bundled into one ESM file, so a cold start loads one file instead of
 *   resolving node_modules. `@azure/functions-core` is provided by the Functions worker at run
 *   time; the banner gives the bundle a real `require` for it;
 * - host.json, and a package.json whose `main` is the bundle (no dependencies: there is nothing to
 *   install);
 * - .funcignore: keeps the source map (for local debugging) out of the deployment package.
 */
import { copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));

export interface BuiltApp {
  outdir: string;
  bundle: string;
  bundleBytes: number;
}

/** One ESM file for Node, as the deployed app is bundled (the cold start baseline is bundled the same way). */
export async function bundleEntry(entryPoint: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entryPoint],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    minify: true,
    keepNames: true,
    external: ['@azure/functions-core'],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
}

export async function buildApp(outdir: string = join(root, 'dist')): Promise<BuiltApp> {
  rmSync(outdir, { recursive: true, force: true });
  const bundle = join(outdir, 'index.mjs');
  await bundleEntry(join(root, 'functions/index.ts'), bundle);
  copyFileSync(join(root, 'host.json'), join(outdir, 'host.json'));
  const project = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; description: string; engines: unknown };
  const deployed = { name: project.name, version: project.version, description: project.description, private: true, type: 'module', main: 'index.mjs', engines: project.engines };
  writeFileSync(join(outdir, 'package.json'), `${JSON.stringify(deployed, null, 2)}\n`);
  writeFileSync(join(outdir, '.funcignore'), '# What azd leaves out of the deployment package (gitignore syntax).\n*.map\n');
  return { outdir, bundle, bundleBytes: statSync(bundle).size };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildApp();
}
