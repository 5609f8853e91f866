import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsCatalog } from '../shared/config';
import { localSettings } from './localSettings';

/**
 * What the local tools keep between runs, in `LOCAL_STATE_DIR` (default `.local/`, gitignored):
 * the dev token issuer's key, and `stack.json`, the settings of the running `npm start`. The
 * tools beside it (`npm run audit`, `npm run reconcile`, `npm run token`) read it when nothing is
 * configured, so they reach the stack's Azurite, Graph emulator and API without anything copied
 * from the banner. `npm start` writes the file once it serves and removes it when it stops.
 */

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

type Given = Record<string, string | undefined>;

/** The environment over local.settings.json `Values`, empty values left out (as `npm start` reads them). */
export function givenSettings(env: Given = process.env): Record<string, string> {
  const merged: Given = { ...localSettings(join(projectRoot, 'local.settings.json')), ...env };
  return Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''));
}

/** `LOCAL_STATE_DIR`, relative to the project, or `.local/` in it. */
export function localStateDir(given: Given = givenSettings()): string {
  const configured = given.LOCAL_STATE_DIR;
  if (!configured) return join(projectRoot, '.local');
  return isAbsolute(configured) ? configured : resolve(projectRoot, configured);
}

export const devKeyFileIn = (stateDir: string) => join(stateDir, 'dev-token-issuer.json');

/** What `npm start` writes: who wrote it, where its API is, and every setting of the app it serves with. */
export interface StackFile {
  /** The `npm start` process; the file is only trusted while it runs. */
  pid: number;
  startedAt: string;
  /** The API below `/api`; absent for `npm run stack`, which serves none. */
  api?: string;
  /** Callers' tokens come from the dev issuer (its key in the same folder), so the tools can mint one. */
  devTokens: boolean;
  settings: Record<string, string>;
}

export const stackFileIn = (stateDir: string) => join(stateDir, 'stack.json');

/** The app's settings among `env` (the catalogue's, scope `app`): what the tools need to act as the app. */
export function appSettingsOf(env: Record<string, string>): Record<string, string> {
  const names = new Set<string>(settingsCatalog.filter((setting) => setting.scope === 'app').map((setting) => setting.name));
  return Object.fromEntries(Object.entries(env).filter(([name]) => names.has(name)));
}

/** Written whole or not at all (a reader never sees half a file), readable by this user only: it holds secrets. */
export function writeStackFile(stateDir: string, content: StackFile): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = stackFileIn(stateDir);
  const partial = `${path}.${content.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, path);
}

function readStackFile(stateDir: string): StackFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(stackFileIn(stateDir), 'utf8')) as Partial<StackFile>;
    if (typeof parsed.pid !== 'number' || typeof parsed.settings !== 'object' || parsed.settings === null) return undefined;
    return parsed as StackFile;
  } catch {
    return undefined;
  }
}

/** Removes the file if it is still this process's (another `npm start` may have written its own since). */
export function removeStackFile(stateDir: string, pid: number): void {
  if (readStackFile(stateDir)?.pid === pid) rmSync(stackFileIn(stateDir), { force: true });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type RunningStack = { state: 'running'; file: StackFile; path: string } | { state: 'gone'; file: StackFile; path: string } | { state: 'none'; path: string };

/** The `npm start` whose settings are in the file, if it still runs (a killed one cannot remove its file). */
export function runningStack(stateDir: string): RunningStack {
  const path = stackFileIn(stateDir);
  const file = readStackFile(stateDir);
  if (!file) return { state: 'none', path };
  return isRunning(file.pid) ? { state: 'running', file, path } : { state: 'gone', file, path };
}

/** Settings that say where the stack's parts are: with any of them configured, the running stack's are not used. */
const connectionSettings = ['AuditStorage', 'AuditStorage__tableServiceUri', 'AuditStorage__queueServiceUri', 'GRAPH_BASE_URL', 'IDENTITY_ENDPOINT'];

export interface ToolSettings {
  settings: Record<string, string>;
  /** Where they come from, for the tool to say. */
  source: string;
  stack?: StackFile;
}

/**
 * The settings a local tool runs with: the environment, then local.settings.json; when these
 * configure none of storage, Graph or the identity endpoint, the running `npm start`'s settings
 * beneath them (a setting that is present still wins, e.g. `RECONCILE_AFTER_MINUTES=0`).
 */
export function toolSettings(env: Given = process.env): ToolSettings {
  const given = givenSettings(env);
  if (connectionSettings.some((name) => given[name])) return { settings: given, source: 'the environment and local.settings.json' };
  const stack = runningStack(localStateDir(given));
  if (stack.state === 'running') {
    return { settings: { ...stack.file.settings, ...given }, source: `the running npm start (pid ${stack.file.pid}, ${stack.path})`, stack: stack.file };
  }
  const why = stack.state === 'gone'
    ? `${stack.path} names an npm start (pid ${stack.file.pid}) that is no longer running`
    : 'no npm start is running (no stack.json)';
  return { settings: given, source: `the environment and local.settings.json; ${why}` };
}
