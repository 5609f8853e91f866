import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsCatalog } from '../shared/config';
import { localSettings } from './localSettings';

/**
 * What the local tools keep between runs, in `LOCAL_STATE_DIR` (default `.local/`, gitignored):
 * the dev token issuer's key, and one file per running stack, `stack-{port}.json` (an `npm run
 * stack`, which serves no API, `stack-parts-{pid}.json`), with its settings. The tools beside it
 * (`npm run audit`, `npm run reconcile`) read the one `PORT` names, or the only one running, when
 * nothing is configured, so they reach that stack's Azurite, Graph emulator and API without
 * anything copied from the banner. A stack writes its file once it serves and removes it, and only
 * it, when it stops: several stacks in one checkout (another `PORT`) never see each other's.
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
  /** The port its API listens on (the file's name); absent for `npm run stack`. */
  port?: number;
  startedAt: string;
  /** The API below `/api`; absent for `npm run stack`, which serves none. */
  api?: string;
  /** Callers' tokens come from the dev issuer (its key in the same folder), so the tools can mint one. */
  devTokens: boolean;
  settings: Record<string, string>;
}

/** The file of the stack serving on `port`, or of an `npm run stack` (no port) by its process id. */
export const stackFileIn = (stateDir: string, stack: { port?: number | undefined; pid: number }) =>
  join(stateDir, stack.port === undefined ? `stack-parts-${stack.pid}.json` : `stack-${stack.port}.json`);

const stackFileName = /^stack-(?:\d+|parts-\d+)\.json$/;

/** The app's settings among `env` (the catalogue's, scope `app`): what the tools need to act as the app. */
export function appSettingsOf(env: Record<string, string>): Record<string, string> {
  const names = new Set<string>(settingsCatalog.filter((setting) => setting.scope === 'app').map((setting) => setting.name));
  return Object.fromEntries(Object.entries(env).filter(([name]) => names.has(name)));
}

/** Written whole or not at all (a reader never sees half a file), readable by this user only: it holds secrets. */
export function writeStackFile(stateDir: string, content: StackFile): string {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = stackFileIn(stateDir, content);
  const partial = `${path}.${content.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, path);
  return path;
}

function readStackFile(path: string): StackFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<StackFile>;
    if (typeof parsed.pid !== 'number' || typeof parsed.settings !== 'object' || parsed.settings === null) return undefined;
    return parsed as StackFile;
  } catch {
    return undefined;
  }
}

/** Removes the file if it is still this process's (a later `npm start` on the same port may have written its own since). */
export function removeStackFile(path: string, pid: number): void {
  if (readStackFile(path)?.pid === pid) rmSync(path, { force: true });
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

interface KnownStack {
  file: StackFile;
  path: string;
  running: boolean;
}

/** Every stack file in the folder, and whether its process still runs (a killed one cannot remove its file). */
function knownStacks(stateDir: string): KnownStack[] {
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((name) => stackFileName.test(name)).sort();
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(stateDir, name);
    const file = readStackFile(path);
    return file ? [{ file, path, running: isRunning(file.pid) }] : [];
  });
}

export type RunningStack = { state: 'running'; file: StackFile; path: string } | { state: 'none'; why: string };

const portsOf = (stacks: KnownStack[]) => stacks.map((stack) => (stack.file.port === undefined ? `npm run stack (pid ${stack.file.pid})` : `port ${stack.file.port}`)).join(', ');
const gonePart = (stacks: KnownStack[]) =>
  stacks.map((stack) => ` ${stack.path} names an npm start (pid ${stack.file.pid}) that is no longer running.`).join('');

/**
 * The stack a tool acts on: the one serving on `port` when given (`PORT`, `0` counting as none),
 * else the only one running. `why` says, as a sentence, why there is none to choose.
 */
export function runningStack(stateDir: string, port?: string): RunningStack {
  const stacks = knownStacks(stateDir);
  const running = stacks.filter((stack) => stack.running);
  if (port && !/^\d+$/.test(port.trim())) return { state: 'none', why: `PORT must be the port of a running npm start, got "${port}".` };
  const chosenPort = port && Number(port) !== 0 ? Number(port) : undefined;
  if (chosenPort !== undefined) {
    const onPort = stacks.find((stack) => stack.file.port === chosenPort);
    if (onPort?.running) return { state: 'running', file: onPort.file, path: onPort.path };
    const others = running.length > 0 ? ` Running: ${portsOf(running)}.` : '';
    return { state: 'none', why: `No npm start is running on port ${chosenPort} (PORT).${onPort ? gonePart([onPort]) : ''}${others}` };
  }
  const [only, ...more] = running;
  if (only && more.length === 0) return { state: 'running', file: only.file, path: only.path };
  if (only) {
    const example = running.find((stack) => stack.file.port !== undefined)?.file.port ?? 7071;
    return { state: 'none', why: `Several stacks are running (${portsOf(running)}): set PORT to the one to use, e.g. PORT=${example}.` };
  }
  return { state: 'none', why: `No npm start is running.${gonePart(stacks)}` };
}

/** Settings that say where the stack's parts are: with any of them configured, the running stack's are not used. */
const connectionSettings = ['AuditStorage', 'AuditStorage__tableServiceUri', 'AuditStorage__queueServiceUri', 'GRAPH_BASE_URL', 'IDENTITY_ENDPOINT'];

export interface ToolSettings {
  settings: Record<string, string>;
  /** Where they come from, for the tool to say. */
  source: string;
  stack?: StackFile;
  /** Why no running stack's settings were used, when none was chosen. */
  missing?: string;
}

/**
 * The settings a local tool runs with: the environment, then local.settings.json; when these
 * configure none of storage, Graph or the identity endpoint, the running `npm start`'s settings
 * beneath them (a setting that is present still wins, e.g. `RECONCILE_AFTER_MINUTES=0`).
 */
export function toolSettings(env: Given = process.env): ToolSettings {
  const given = givenSettings(env);
  if (connectionSettings.some((name) => given[name])) return { settings: given, source: 'the environment and local.settings.json' };
  const stack = runningStack(localStateDir(given), given.PORT);
  if (stack.state === 'running') {
    return { settings: { ...stack.file.settings, ...given }, source: `the running npm start (pid ${stack.file.pid}, ${stack.path})`, stack: stack.file };
  }
  return { settings: given, source: `the environment and local.settings.json. ${stack.why}`, missing: stack.why };
}
