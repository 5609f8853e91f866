import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphEmulator, type GraphEmulator } from '../../dev/graphEmulator';
import { functionFiles, generatedFiles, orderedFiles, repositoryRoot } from '../../scripts/generated';
import { isCreateOperation, graphAssignsId, type OperationDefinition } from '../../shared/operations/operation';
import { validateWith } from '../../shared/schemas/validate';
import { targetFor, targetKindOf } from '../simulation/targets';
import { graphCollectionOf, paramsOf, type RegisteredExample } from '../support/documentedExamples';

/**
 * What adding a create operation takes, checked for every registered one. By hand: its module
 * (functions/<name>.ts: the declaration and its Graph facts), its joi schema (shared/schemas/),
 * its tests (a test file naming it), its section of docs/graph-facts.md. Generated (npm run
 * generate): functions/index.ts, shared/auth/roles.json, docs/operations.md, the
 * connector definition. Derived from the declaration, and checked here for each operation: the
 * emulator serves it, the simulation has a target for it, the bad-input property test generates
 * for it (its own per-operation count fails otherwise). A declaration that lacks any of these
 * fails with the list of what is missing.
 */

/** Every create declared in functions/, imported or not by the index (a new one is found before npm run generate). */
const creates: OperationDefinition[] = orderedFiles(await functionFiles()).flatMap((file) =>
  file.operations.filter(isCreateOperation),
);

const read = (path: string) => readFileSync(join(repositoryRoot, path), 'utf8');
const files = (folder: string, suffix: string): string[] =>
  readdirSync(join(repositoryRoot, folder), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(folder, entry.name), suffix) : entry.name.endsWith(suffix) ? [join(folder, entry.name)] : [],
  );

/** The Graph path below the version, as Graph's docs write it: `/external/connections/{connectionId}/groups`. */
const graphCollection = (operation: OperationDefinition) => operation.graphPath.replace(/^\/[^/]+/, '');

let emulator: GraphEmulator;
let generated: Record<string, string>;
const schemaModules = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  emulator = await startGraphEmulator();
  generated = await generatedFiles();
  for (const file of files('shared/schemas', '.ts')) schemaModules.set(file, (await import(join(repositoryRoot, file))) as Record<string, unknown>);
});

afterAll(async () => {
  await emulator?.close();
});

/** Everything a create must have by hand: its module, schema, Graph facts and examples, tests, docs. */
async function missingByHand(operation: OperationDefinition): Promise<string[]> {
  const missing: string[] = [];
  const modulePath = `functions/${operation.name}.ts`;
  if (!existsSync(join(repositoryRoot, modulePath))) missing.push(`${modulePath}: the module declaring it (defineOperation, its graph facts, registerOperation)`);
  else if ((await import(join(repositoryRoot, modulePath)))[operation.name] !== operation) missing.push(`${modulePath} does not export ${operation.name}`);

  const schemaFile = [...schemaModules].find(([, exports]) => Object.values(exports).includes(operation.body))?.[0];
  if (!schemaFile) missing.push('its joi body schema, exported from a file in shared/schemas/');

  const facts = operation.graph;
  if (facts.examples.length === 0) missing.push('graph.examples: at least one documented request example of Graph (made concrete, and what Graph receives)');
  for (const example of facts.examples) {
    const registered: RegisteredExample = { ...example, operation: operation.name, definition: operation };
    try {
      paramsOf(registered);
    } catch {
      missing.push(`example ${example.key}: its path ${example.path} is none of the operation's routes`);
      continue;
    }
    if (validateWith(operation.body, example.concrete, { version: example.version }).problems.length > 0) missing.push(`example ${example.key}: made concrete, it does not pass the joi schema`);
    if (validateWith(operation.body, example.sentToGraph, { version: example.version }).problems.length > 0) missing.push(`example ${example.key}: sentToGraph does not pass the joi schema`);
  }
  const otherKeys = new Set(creates.filter((other) => other !== operation).flatMap((other) => other.graph.examples.map((example) => example.key)));
  for (const example of facts.examples) if (otherKeys.has(example.key)) missing.push(`example key ${example.key} is another operation's too`);

  const section = /^§(\d+)$/.exec(facts.factsSection)?.[1];
  const heading = section ? read('docs/graph-facts.md').split('\n').find((line) => line.startsWith(`## ${section}. `)) : undefined;
  if (!heading) missing.push(`docs/graph-facts.md: a section "## ${section ?? 'N'}. …" (graph.factsSection ${facts.factsSection}) with its Graph facts and sources`);
  else if (!heading.includes(graphCollection(operation).replace(/\{\w+\}/g, '{').split('{')[0]!)) missing.push(`docs/graph-facts.md §${section}: its heading does not name ${graphCollection(operation)}`);

  const tests = [...files('test/unit', '.test.ts'), ...files('test/integration', '.test.ts')].filter((file) => read(file).includes(operation.name));
  if (tests.length === 0) missing.push(`a test of its own: no file in test/unit or test/integration names ${operation.name}`);
  return missing;
}

/** Everything generated or derived from the declaration: stale or absent when npm run generate was not run, or the facts do not hold. */
async function missingDerived(operation: OperationDefinition): Promise<string[]> {
  const missing: string[] = [];
  if (!generated['functions/index.ts']!.includes(`import './${operation.name}';`)) missing.push('functions/index.ts does not import it: run npm run generate');
  if (read('functions/index.ts') !== generated['functions/index.ts']) missing.push('functions/index.ts is stale: run npm run generate');
  const roles = JSON.parse(read('shared/auth/roles.json')) as { appRoles: { value: string }[]; graphPermissions: Record<string, string[]> };
  if (!roles.appRoles.some((role) => role.value === operation.role)) missing.push(`shared/auth/roles.json lacks the app role ${operation.role}: run npm run generate`);
  const { names, grantedWith = 'always' } = operation.graph.permissions;
  if (names.length === 0) missing.push('graph.permissions: the Graph application permissions its create needs');
  for (const name of names) {
    if (!roles.graphPermissions[grantedWith]?.includes(name)) missing.push(`shared/auth/roles.json lacks the Graph permission ${name}: run npm run generate`);
  }
  if (!read('docs/operations.md').includes(`| \`${operation.name}\` |`)) missing.push('docs/operations.md does not list it: run npm run generate');
  if (!read('docs/security.md').includes(`| \`${operation.name}\` | \`${operation.role}\` |`)) missing.push("docs/security.md's table of roles does not list it: run npm run generate");
  const operationId = operation.name.charAt(0).toUpperCase() + operation.name.slice(1);
  if (!read('connector/apiDefinition.swagger.json').includes(`"operationId": "${operationId}`)) missing.push('connector/apiDefinition.swagger.json lacks it: run npm run generate');

  try {
    const target = targetFor(targetKindOf(operation));
    const { body, params } = target.request({ body: 0, parent: 0, spelling: 0 });
    const other = target.request({ body: 1, parent: 0, spelling: 0 }).body;
    if (validateWith(operation.body, body, { version: params.version ?? '' }).problems.length > 0 || JSON.stringify(body) === JSON.stringify(other)) {
      missing.push('the simulation target has no two different valid bodies (from its first example)');
    }
  } catch (error) {
    missing.push(`the simulation has no target for it (is it in functions/index.ts? run npm run generate): ${String(error)}`);
  }
  return missing;
}

/** The emulator over HTTP: every example Graph receives is created (parents first), and a second create of it is Graph's duplicate answer. */
async function missingInEmulator(operation: OperationDefinition): Promise<string[]> {
  const missing: string[] = [];
  for (const example of operation.graph.examples.map((declared): RegisteredExample => ({ ...declared, operation: operation.name, definition: operation }))) {
    const path = `/${example.version}${graphCollectionOf(example)}`;
    const post = () =>
      fetch(`${emulator.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify(example.sentToGraph) });
    const created = await post();
    const entity = (await created.json()) as { id?: unknown };
    if (created.status !== 201 || typeof entity.id !== 'string') {
      missing.push(`the emulator does not create example ${example.key} at ${path} (answered ${created.status}): check graph.accept and the parents' examples`);
      continue;
    }
    if (!graphAssignsId(operation)) {
      const again = await post();
      const error = ((await again.json()) as { error?: { code?: string } }).error;
      const duplicate = operation.graph.duplicate;
      if (again.status !== duplicate.status || error?.code !== duplicate.code) missing.push(`the emulator answers a duplicate of ${example.key} ${again.status} ${error?.code}, not the declared ${duplicate.status} ${duplicate.code}`);
    }
    if (operation.existenceCheck !== 'createConflict') {
      const read = await fetch(`${emulator.baseUrl}${path}/${encodeURIComponent(entity.id)}`, { headers: { authorization: 'Bearer x' } });
      if (read.status !== 200) missing.push(`the emulator does not read back ${example.key} (answered ${read.status})`);
    }
  }
  return missing;
}

describe('the extension checklist: every place a create operation must appear', () => {
  it('finds the registered creates', () => {
    expect(creates.length).toBeGreaterThanOrEqual(4);
    expect(new Set(creates.map(targetKindOf)).size).toBe(creates.length);
  });

  // The parts that loop over the registry name no operation in their code (comments aside): a new
  // create needs nothing there.
  const derivedParts = ['dev/graphStore.ts', 'test/integration/badInput.property.test.ts', 'test/simulation/targets.ts', 'test/simulation/schedule.ts', 'test/support/documentedExamples.ts'];
  it.each(derivedParts)('%s names no operation: it takes them from the registry', (path) => {
    const code = read(path).replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const named = creates.flatMap((operation) => {
      const lastSegment = operation.graphPath.split('/').at(-1)!;
      const tokens = [operation.name, `'${operation.graph.collectionName}'`, `'${operation.graph.noun}'`, `'${lastSegment}'`, `/${lastSegment}'`, `/${lastSegment}\``];
      return tokens.filter((token) => code.includes(token)).map((token) => `${operation.name}: ${token}`);
    });
    expect(named).toEqual([]);
  });

  it.each(creates.map((operation) => [operation.name, operation] as const))('%s has everything it needs', async (_, operation) => {
    const missing = [...(await missingByHand(operation)), ...(await missingDerived(operation)), ...(await missingInEmulator(operation))];
    expect(missing, `${operation.name} lacks:\n- ${missing.join('\n- ')}`).toEqual([]);
  });
});
