import type { BenchOptions } from './options';
import type { GoalResult, Row } from './section';
import type { BenchSection } from './section';

/** bench/results.json */
export interface BenchResults {
  /** A `--quick` run: short runs that check the benchmark, not figures of the service. */
  quick: boolean;
  date: string;
  commit: string;
  machine: { cores: number; cpuModel: string; node: string; platform: string; memoryGiB: number };
  options: Omit<BenchOptions, 'out'>;
  /** Each section's result by its key. */
  sections: Record<string, unknown>;
  goals: (GoalResult & { section: string })[];
}

export interface RenderedSection {
  key: string;
  title: string;
  rows: Row[];
}

export function renderSections(results: BenchResults, sections: readonly BenchSection<any>[]): RenderedSection[] {
  return sections.flatMap((section) =>
    section.key in results.sections ? [{ key: section.key, title: section.title, rows: section.rows(results.sections[section.key]) }] : [],
  );
}

/** A plain-text table per section, for the terminal. */
export function printTable(rendered: RenderedSection[]): string {
  const lines: string[] = [];
  for (const section of rendered) {
    lines.push('', section.title);
    const columns = ['figure', 'value', 'against (same run)', 'goal'];
    const cells = section.rows.map((row) => [row.figure, row.value, row.against ?? '', row.goal ?? '']);
    const widths = columns.map((column, index) => Math.min(90, Math.max(column.length, ...cells.map((cell) => cell[index]!.length))));
    const line = (values: string[]) => values.map((value, index) => value.padEnd(widths[index]!)).join(' │ ').trimEnd();
    lines.push(line(columns), widths.map((width) => '─'.repeat(width)).join('─┼─'));
    for (const cell of cells) lines.push(line(cell));
  }
  return lines.join('\n');
}
