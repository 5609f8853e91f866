import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OperationDefinition } from '../../shared/operations/operation';
import { operationDefinitions } from '../../shared/operations/registerOperation';
import { documentedExamples, paramsOf } from '../support/documentedExamples';
import { call, startTestStack, type TestStack } from '../support/stack';

/**
 * Generated input across every registered create operation (from its declaration: its routes, the
 * properties and values of its documented examples): 10,000 bodies, path parameters and headers, mostly
 * wrong in some way. Whatever arrives, the facade answers without a 5xx, every rejection is
 * Graph-shaped, and a request the facade rejects never reaches the Graph emulator.
 */

let stack: TestStack;
let authorization: string;

/** Per registered create: how many generated cases it had, how many reached Graph and how many the facade refused. */
const coverage = new Map(operationDefinitions.map((operation) => [operation.name, { cases: 0, reachedGraph: 0, refused: 0 }]));

beforeAll(async () => {
  stack = await startTestStack();
  authorization = `Bearer ${await stack.token()}`;
  // The documented examples, parents first: the entities their path parameters name then exist.
  for (const example of documentedExamples) {
    expect((await stack.post(`/${example.version}${example.path}`, example.concrete)).status, example.name).toBe(201);
  }
});

afterAll(async () => {
  await stack?.stop();
});

const facadeRejections = new Set(['invalidRequest', 'unsupportedMediaType', 'requestEntityTooLarge']);

const almost = <T>(valid: T[], size = 12) => fc.oneof(fc.constantFrom(...valid), fc.string({ maxLength: size }), fc.jsonValue({ maxDepth: 1 }));

/** Values near a documented one: itself, empty, too long, with a space, with a reserved prefix. */
const near = (value: unknown): unknown[] =>
  typeof value === 'string' ? [value, '', `${value} x`, value.repeat(12).slice(0, 200), `Microsoft${value}`, value.toUpperCase()] : [value];

/**
 * A body arbitrary from an operation's documented examples: every property any example has, each
 * near a documented value or anything at all, any of them left out; or an example made concrete.
 */
function bodyOf(operation: OperationDefinition): fc.Arbitrary<Record<string, unknown>> {
  const examples = operation.graph.examples.flatMap((example) => [example.concrete, example.asDocumented]);
  const keys = [...new Set(examples.flatMap((example) => Object.keys(example)))];
  const valuesOf = (key: string) => [...new Set(examples.filter((example) => key in example).flatMap((example) => near(example[key])))];
  const mutated = fc.record(Object.fromEntries(keys.map((key) => [key, almost(valuesOf(key))])), { requiredKeys: [] });
  // Now and then an example as it is, so that every operation also sends something Graph takes.
  return fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...operation.graph.examples.map((example) => example.concrete)) }, { weight: 4, arbitrary: mutated });
}

const withExtras = (body: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(body, fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }), fc.boolean()).map(
    ([base, extras, addExtras]) => (addExtras ? { ...extras, ...base } : base),
  );

/** A non-empty path segment that URL parsing keeps as it is (`.` and `..` would be resolved away). */
const routable = (value: string) => value.length > 0 && value !== '.' && value !== '..';
// Text only: a generated JSON object may have no prototype, and so no text form.
const version = fc.oneof(fc.constantFrom('v1.0', 'beta', 'v2.0'), fc.string({ maxLength: 12 })).filter(routable);
const segment = (valid: string[]) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constantFrom('nosuch', 'a/b', 'a b') },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).filter(routable) },
  );

/** A path on one of the operation's routes: literal segments as they are, parameters near the documented examples' values (URL-encoded). */
function pathOf(operation: OperationDefinition): fc.Arbitrary<string> {
  const examples = documentedExamples.filter((example) => example.definition === operation).map(paramsOf);
  return fc.constantFrom(...operation.routes).chain((route) =>
    fc
      .tuple(
        ...route.split('/').map((part) => {
          const parameter = /^\{(\w+)\}$/.exec(part)?.[1];
          if (!parameter) return fc.constant(part);
          const arbitrary = parameter === 'version' ? version : segment(examples.map((params) => params[parameter] ?? 'nosuch'));
          return arbitrary.map((value) => encodeURIComponent(value));
        }),
      )
      .map((parts) => `/${parts.join('/')}`),
  );
}

const request = fc.oneof(
  ...operationDefinitions.map((operation) => fc.record({ operation: fc.constant(operation.name), path: pathOf(operation), body: withExtras(bodyOf(operation)) })),
);

const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml', 'APPLICATION/JSON'),
      fc.string({ maxLength: 20 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
    ),
    'client-request-id': fc.string({ maxLength: 150 }).filter((value) => /^[\x20-\x7e]*$/.test(value)),
    'idempotency-key': fc.string({ maxLength: 10 }).filter((value) => /^[\x21-\x7e]+$/.test(value)),
  },
  { requiredKeys: ['content-type'] },
);

const payload = (body: unknown) =>
  fc.oneof({ weight: 8, arbitrary: fc.constant(JSON.stringify(body)) }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) }, { weight: 1, arbitrary: fc.constant(JSON.stringify([body])) });

const cases = request.chain((generated) => fc.record({ generated: fc.constant(generated), headers, text: payload(generated.body) }));

it('never answers 5xx, always Graph-shaped, and rejected input never reaches Graph (10,000 cases)', async () => {
  let rejected = 0;
  await fc.assert(
    fc.asyncProperty(cases, async ({ generated, headers: sent, text }) => {
      const { path } = generated;
      const counted = coverage.get(generated.operation)!;
      counted.cases += 1;
      const before = stack.graph.receivedCount;
      const response = await call(`${stack.host.apiUrl}${path}`, { method: 'POST', headers: { authorization, ...sent }, body: text });
      expect(response.status, `${path} ${text}`).toBeLessThan(500);
      if (response.status >= 400) {
        expect(response.body?.error?.code, `${response.status} for ${path} ${text}`).toEqual(expect.any(String));
        expect(typeof response.body.error.message).toBe('string');
        expect(response.body.error.innerError['request-id']).toBe(response.headers.get('request-id'));
      }
      // Graph's own errors pass through with Graph's request id; the facade's rejections have none.
      if (facadeRejections.has(response.body?.error?.code) && !response.headers.get('graph-request-id')) {
        rejected += 1;
        counted.refused += 1;
        expect(stack.graph.receivedCount, `${path} ${text} reached Graph`).toBe(before);
      }
      if (stack.graph.receivedCount > before) counted.reachedGraph += 1;
    }),
    { numRuns: 10_000, seed: 20261122, endOnFailure: true },
  );
  // The generator must mostly produce input the facade refuses, or the property says little.
  expect(rejected).toBeGreaterThan(7_000);
  // Every registered create had its share of cases, some refused by the facade and some sent on to Graph.
  process.stdout.write(`bad input per operation (cases, refused, reached Graph): ${JSON.stringify(Object.fromEntries(coverage))}; refused in all ${rejected}\n`);
  for (const [name, counted] of coverage) {
    expect(counted.cases, `${name}: cases`).toBeGreaterThan(10_000 / coverage.size / 2);
    expect(counted.refused, `${name}: refused`).toBeGreaterThan(0);
    expect(counted.reachedGraph, `${name}: reached Graph`).toBeGreaterThan(0);
  }
}, 240_000);
