import type { BenchEnvironment, Facade, FacadeOptions } from './environment';
import type { BenchOptions } from './options';

/** One line of the printed table and of the README's figures. */
export interface Row {
  figure: string;
  value: string;
  /** The baseline measured in the same run, and how the figure compares. */
  against?: string;
  /** The goal, and whether the figure meets it. */
  goal?: string;
  met?: boolean;
}

/** A goal of the benchmark and the figure that decides it. */
export interface GoalResult {
  id: string;
  goal: string;
  measured: number;
  unit: string;
  met: boolean;
}

export interface BenchContext {
  options: BenchOptions;
  /** Progress, on stderr. */
  log(message: string): void;
  /** A folder for this run's scratch files (profiles, the baseline bundle). */
  workDir: string;
  /** Azurite and the stand-ins, started on first use and shared by the sections. */
  environment(): Promise<BenchEnvironment>;
  /** A facade process by name, started on first use against the Graph of that latency. */
  facade(name: string, graphLatencyMs: number, options?: FacadeOptions): Promise<Facade>;
  stopFacade(name: string): Promise<void>;
  /** The results of the sections that ran before, by key. */
  results: Readonly<Record<string, unknown>>;
  /** Empties a facade's audit table between measured runs (bench/support/janitor.ts says why). */
  trim(facade: Facade): Promise<void>;
}

/**
 * A part of `npm run bench`: what it measures (`run`, whose result goes into results.json under
 * `key`), how its figures read (`rows`, printed and written into the README) and which goals they
 * decide. A new part is one more entry in bench/sections/index.ts.
 */
export interface BenchSection<Result = unknown> {
  key: string;
  title: string;
  run(context: BenchContext): Promise<Result>;
  rows(result: Result): Row[];
  goals(result: Result): GoalResult[];
}

export const defineSection = <Result>(section: BenchSection<Result>): BenchSection<Result> => section;

export function goal(id: string, text: string, measured: number, unit: string, met: boolean): GoalResult {
  return { id, goal: text, measured, unit, met };
}

export const ms = (value: number, digits = 1) => `${value.toFixed(digits)} ms`;
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
export const thousands = (value: number) => Math.round(value).toLocaleString('en-US');
export const verdict = (met: boolean) => (met ? 'met' : 'not met');
