import { describe, expect, it } from 'vitest';
import { GraphStore } from '../../dev/graphStore';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import { GraphRefusal } from '../../shared/operations/graphFacts';

/** The emulator's collections, derived from the creates' Graph paths and Graph facts. */

const links = { origin: 'http://127.0.0.1:1', pageSize: 2 };
const store = () => new GraphStore([createExternalConnection, createExternalGroup, createExternalGroupMember, createConnectorGroup]);
const post = (graph: GraphStore, path: string, body: Record<string, unknown>, version = 'v1.0') =>
  graph.execute({ method: 'POST', version, segments: path.split('/'), body, query: new URLSearchParams() }, links);
const refusal = (act: () => unknown) => {
  try {
    act();
  } catch (error) {
    if (error instanceof GraphRefusal) return { status: error.status, code: error.code, message: error.message };
  }
  return undefined;
};

describe('the emulator derived from the registry', () => {
  it('finds each collection\'s parents from the parameters of its Graph path', () => {
    const graph = store();
    expect(graph.collections.map((collection) => [collection.operation.name, collection.parents.map((parent) => parent.operation.name)])).toEqual([
      ['createExternalConnection', []],
      ['createExternalGroup', ['createExternalConnection']],
      ['createExternalGroupMember', ['createExternalConnection', 'createExternalGroup']],
      ['createConnectorGroup', []],
    ]);
  });

  it('refuses a create whose parent no registered create makes', () => {
    expect(() => new GraphStore([createExternalGroup])).toThrow(/no registered operation creates the \{connectionId\}/);
  });

  it('answers 404 naming the first missing parent, the declared duplicate, and ids as Graph compares them', () => {
    const graph = store();
    expect(refusal(() => post(graph, 'external/connections/c1/groups', { id: 'g1' }))).toMatchObject({ status: 404, message: 'The requested connection was not found.' });
    expect(post(graph, 'external/connections', { id: 'Conn1', name: 'n' })?.[0]).toBe(201);
    expect(refusal(() => post(graph, 'external/connections', { id: 'conn1', name: 'n' }))).toMatchObject({ status: 409, code: 'nameAlreadyExists' });
    expect(post(graph, 'external/connections/CONN1/groups', { id: 'g1' })?.[0]).toBe(201);
    expect(refusal(() => post(graph, 'external/connections/conn1/groups/g2/members', { id: 'e811976d-83df-4cbd-8b9b-5215b18aa874', type: 'user' }))).toMatchObject({
      status: 404,
      message: 'The requested group was not found.',
    });
    expect(post(graph, 'external/connections/conn1/groups/g1/members', { id: 'e811976d-83df-4cbd-8b9b-5215b18aa874', type: 'user' })?.[0]).toBe(201);
    expect(graph.counts()).toEqual({ connections: 1, groups: 1, members: 1, connectorGroups: 0 });
  });

  it('serves a create only on the versions it documents, and lists with paging and an equality $filter', () => {
    const graph = store();
    expect(post(graph, 'onPremisesPublishingProfiles/applicationProxy/connectorGroups', { name: 'a' })).toBeUndefined();
    for (const name of ['a', 'b', 'a']) expect(post(graph, 'onPremisesPublishingProfiles/applicationProxy/connectorGroups', { name }, 'beta')?.[0]).toBe(201);
    const list = (query: string) =>
      graph.execute({ method: 'GET', version: 'beta', segments: 'onPremisesPublishingProfiles/applicationProxy/connectorGroups'.split('/'), body: {}, query: new URLSearchParams(query) }, links)?.[1] as {
        value: { name: string }[];
        '@odata.nextLink'?: string;
      };
    expect(list('').value).toHaveLength(2);
    expect(list('')['@odata.nextLink']).toContain('$skiptoken=2');
    expect(list("$filter=name eq 'a'").value.map((group) => group.name)).toEqual(['a', 'a']);
    expect(refusal(() => list('$filter=startswith(name,1)'))).toMatchObject({ status: 400 });
  });
});
