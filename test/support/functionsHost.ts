import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ignore from 'ignore';

/**
 * The deployment as azd makes it and the Functions worker loads it:
 * - `azdPackageFiles` lists what `azd deploy` zips for a function service (azure.yaml `dist`),
 *   with azd's rules: the folder's own `.funcignore` (gitignore syntax) decides, the ignore file
 *   itself, `local.settings.json` and `.azure/` are never packed;
 * - `stageApp` copies exactly those files to an empty folder, plus the stand-in
 *   `@azure/functions-core` the worker would provide (nothing else: no node_modules);
 * - `runUnderWorker` loads that folder as the worker does and runs invocations through it.
 */

const supportFolder = dirname(fileURLToPath(import.meta.url));

export function azdPackageFiles(distFolder: string): string[] {
  const ignoreFile = join(distFolder, '.funcignore');
  const rules = existsSync(ignoreFile) ? ignore().add(readFileSync(ignoreFile, 'utf8')) : undefined;
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      const name = relative(distFolder, path).split(sep).join('/');
      if (entry.isDirectory()) {
        if (entry.name === '.azure') continue;
        if (rules?.ignores(`${name}/`)) continue;
        if (!rules && entry.name === 'node_modules') continue;
        walk(path);
        continue;
      }
      if (entry.name === '.funcignore' || entry.name === 'local.settings.json') continue;
      if (rules?.ignores(name)) continue;
      files.push(name);
    }
  };
  walk(distFolder);
  return files.sort();
}

export interface StagedApp {
  folder: string;
  remove(): void;
}

export function stageApp(distFolder: string, files: readonly string[]): StagedApp {
  const folder = mkdtempSync(join(tmpdir(), 'facade-deployed-'));
  for (const file of files) {
    mkdirSync(dirname(join(folder, file)), { recursive: true });
    copyFileSync(join(distFolder, file), join(folder, file));
  }
  const core = join(folder, 'node_modules', '@azure', 'functions-core');
  mkdirSync(core, { recursive: true });
  copyFileSync(join(supportFolder, 'functions-core', 'index.cjs'), join(core, 'index.js'));
  writeFileSync(join(core, 'package.json'), JSON.stringify({ name: '@azure/functions-core', version: '3.0.0-stand-in', main: 'index.js' }));
  return { folder, remove: () => rmSync(folder, { recursive: true, force: true }) };
}

export interface RpcHttp {
  method: string;
  url: string;
  headers?: Record<string, string>;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: { string: string };
}

export interface WorkerRun {
  programmingModel: { name: string; version: string } | null;
  registrations: { name: string; bindings: Record<string, Record<string, unknown>> }[];
  results: { function: string; status: number; headers: Record<string, string>; body: string; logs: { level: string; category: string; message: string }[] }[];
  systemLogs: { level: string; category: string; message: string }[];
  stderr: string;
}

/** Runs the driver in a child process with only the given settings (no stray `AUTH_*`, storage…). */
export function runUnderWorker(appFolder: string, invocations: { function: string; http: RpcHttp }[], env: Record<string, string> = {}): Promise<WorkerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(supportFolder, 'functionsHostDriver.mjs'), appFolder], {
      cwd: appFolder,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`the worker stand-in exited with ${code}:\n${stderr}`));
        return;
      }
      resolve({ ...(JSON.parse(stdout) as Omit<WorkerRun, 'stderr'>), stderr });
    });
    child.stdin.end(JSON.stringify({ invocations }));
  });
}
