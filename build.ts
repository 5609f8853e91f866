/**
 * Bundles the function app into one ESM file (dist/index.mjs, `main` in package.json) so a cold
 * start loads one file instead of resolving node_modules. `@azure/functions-core` is provided by
 * the Functions worker at run time; the banner gives the bundle a real `require` for it.
 */
import { build } from 'esbuild';

await build({
  entryPoints: ['functions/index.ts'],
  outfile: 'dist/index.mjs',
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
