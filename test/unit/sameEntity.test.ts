import { describe, expect, it } from 'vitest';
import { holdsWhatWasSent } from '../../shared/recovery/sameEntity';

describe('what Graph holds carries what was sent', () => {
  it('ignores properties Graph adds: state, @odata.context', () => {
    expect(holdsWhatWasSent({ id: 'c1', name: 'n' }, { '@odata.context': 'https://graph/$metadata#x', id: 'c1', name: 'n', state: 'draft' })).toBe(true);
  });

  it('sees a different value, a missing property or another nested value', () => {
    expect(holdsWhatWasSent({ id: 'c1', name: 'n' }, { id: 'c1', name: 'm' })).toBe(false);
    expect(holdsWhatWasSent({ id: 'c1', description: 'd' }, { id: 'c1' })).toBe(false);
    expect(holdsWhatWasSent({ configuration: { authorizedAppIds: ['a'] } }, { configuration: { authorizedAppIds: ['b'] } })).toBe(false);
  });

  it('lets Graph fill in authorizedAppIds: the creating app added to those sent, or to none', () => {
    expect(holdsWhatWasSent({ id: 'c1' }, { id: 'c1', configuration: { authorizedAppIds: ['app'] } })).toBe(true);
    expect(holdsWhatWasSent({ configuration: { authorizedAppIds: ['a'] } }, { configuration: { authorizedAppIds: ['a', 'app'] } })).toBe(true);
    expect(holdsWhatWasSent({ configuration: { authorizedAppIds: ['a', 'b'] } }, { configuration: { authorizedAppIds: ['a', 'app'] } })).toBe(false);
  });

  it('compares lists of plain values as sets, and lists of objects in order', () => {
    expect(holdsWhatWasSent({ ids: ['a', 'b'] }, { ids: ['b', 'a'] })).toBe(true);
    expect(holdsWhatWasSent({ ids: ['a', 'a'] }, { ids: ['a', 'b'] })).toBe(false);
    expect(holdsWhatWasSent({ ids: ['a'] }, { ids: ['a', 'b'] })).toBe(false);
    expect(holdsWhatWasSent({ rules: [{ p: 1 }, { p: 2 }] }, { rules: [{ p: 1 }, { p: 2 }] })).toBe(true);
    expect(holdsWhatWasSent({ rules: [{ p: 1 }, { p: 2 }] }, { rules: [{ p: 2 }, { p: 1 }] })).toBe(false);
    expect(holdsWhatWasSent({ rules: [{ p: 1 }] }, { rules: [{ p: 1 }, { p: 2 }] })).toBe(false);
  });
});
