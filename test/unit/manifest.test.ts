import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requestIdOf } from '../../shared/manifest/apply';
import { schemaDifferences } from '../../shared/manifest/plan';
import { operationPathOf, pollDelaySeconds } from '../../shared/manifest/schemaRegistration';
import { connectionSchemaBody } from '../../shared/schemas/connectionSchema';
import { connectorManifestBody } from '../../shared/schemas/manifest';
import { validateWith } from '../../shared/schemas/validate';

const targets = (schema: Parameters<typeof validateWith>[0], value: unknown, version = 'v1.0') =>
  validateWith(schema, value, { version }).problems.map((problem) => problem.target);

describe('the sample manifest in docs/', () => {
  it('is valid by the same rules as the route', () => {
    const sample = JSON.parse(readFileSync(new URL('../../docs/connector-manifest.sample.json', import.meta.url), 'utf8'));
    expect(targets(connectorManifestBody, sample)).toEqual([]);
  });
});

describe('connection schema rules (docs/graph-facts.md "Connection schema")', () => {
  const property = (extra: Record<string, unknown>) => ({ baseType: 'microsoft.graph.externalItem', properties: [{ name: 'title', type: 'String', ...extra }] });

  it('takes 1 to 128 properties', () => {
    expect(targets(connectionSchemaBody, { baseType: 'microsoft.graph.externalItem', properties: [] })).toEqual(['properties']);
    const many = Array.from({ length: 129 }, (_, index) => ({ name: `p${index}`, type: 'string' }));
    expect(targets(connectionSchemaBody, { baseType: 'microsoft.graph.externalItem', properties: many })).toEqual(['properties']);
    expect(targets(connectionSchemaBody, { baseType: 'microsoft.graph.externalItem', properties: many.slice(0, 128) })).toEqual([]);
  });

  it('searchable only for text types, never with refinable; exact match only on non-searchable text; labels need retrievable', () => {
    expect(targets(connectionSchemaBody, property({ type: 'Int64', isSearchable: true }))).toEqual(['properties[0]']);
    expect(targets(connectionSchemaBody, property({ isSearchable: true, isRefinable: true }))).toEqual(['properties[0]']);
    expect(targets(connectionSchemaBody, property({ isSearchable: true, isExactMatchRequired: true }))).toEqual(['properties[0]']);
    expect(targets(connectionSchemaBody, property({ labels: ['title'] }))).toEqual(['properties[0]']);
    expect(targets(connectionSchemaBody, property({ labels: ['title'], isRetrievable: true, isExactMatchRequired: true }))).toEqual([]);
  });

  it('names and aliases are 32 letters and digits; a name or label once per schema; principal and rankingHint on beta only', () => {
    expect(targets(connectionSchemaBody, property({ name: 'has-dash', aliases: ['ok', 'not ok'] }))).toEqual(['properties[0].name', 'properties[0].aliases[1]']);
    const twice = { baseType: 'microsoft.graph.externalItem', properties: [{ name: 'a', type: 'string', isRetrievable: true, labels: ['title'] }, { name: 'A', type: 'string', isRetrievable: true, labels: ['url'] }] };
    expect(targets(connectionSchemaBody, twice)).toEqual(['properties']);
    expect(targets(connectionSchemaBody, property({ type: 'principal', rankingHint: { importanceScore: 'high' } }))).toEqual(['properties[0].type', 'properties[0].rankingHint']);
    expect(targets(connectionSchemaBody, property({ type: 'principal', rankingHint: { importanceScore: 'high' } }), 'beta')).toEqual([]);
  });
});

describe('schema registration and apply helpers', () => {
  it('reads the operation path from Graph’s absolute Location', () => {
    expect(operationPathOf('https://graph.microsoft.com/v1.0/external/connections/contosohr/operations/616bfeed-666f-4ce0-8cd9-058939010bfc'))
      .toBe('/v1.0/external/connections/contosohr/operations/616bfeed-666f-4ce0-8cd9-058939010bfc');
    expect(operationPathOf('http://127.0.0.1:4000/beta/external/connections/c/operations/x')).toBe('/beta/external/connections/c/operations/x');
  });

  it('polls a second apart at first, at most 30 s apart', () => {
    expect(pollDelaySeconds(0)).toBe(1);
    expect(pollDelaySeconds(15 * 60_000)).toBe(30);
  });

  it('gives an apply’s create of an entity the same GUID-shaped request id in every run, another per entity and apply', () => {
    const id = requestIdOf('8203515162299_6365bb98-35cd-44e3-af01-527adf08d543', 'connection');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(requestIdOf('8203515162299_6365bb98-35cd-44e3-af01-527adf08d543', 'connection')).toBe(id);
    expect(requestIdOf('8203515162299_6365bb98-35cd-44e3-af01-527adf08d543', 'group:g1')).not.toBe(id);
    expect(requestIdOf('8203515162298_6365bb98-35cd-44e3-af01-527adf08d543', 'connection')).not.toBe(id);
  });

  it('tells a registered schema that differs: a property missing, added, or with another attribute', () => {
    const wanted = { properties: [{ name: 'title', type: 'String', isSearchable: true }, { name: 'owner', type: 'String' }] };
    expect(schemaDifferences(wanted, { properties: [{ name: 'Title', type: 'string', isSearchable: true }, { name: 'owner', type: 'string' }] })).toEqual([]);
    expect(schemaDifferences(wanted, { properties: [{ name: 'title', type: 'string' }, { name: 'extra', type: 'string' }] }))
      .toEqual(['properties.title.isSearchable', 'properties.owner (not registered)', 'properties.extra (registered, not in the manifest)']);
  });
});
