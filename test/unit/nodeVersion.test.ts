import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * One Node version: the one Azure runs (infra/app/api.bicep), the one package.json's engines names,
 * the one the npm package `node` (a pinned dev dependency) puts first on the scripts' PATH, and the
 * one this suite, its workers and the children it spawns run on, whatever Node the machine has.
 */

const major = (version: string) => Number(/(\d+)/.exec(version)?.[1]);
const packageJson = JSON.parse(readFileSync('package.json', 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const deployedMajor = major(/^param nodeVersion string = '([^']+)'$/m.exec(readFileSync('infra/app/api.bicep', 'utf8'))?.[1] ?? '');

describe('the Node version', () => {
  it('is one major everywhere: Azure\'s runtime, engines, the pinned node package and @types/node', () => {
    expect(deployedMajor).toBe(22);
    expect(packageJson.engines.node).toBe(`${deployedMajor}.x`);
    expect(packageJson.devDependencies.node).toMatch(new RegExp(`^${deployedMajor}\\.\\d+\\.\\d+$`));
    expect(major(packageJson.devDependencies['@types/node'] ?? '')).toBe(deployedMajor);
  });

  it('runs this suite, its workers and what they spawn', () => {
    process.stdout.write(`test worker on Node ${process.version} (${process.execPath})\n`);
    expect(major(process.version)).toBe(deployedMajor);
    expect(process.version).toBe(`v${packageJson.devDependencies.node}`);
    // A child by process.execPath (the local host, tsx tools), and one found on PATH (bash, npm and node in scripts).
    expect(execFileSync(process.execPath, ['--version'], { encoding: 'utf8' }).trim()).toBe(process.version);
    expect(execFileSync('bash', ['-c', 'node --version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } }).trim()).toBe(process.version);
    // npm itself (the tests run npm run audit, token): `npm version` names the Node it runs on.
    const npmVersions = JSON.parse(execFileSync('npm', ['version', '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } })) as { node: string };
    expect(`v${npmVersions.node}`).toBe(process.version);
  });
});
