import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cyclesOf, importGraph, specifiersOf, type ImportGraph } from '../support/importGraph';

/**
 * The layers of the app import downwards only: no module of functions/ or shared/ reaches itself
 * again through its imports, type-only ones included (a type cycle still ties the layers together
 * and turns into a load-order bug the day one of the types becomes a value).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const graph = importGraph(root, ['functions', 'shared']);
const named = (cycles: string[][]) => cycles.map((cycle) => cycle.join(' → '));

describe('the import graph of functions/ and shared/', () => {
  it('is read whole: every file, with its type-only and lazy imports', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('shared/pipeline/context.ts')).toContain('shared/auth/caller.ts');
    expect(graph.get('functions/openapi.ts')).toContain('shared/openapi/documents.ts');
    expect(graph.get('functions/index.ts')).toContain('functions/reconcile.ts');
  });

  it('has no cycle', () => {
    expect(named(cyclesOf(graph))).toEqual([]);
  });

  it('shared/ never imports the function files or the local tooling', () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      file.startsWith('shared/') ? [...targets].filter((target) => !target.startsWith('shared/')).map((target) => `${file} → ${target}`) : [],
    );
    expect(upward).toEqual([]);
  });
});

describe('the scanner', () => {
  it('finds every form of import and export, and none in comments or strings', () => {
    const source = [
      "import Joi from 'joi';",
      "import type { A } from './a';",
      "import { type B, c } from './b';",
      "import './side-effect';",
      'import {',
      '  d,',
      '  e,',
      "} from './multi-line';",
      "export { f } from './f';",
      "export type { G } from './g';",
      "export * from './h';",
      "let lazy: Promise<typeof import('./typed-lazy')>;",
      "const load = () => import('./lazy');",
      "// import { gone } from './commented-out';",
      "/* import { gone } from './block-commented'; */",
      "const text = \"import x from './in-a-string'\";",
      "const pattern = /^https?:\\/\\//; // a regular expression with slashes",
      "export const after = 1;",
    ].join('\n');
    expect(specifiersOf(source)).toEqual(['joi', './a', './b', './side-effect', './multi-line', './f', './g', './h', './typed-lazy', './lazy']);
  });

  it('names each cycle by a path through it', () => {
    const cyclic: ImportGraph = new Map([
      ['a.ts', new Set(['b.ts'])],
      ['b.ts', new Set(['c.ts'])],
      ['c.ts', new Set(['a.ts', 'd.ts'])],
      ['d.ts', new Set<string>()],
      ['e.ts', new Set(['e.ts'])],
    ]);
    expect(named(cyclesOf(cyclic)).sort()).toEqual(['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']);
  });
});
