import { describe, expect, it } from 'vitest';
import { percentile } from '../../bench/support/load';
import { analyseRss, type RssSample } from '../../bench/support/memory';
import { bundleSources, components, splitProfile, type CpuProfile, type CpuProfileNode } from '../../bench/support/profile';

/** The benchmark's own arithmetic: percentiles, RSS growth, and the CPU profile's split by component. */

const MiB = 1024 * 1024;

describe('percentile', () => {
  it('is the value at or above the given share of the sorted answers', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe('RSS growth over the last 60% of a run', () => {
  const run = (rssAt: (requests: number) => number, total = 100_000, every = 500): RssSample[] =>
    Array.from({ length: total / every + 1 }, (_, index) => ({ requests: index * every, rssBytes: rssAt(index * every) }));
  // GC makes RSS saw-tooth: ±6 MiB around the level.
  const sawTooth = (requests: number) => ((requests % 7_000) / 7_000 - 0.5) * 12 * MiB;

  it('finds none when RSS only climbs while warming up, then saw-tooths around a level', () => {
    const analysis = analyseRss(run((requests) => (requests < 30_000 ? 100 * MiB + (requests / 30_000) * 60 * MiB : 160 * MiB) + sawTooth(requests)), 100_000);
    expect(analysis.growing).toBe(false);
    expect(analysis.window).toEqual({ fromRequests: 40_000, toRequests: 100_000 });
    expect(analysis.maxRssBytes).toBeGreaterThanOrEqual(160 * MiB);
  });

  it('finds a leak of 1 KiB per request that the saw-tooth does not hide', () => {
    const analysis = analyseRss(run((requests) => 120 * MiB + requests * 1024 + sawTooth(requests)), 100_000);
    expect(analysis.growing).toBe(true);
    expect(analysis.slopeBytesPerRequest).toBeGreaterThan(900);
    expect(analysis.slopeBytesPerRequest).toBeLessThan(1_150);
    expect(analysis.trendGrowthBytes).toBeGreaterThan(50 * MiB);
  });

  it('needs samples in the judged window', () => {
    expect(() => analyseRss([{ requests: 0, rssBytes: MiB }], 100)).toThrow(/samples/);
  });
});

describe('the CPU profile split by component', () => {
  const root = '/srv/facade';
  const bundleUrl = `file://${root}/dist/index.mjs`;
  // Line 0 of the bundle: columns 0–9 from jose, 10–19 from shared/pipeline, from 20 on from shared/graph.
  const bundle = bundleSources(bundleUrl, {
    version: 3,
    file: 'index.mjs',
    sources: ['../node_modules/jose/dist/webapi/jws.js', '../shared/pipeline/pipeline.ts', '../shared/graph/graphClient.ts'],
    names: [],
    mappings: 'AAAA,UCAA,UCAA',
    sourcesContent: [],
    sourceRoot: '',
  });
  const frame = (id: number, functionName: string, url: string, children: number[] = [], columnNumber = 0): CpuProfileNode => ({
    id,
    callFrame: { functionName, url, lineNumber: 0, columnNumber },
    children,
  });
  const nodes = [
    frame(1, '(root)', '', [2, 3, 4, 5, 8, 10, 11]),
    frame(2, '(idle)', ''),
    frame(3, '(garbage collector)', ''),
    frame(4, 'jwtVerify', bundleUrl, [6], 2),
    frame(5, 'runStages', bundleUrl, [9], 12),
    frame(6, 'verify', 'node:internal/crypto/webcrypto', [7]),
    frame(7, 'digest', ''),
    frame(8, 'parserOnIncoming', 'node:_http_server'),
    frame(9, 'handle', `file://${root}/dev/localHost.ts`),
    frame(10, 'onData', 'node:internal/deps/undici/undici'),
    frame(11, 'attempt', bundleUrl, [12], 20),
    frame(12, 'fetch', 'node:internal/deps/undici/undici', [13]),
    frame(13, 'parse', 'wasm://wasm/00ab'),
  ];
  // Each sample lasts until the next one: 1 ms apart.
  const samples = [2, 2, 3, 7, 7, 6, 5, 8, 9, 10, 13, 12];
  const profile: CpuProfile = { nodes, samples, timeDeltas: samples.map(() => 1000), startTime: 0, endTime: samples.length * 1000 };

  it('charges Node internals, undici and native calls to the package that called them, leaves idle out, and divides by the creates', () => {
    const split = splitProfile(profile, 2, bundle, root);
    const byName = Object.fromEntries(split.components.map((component) => [component.component, component.ms]));
    expect(byName).toEqual({
      [components.gc]: 1,
      [components.jose]: 3,
      'app: shared/pipeline': 1,
      [components.nodeHttp]: 1,
      [components.localHost]: 1,
      [components.undiciAsync]: 1,
      [components.fetch]: 2,
    });
    expect(split.totalMs).toBe(10);
    expect(split.msPerCreate).toBe(5);
    expect(split.components[0]).toMatchObject({ component: components.jose, msPerCreate: 1.5, share: 3 / 10 });
  });
});
