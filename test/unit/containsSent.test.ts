import { describe, expect, it } from 'vitest';
import { containsSent } from '../../shared/graph/containsSent';

describe('what Graph holds contains what was sent', () => {
  it('ignores properties Graph adds', () => {
    expect(containsSent({ id: 'c1', name: 'n' }, { id: 'c1', name: 'n', state: 'draft' })).toBe(true);
  });

  it('sees a different value, a missing property or another nested value', () => {
    expect(containsSent({ id: 'c1', name: 'n' }, { id: 'c1', name: 'm' })).toBe(false);
    expect(containsSent({ id: 'c1', description: 'd' }, { id: 'c1' })).toBe(false);
    expect(containsSent({ configuration: { authorizedAppIds: ['a'] } }, { configuration: { authorizedAppIds: ['b'] } })).toBe(false);
  });

  it('compares lists of plain values as sets, and lists of objects in order', () => {
    expect(containsSent({ ids: ['a', 'b'] }, { ids: ['b', 'a'] })).toBe(true);
    expect(containsSent({ ids: ['a', 'a'] }, { ids: ['a', 'b'] })).toBe(false);
    expect(containsSent({ ids: ['a'] }, { ids: ['a', 'b'] })).toBe(false);
    expect(containsSent({ rules: [{ p: 1 }, { p: 2 }] }, { rules: [{ p: 1 }, { p: 2 }] })).toBe(true);
    expect(containsSent({ rules: [{ p: 1 }, { p: 2 }] }, { rules: [{ p: 2 }, { p: 1 }] })).toBe(false);
  });
});
