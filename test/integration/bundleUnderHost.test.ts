import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../functions/index';

/**
 * The deployed bundle (dist/index.mjs) loaded as the Functions worker loads it, with a recording
 * stand-in for `@azure/functions-core` (test/support/functionsWorker.cjs): HTTP streaming is
 * turned on before any function is registered, so request bodies reach the handlers as streams
 * and the body cap and the auth-before-body order hold under the real host.
 */

interface HostEvent {
  kind: 'log' | 'programmingModel' | 'registerFunction' | 'registerHook';
  name?: string;
  message?: string;
  trigger?: string;
}

async function loadBundleUnderWorker(): Promise<HostEvent[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--require', './test/support/functionsWorker.cjs', '--input-type=module', '--eval', "await import(new URL('dist/index.mjs', `file://${process.cwd()}/`).href);"],
    { env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as HostEvent[];
}

describe('the bundle under the Functions worker', () => {
  it('turns on HTTP streaming before it registers a function, and registers every function once', async () => {
    const events = await loadBundleUnderWorker();
    const streaming = events.findIndex((event) => event.kind === 'log' && event.message === 'HTTP streaming enabled.');
    const firstRegistration = events.findIndex((event) => event.kind === 'registerFunction');
    expect(streaming).toBeGreaterThanOrEqual(0);
    expect(firstRegistration).toBeGreaterThan(streaming);

    const registered = events.filter((event) => event.kind === 'registerFunction');
    expect(registered.map((event) => event.name)).toEqual(functionDefinitions.map((definition) => definition.name));
    expect(registered.filter((event) => event.trigger === 'httpTrigger')).toHaveLength(functionDefinitions.filter((definition) => definition.kind === 'http').length);
  });
});
