import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { figuresIn, figuresMarkdown, figuresPage, readResults } from '../../bench/readme';
import { sections } from '../../bench/sections/index';

/** The measured figures of docs/benchmarks.md are bench/results.json's, as `npm run bench:readme` writes them. */

const results = readResults();

describe('the figures of docs/benchmarks.md', () => {
  it('are exactly those bench/results.json gives (run npm run bench:readme after npm run bench)', () => {
    expect(figuresIn(readFileSync(figuresPage, 'utf8'))).toBe(figuresMarkdown(results));
  });

  it('name the commit they were measured at, and say later commits are not measured', () => {
    const commit = results.commit.slice(0, 12);
    expect(figuresMarkdown(results)).toContain(`describe the code of commit \`${commit}\`, not any later one`);
    expect(figuresMarkdown(results)).toContain(`git log --oneline ${commit}..HEAD`);
  });

  it('say when they come from a quick run', () => {
    expect(figuresMarkdown(results).includes('**Quick run**')).toBe(results.quick);
  });
});

describe('bench/results.json', () => {
  it('names when, at which commit and on what it was measured', () => {
    expect(Number.isNaN(Date.parse(results.date))).toBe(false);
    expect(results.commit).toMatch(/^[0-9a-f]{40}/);
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.cpuModel).not.toBe('');
    expect(results.machine.node).toMatch(/^v\d+\./);
  });

  it('holds every section of the benchmark and decides every goal', () => {
    expect(Object.keys(results.sections).sort()).toEqual(sections.map((section) => section.key).sort());
    expect(results.goals.map((decided) => decided.id).sort()).toEqual(
      [
        'addedP50OneCaller', 'addedP50TenCallersSlowGraph', 'addedP99TenCallersSlowGraph', 'coldStartRatio', 'facadeCpuPerCreate', 'maxRss', 'rssGrowth',
        'bulkVsSequential', 'bulkVsConcurrent', 'bulkGraphCalls', 'bulkTableRoundTrips',
      ].sort(),
    );
    for (const decided of results.goals) expect(Number.isFinite(decided.measured), decided.id).toBe(true);
  });
});
