import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleInputs, bundleState } from '../../dev/bundleFreshness';

/** `npm run reconcile` builds dist/ only when it is missing or a source changed since it was built. */

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function project(): { bundle: string; touch(path: string, secondsAgo: number): void } {
  root = mkdtempSync(join(tmpdir(), 'bundle-freshness-'));
  const touch = (path: string, secondsAgo: number) => {
    const full = join(root, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, '');
    const at = new Date(Date.now() - secondsAgo * 1000);
    // The file and the folders made for it, as if all were written then.
    for (let current = full; current.startsWith(`${root}/`); current = dirname(current)) utimesSync(current, at, at);
  };
  return { bundle: join(root, 'dist', 'index.mjs'), touch };
}

describe('the bundle reconcile runs', () => {
  it('is missing before the first build', () => {
    const { bundle, touch } = project();
    touch('shared/config.ts', 60);
    expect(bundleState(root, bundle)).toEqual({ state: 'missing' });
  });

  it('is current when built after every input changed', () => {
    const { bundle, touch } = project();
    touch('shared/deep/er/module.ts', 60);
    touch('package-lock.json', 60);
    touch('dist/index.mjs', 10);
    expect(bundleState(root, bundle)).toEqual({ state: 'current' });
  });

  it('is stale when a file deep in a source folder, the lock file or host.json changed after the build', () => {
    const { bundle, touch } = project();
    touch('dist/index.mjs', 30);
    touch('shared/deep/er/module.ts', 5);
    touch('host.json', 5);
    touch('package-lock.json', 5);
    expect(bundleState(root, bundle)).toEqual({ state: 'stale', changed: ['shared', 'host.json', 'package-lock.json'] });
  });

  it('watches what build.ts bundles from', () => {
    expect(bundleInputs).toEqual(expect.arrayContaining(['functions', 'shared', 'build.ts', 'host.json', 'package-lock.json']));
  });
});
