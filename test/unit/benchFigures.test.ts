import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { figuresIn, figuresMarkdown, figuresPage, readResults } from '../../bench/readme';
import { sections } from '../../bench/sections/index';
import { updatedResults, type BenchResults } from '../../bench/support/results';

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

  it('says when, at which commit and on what each section measured again by itself was measured', () => {
    for (const [key, run] of Object.entries(results.laterRuns ?? {})) {
      expect(sections.map((section) => section.key), key).toContain(key);
      expect(Number.isNaN(Date.parse(run.date)), key).toBe(false);
      expect(run.commit, key).toMatch(/^[0-9a-f]{40}/);
      expect(figuresMarkdown(results), key).toContain(run.commit.slice(0, 12));
    }
  });

  it('holds every section of the benchmark and decides every goal', () => {
    expect(Object.keys(results.sections).sort()).toEqual(sections.map((section) => section.key).sort());
    expect(results.goals.map((decided) => decided.id).sort()).toEqual(
      [
        'addedP50OneCaller', 'addedP50TenCallersSlowGraph', 'addedP99TenCallersSlowGraph', 'coldStartRatio', 'facadeCpuPerCreate', 'maxRss', 'rssGrowth',
        'bulkVsSequential', 'bulkVsConcurrent', 'bulkGraphCalls', 'bulkTableRoundTrips', 'manifestVsSequential', 'manifestVsBulkRoute',
      ].sort(),
    );
    for (const decided of results.goals) expect(Number.isFinite(decided.measured), decided.id).toBe(true);
  });
});

describe('measuring a section again (npm run bench -- --only … --update)', () => {
  const later: BenchResults = {
    ...results,
    date: '2030-01-01T00:00:00.000Z',
    commit: 'f'.repeat(40),
    sections: { bulk: { measuredAgain: true } },
    goals: [{ id: 'bulkVsSequential', section: 'bulk', goal: 'again', measured: 99, unit: '×', met: true }],
  };

  it('replaces that section and its goals only, and notes its own run', () => {
    const updated = updatedResults(results, later);
    expect(updated.sections.bulk).toEqual({ measuredAgain: true });
    expect(updated.sections.latency).toEqual(results.sections.latency);
    expect(updated.goals.filter((decided) => decided.section === 'bulk')).toEqual(later.goals);
    expect(updated.goals.filter((decided) => decided.section !== 'bulk')).toEqual(results.goals.filter((decided) => decided.section !== 'bulk'));
    expect(updated.laterRuns?.bulk).toEqual({ date: later.date, commit: later.commit, machine: later.machine });
    expect(updated.date).toBe(results.date);
  });

  it('never mixes a quick run into full figures', () => {
    expect(() => updatedResults(results, { ...later, quick: !results.quick })).toThrow(/quick/);
  });
});
