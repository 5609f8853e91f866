import { describe, expect, it } from 'vitest';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { defineOperation, isDuplicateAnswer, type OperationDefinition } from '../../shared/operations/operation';
import { holdsNaturalKey, naturalKeyListPath } from '../../shared/recovery/graphReads';

/**
 * What the declarations can say about ids Graph assigns and about duplicates: an id Graph
 * completes (`abc` → `ext1a2b3c4d_abc`) is found by its natural key with `graphValue: 'prefixed'`,
 * a `$filter` narrows the list, and an API that answers a duplicate with other than 409 says so.
 */

const completing = (overrides: Partial<OperationDefinition> = {}): OperationDefinition =>
  defineOperation({
    ...createExternalConnection,
    name: 'createCompleted',
    entityId: 'completedByGraph',
    existenceCheck: { naturalKey: 'id', filter: 'startswith(description,{value})', graphValue: 'prefixed' },
    graph: { ...createExternalConnection.graph, duplicate: { status: 400, code: 'Request_BadRequest' } },
    ...overrides,
  });

describe('ids Graph completes', () => {
  it('find the entity whose id ends in _ and the name sent, and only with graphValue prefixed', () => {
    expect(holdsNaturalKey({ naturalKey: 'id', graphValue: 'prefixed' }, 'ext1a2b3c4d_abc', 'abc')).toBe(true);
    expect(holdsNaturalKey({ naturalKey: 'id', graphValue: 'prefixed' }, 'abc', 'abc')).toBe(true);
    expect(holdsNaturalKey({ naturalKey: 'id', graphValue: 'prefixed' }, 'ext1a2b3c4d_xabc', 'abc')).toBe(false);
    expect(holdsNaturalKey({ naturalKey: 'id' }, 'ext1a2b3c4d_abc', 'abc')).toBe(false);
  });

  it('ask Graph with the declared $filter, the value an OData literal', () => {
    expect(naturalKeyListPath('/v1.0/schemaExtensions', { naturalKey: 'id', filter: 'id eq {value}' }, "o'brien")).toBe(
      `/v1.0/schemaExtensions?$filter=${encodeURIComponent("id eq 'o''brien'")}`,
    );
    expect(naturalKeyListPath('/beta/x', { naturalKey: 'name' }, 'n')).toBe('/beta/x');
  });

  it('are declared with a prefixed natural key check, or the declaration is refused', () => {
    expect(completing().entityId).toBe('completedByGraph');
    expect(() => completing({ existenceCheck: { naturalKey: 'id' } })).toThrow(/graphValue 'prefixed'/);
    expect(() => completing({ existenceCheck: 'readById' })).toThrow(/naturalKey existence check/);
  });
});

describe('the duplicate answer', () => {
  it('is 409 unless declared; a declared 400 is told by its code', () => {
    expect(isDuplicateAnswer(createExternalConnection, { status: 409, body: {} })).toBe(true);
    expect(isDuplicateAnswer(createExternalConnection, { status: 400, body: { error: { code: 'nameAlreadyExists' } } })).toBe(false);
    const other = completing();
    expect(isDuplicateAnswer(other, { status: 400, body: { error: { code: 'Request_BadRequest' } } })).toBe(true);
    expect(isDuplicateAnswer(other, { status: 400, body: { error: { code: 'invalidRequest' } } })).toBe(false);
    expect(isDuplicateAnswer(other, { status: 409, body: {} })).toBe(false);
  });
});
