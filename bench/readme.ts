/**
 * `npm run bench:readme`: writes the measured figures of docs/benchmarks.md from bench/results.json,
 * between the two marker comments; test/unit/benchFigures.test.ts fails when they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sections } from './sections/index';
import { renderSections, type BenchResults } from './support/results';

/** The page that shows the measured figures. */
export const figuresPage = 'docs/benchmarks.md';

export const figuresStart = '<!-- figures: generated from bench/results.json by npm run bench:readme; do not edit by hand -->';
export const figuresEnd = '<!-- end of generated figures -->';

const cell = (text: string) => text.trim().replaceAll('|', '\\|');

/** The page's figures for one results file (markers excluded). */
export function figuresMarkdown(results: BenchResults): string {
  const { machine } = results;
  const lines = [
    `Measured ${results.date.slice(0, 10)} at commit \`${results.commit.slice(0, 12)}\` on ${machine.cores} × ${machine.cpuModel} (${machine.memoryGiB} GiB), Node ${machine.node}, everything on loopback on the same cores.`,
    '',
    `These figures describe the code of commit \`${results.commit.slice(0, 12)}\`, not any later one: \`git log --oneline ${results.commit.slice(0, 12)}..HEAD\` lists what changed since they were measured.`,
  ];
  for (const [key, run] of Object.entries(results.laterRuns ?? {})) {
    const title = sections.find((section) => section.key === key)?.title ?? key;
    lines.push('', `The section “${title}” was measured again by itself on ${run.date.slice(0, 10)} at commit \`${run.commit.slice(0, 12)}\` on ${run.machine.cores} × ${run.machine.cpuModel}, Node ${run.machine.node}.`);
  }
  if (results.quick) {
    lines.push(
      '',
      '> **Quick run** (`npm run bench -- --quick`): runs of a few seconds and a 1,500-request memory run, made to check the benchmark itself.',
      '> They show the shape of the figures, not the service\'s: `npm run bench` on a quiet machine replaces them.',
    );
  }
  const goals = results.goals;
  lines.push('', `Goals met: ${goals.filter((decided) => decided.met).length} of ${goals.length}.`);
  for (const section of renderSections(results, sections)) {
    lines.push('', `**${section.title}**`, '', '| figure | value | against (same run) | goal |', '|---|---|---|---|');
    for (const row of section.rows) {
      lines.push(`| ${cell(row.figure.replace(/^\s+/, '↳ '))} | ${cell(row.value)} | ${cell(row.against ?? '')} | ${cell(row.goal ?? '')} |`);
    }
  }
  return lines.join('\n');
}

/** The page with its figures block replaced. */
export function withFigures(readme: string, results: BenchResults): string {
  const start = readme.indexOf(figuresStart);
  const end = readme.indexOf(figuresEnd);
  if (start < 0 || end < start) throw new Error(`${figuresPage} has no figures block (${figuresStart} … ${figuresEnd})`);
  return `${readme.slice(0, start + figuresStart.length)}\n${figuresMarkdown(results)}\n${readme.slice(end)}`;
}

/** The block as it stands in the page. */
export function figuresIn(readme: string): string {
  const start = readme.indexOf(figuresStart);
  const end = readme.indexOf(figuresEnd);
  if (start < 0 || end < start) throw new Error(`${figuresPage} has no figures block`);
  return readme.slice(start + figuresStart.length, end).replace(/^\n/, '').replace(/\n$/, '');
}

export function readResults(file = 'bench/results.json'): BenchResults {
  return JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(figuresPage, withFigures(readFileSync(figuresPage, 'utf8'), readResults()));
  process.stdout.write(`${figuresPage}: figures written from bench/results.json\n`);
}
