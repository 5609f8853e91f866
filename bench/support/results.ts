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
  /** Sections measured again by a later run (`--only … --update`): when, at which commit, on what. */
  laterRuns?: Record<string, { date: string; commit: string; machine: BenchResults['machine'] }>;
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

/**
 * The full run's results with the sections of a later `--only` run put in place of theirs (and their
 * goals), each noted with its own date, commit and machine. Quick and full figures never mix.
 */
export function updatedResults(full: BenchResults, later: BenchResults): BenchResults {
  if (full.quick !== later.quick) throw new Error(`bench/results.json holds ${full.quick ? 'a quick' : 'a full'} run; measure with${full.quick ? '' : 'out'} --quick to update it`);
  const keys = Object.keys(later.sections);
  const laterRuns = { ...full.laterRuns };
  for (const key of keys) laterRuns[key] = { date: later.date, commit: later.commit, machine: later.machine };
  return {
    ...full,
    sections: { ...full.sections, ...later.sections },
    goals: [...full.goals.filter((decided) => !keys.includes(decided.section)), ...later.goals],
    laterRuns,
  };
}
