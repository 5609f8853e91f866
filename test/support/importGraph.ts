import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The project's module graph as the source states it, type-only imports included: TypeScript
 * erases `import type` from the output, so a bundler's view (esbuild's metafile) would miss the
 * very edges that tie the layers together.
 *
 * Every form a module can name another in appears at the start of a statement or as a call:
 * `import … from '…'`, `import type … from '…'`, `import '…'`, `export … from '…'`,
 * `export type … from '…'`, `import('…')` and `typeof import('…')`. Comments are removed first
 * (string literals are skipped over while doing so), so a commented-out import is not an edge.
 */

export type ImportGraph = Map<string, Set<string>>;

/** Source text without `//` and `/* … *\/` comments; strings, template literals and regular expressions are kept. */
export function withoutComments(source: string): string {
  let output = '';
  let index = 0;
  // Whether a `/` here would start a regular expression (rather than divide).
  let regexAllowed = true;
  while (index < source.length) {
    const char = source[index]!;
    const next = source[index + 1];
    if (char === '/' && next === '/') {
      const end = source.indexOf('\n', index);
      index = end === -1 ? source.length : end;
      continue;
    }
    if (char === '/' && next === '*') {
      const end = source.indexOf('*/', index + 2);
      index = end === -1 ? source.length : end + 2;
      output += ' ';
      continue;
    }
    if (char === '"' || char === "'" || char === '`' || (char === '/' && regexAllowed)) {
      const start = index;
      let inClass = false;
      index += 1;
      while (index < source.length) {
        const current = source[index]!;
        if (current === '\\') {
          index += 2;
          continue;
        }
        if (char === '/' && current === '[') inClass = true;
        else if (char === '/' && current === ']') inClass = false;
        else if (current === char && !(char === '/' && inClass)) break;
        else if (char !== '`' && current === '\n') break;
        index += 1;
      }
      index += 1;
      output += source.slice(start, index);
      regexAllowed = false;
      continue;
    }
    output += char;
    if (!/\s/.test(char)) regexAllowed = /[(,=:[!&|?{};+\-*%<>~^]/.test(char) || /\b(return|typeof|case|in|of)$/.test(output.slice(-7));
    index += 1;
  }
  return output;
}

const staticForm = /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"]+)\1/gm;
const sideEffectForm = /^[ \t]*import\s*(['"])([^'"]+)\1/gm;
const callForm = /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g;

/** The module specifiers a source file names, in the order they appear. */
export function specifiersOf(source: string): string[] {
  const text = withoutComments(source);
  const found: { at: number; specifier: string }[] = [];
  for (const pattern of [staticForm, sideEffectForm, callForm]) {
    for (const match of text.matchAll(pattern)) found.push({ at: match.index, specifier: match[2]! });
  }
  return found.sort((left, right) => left.at - right.at).map((entry) => entry.specifier);
}

function resolveModule(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(fromFile), specifier.replace(/\.(m?js)$/, ''));
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${fromFile}: cannot resolve "${specifier}"`);
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The graph of the TypeScript files under `folders` (paths relative to `root`), edges to any local file. */
export function importGraph(root: string, folders: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of folders.flatMap((folder) => sourceFiles(join(root, folder)))) {
    const targets = new Set<string>();
    for (const specifier of specifiersOf(readFileSync(file, 'utf8'))) {
      const target = resolveModule(file, specifier);
      if (target) targets.add(relative(root, target));
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/**
 * Every cycle's strongly connected component (Tarjan, iterative), each named by one concrete
 * cycle through it: `a.ts → b.ts → a.ts`.
 */
export function cyclesOf(graph: ImportGraph): string[][] {
  const indexOf = new Map<string, number>();
  const lowOf = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const successors = (node: string) => [...(graph.get(node) ?? [])].filter((target) => graph.has(target));

  for (const start of graph.keys()) {
    if (indexOf.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    indexOf.set(start, counter);
    lowOf.set(start, counter);
    counter += 1;
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = successors(frame.node);
      if (frame.next < targets.length) {
        const target = targets[frame.next]!;
        frame.next += 1;
        if (!indexOf.has(target)) {
          indexOf.set(target, counter);
          lowOf.set(target, counter);
          counter += 1;
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          lowOf.set(frame.node, Math.min(lowOf.get(frame.node)!, indexOf.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) lowOf.set(parent.node, Math.min(lowOf.get(parent.node)!, lowOf.get(frame.node)!));
      if (lowOf.get(frame.node) === indexOf.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = component.length === 1 && graph.get(component[0]!)?.has(component[0]!);
        if (component.length > 1 || selfLoop) components.push(cycleWithin(graph, new Set(component)));
      }
    }
  }
  return components;
}

/** One cycle inside a strongly connected component: the shortest way back to its first member. */
function cycleWithin(graph: ImportGraph, component: Set<string>): string[] {
  const start = [...component].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of graph.get(node) ?? []) {
      if (!component.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let step: string | undefined = node; step !== undefined && step !== start; step = cameFrom.get(step)) path.splice(1, 0, step);
        return [...path, start];
      }
      if (!cameFrom.has(target)) {
        cameFrom.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}
