import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostProcess, type HostProcess } from '../support/stack';

/**
 * The README's "Try it": every command of its `sh` blocks, in order, in one shell (so a variable a
 * command sets is there for the next), against a fresh stack as `npm start` runs it, with only
 * the banner's `export` line and the stack's state folder in the environment. Each block's answer
 * block (the `json` or `text` block right after it) holds the output of each of its commands that
 * prints anything, in order; a `…` stands for a value that differs from run to run.
 */

interface Example {
  commands: string[];
  answers: { kind: 'json' | 'text'; text: string } | undefined;
}

const wildcard = '…';
const endOfCommand = '@@end-of-command@@';

function tryItExamples(readme: string): Example[] {
  const start = readme.indexOf('## Try it');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((match) => ({
    lang: match[1]!,
    body: match[2]!,
    end: match.index + match[0].length,
    start: match.index,
  }));
  const examples: Example[] = [];
  blocks.forEach((block, index) => {
    if (block.lang !== 'sh') return;
    const next = blocks[index + 1];
    const adjacent = next && next.lang !== 'sh' && section.slice(block.end, next.start).trim() === '';
    examples.push({
      commands: commandsOf(block.body),
      answers: adjacent ? { kind: next.lang === 'json' ? 'json' : 'text', text: next.body } : undefined,
    });
  });
  return examples;
}

/** Shell lines joined at their trailing backslash; comments and blank lines dropped. */
function commandsOf(script: string): string[] {
  return script
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

/** The JSON values of an answer block, one after another, separated by a blank line. */
function jsonAnswers(text: string): unknown[] {
  return text
    .split(/\n\s*\n/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => JSON.parse(part) as unknown);
}

/** `actual` with every place where `expected` holds the wildcard taken from `expected`. */
function masked(actual: unknown, expected: unknown): unknown {
  if (expected === wildcard) return wildcard;
  if (Array.isArray(expected) && Array.isArray(actual)) return actual.map((item, index) => masked(item, expected[index]));
  if (expected && actual && typeof expected === 'object' && typeof actual === 'object' && !Array.isArray(actual)) {
    const expectedFields = expected as Record<string, unknown>;
    return Object.fromEntries(Object.entries(actual).map(([key, value]) => [key, masked(value, expectedFields[key])]));
  }
  return actual;
}

/** A text answer's line as a pattern: `…` matches anything, the rest literally. */
function linePattern(line: string): RegExp {
  return new RegExp(`^${line.split(wildcard).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*?')}$`);
}

let stateDir: string;
let host: HostProcess;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'facade-readme-'));
  host = await startHostProcess({ LOCAL_STATE_DIR: stateDir });
});

afterAll(async () => {
  await host?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Runs the commands in one bash, printing a marker after each; the output of each command. */
async function runInOneShell(commands: string[], env: Record<string, string>): Promise<string[]> {
  const script = ['set -u', ...commands.flatMap((command) => [command, `printf '\\n%s\\n' '${endOfCommand}'`])].join('\n');
  const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  expect(code, `the README's commands failed:\n${stderr}\n${stdout}`).toBe(0);
  const outputs = stdout.split(`\n${endOfCommand}\n`);
  expect(outputs.pop()).toBe('');
  expect(outputs).toHaveLength(commands.length);
  // npm echoes the script it runs ("> name@version script" and the command); that is npm's, not ours.
  return outputs.map((output) => output.split('\n').filter((line) => !/^> /.test(line)).join('\n').trim());
}

describe('the README\'s "Try it"', () => {
  const examples = tryItExamples(readFileSync('README.md', 'utf8'));

  it('has commands, and answers for most of them', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
    expect(examples.filter((example) => example.answers).length).toBeGreaterThanOrEqual(4);
  });

  it('answers exactly what the README shows, run in order on a fresh stack', async () => {
    const line = /^export (.+)$/m.exec(host.output())?.[1];
    expect(line, 'the banner has an export line').toBeDefined();
    const exported = Object.fromEntries(line!.split(' ').map((pair) => pair.split('=', 2) as [string, string]));
    expect(Object.keys(exported).sort()).toEqual(['API', 'GRAPH', 'TOKEN']);
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOCAL_STATE_DIR: stateDir, ...exported };

    const outputs = await runInOneShell(examples.flatMap((example) => example.commands), env);
    let next = 0;
    for (const example of examples) {
      const printed = outputs.slice(next, next + example.commands.length).filter((output) => output !== '');
      next += example.commands.length;
      const where = example.commands[0]!;
      if (!example.answers) continue;
      if (example.answers.kind === 'json') {
        const expected = jsonAnswers(example.answers.text);
        expect(printed.length, `${where}: answers printed`).toBe(expected.length);
        printed.forEach((output, index) => {
          const actual = JSON.parse(output) as unknown;
          expect(masked(actual, expected[index]), `${where}: answer ${index + 1}`).toEqual(expected[index]);
        });
      } else {
        const actualLines = printed.join('\n').split('\n');
        const expectedLines = example.answers.text.replace(/\n$/, '').split('\n');
        expect(actualLines.length, `${where}:\n${printed.join('\n')}`).toBe(expectedLines.length);
        expectedLines.forEach((expectedLine, index) => expect(actualLines[index], where).toMatch(linePattern(expectedLine)));
      }
    }
  });
});
