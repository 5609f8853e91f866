/**
 * `npm run build`: stages the deployable function app in dist/, exactly what `azd up` deploys
 * (azure.yaml `dist: dist`, no remote build):
 * - index.mjs: the app bundled into ESM, so a cold start loads one file instead of resolving
 *   node_modules; what is imported only when first used (the OpenAPI generator, the queue SDK,
 *   reconciliation, the audit query answers) goes to chunks/, loaded then, so a cold start does not even parse it.
 *   `@azure/functions-core` is provided by the Functions worker at run time; the banner gives the
 *   bundle a real `require` for it;
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

/**
 * `outdir/index.mjs` for Node, and `outdir/chunks/` for what it imports dynamically: the deployed
 * app is bundled so (the cold start baseline too). Names are minified and not kept: nothing reads
 * a function's or class's `name` (errors set theirs), and keeping them costs a defineProperty per
 * function at load.
 */
export async function bundleEntry(entryPoint: string, outdir: string): Promise<void> {
  await build({
    entryPoints: [entryPoint],
    outdir,
    entryNames: 'index',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    minify: true,
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
  await bundleEntry(join(root, 'functions/index.ts'), outdir);
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
