import { describe, expect, it } from 'vitest';
import { jsonShapeExcess } from '../../shared/http/jsonBody';

/** The one pass over a body's bytes that refuses it before it is decoded, parsed or validated. */
const excess = (text: string, maxDepth = 64, maxMembers = 10) => jsonShapeExcess(Buffer.from(text, 'utf8'), maxDepth, maxMembers);

describe('jsonShapeExcess', () => {
  it('counts object properties and array items, and nothing inside strings', () => {
    expect(excess('{"a":1,"b":[1,2,3],"c":{"d":[]}}', 64, 7)).toBeUndefined();
    expect(excess('{"a":1,"b":[1,2,3],"c":{"d":[]}}', 64, 6)).toBe('tooManyMembers');
    expect(excess('{"a":"x:,[{,:,:", "b": "\\\\\\":,,,,"}', 64, 2)).toBeUndefined();
    expect(excess('{"é:ü":"日本,語:[", "b":[ ]}', 64, 2)).toBeUndefined();
    expect(excess('[[],[ ],[1]]', 64, 4)).toBeUndefined();
    expect(excess('[[],[ ],[1]]', 64, 3)).toBe('tooManyMembers');
  });

  it('measures depth as before: 64 levels pass, 65 do not; brackets in strings do not count', () => {
    expect(excess(`${'['.repeat(64)}${']'.repeat(64)}`, 64, 1000)).toBeUndefined();
    expect(excess(`${'['.repeat(65)}${']'.repeat(65)}`, 64, 1000)).toBe('tooDeep');
    expect(excess(`{"a":"${'['.repeat(100)}"}`, 64, 1000)).toBeUndefined();
  });

  it('stops at the first limit passed: 70,000 keys are refused after the first 10,001', () => {
    const keys = Array.from({ length: 70_000 }, (_, index) => `"k${index}":1`).join(',');
    expect(excess(`{${keys}}`, 64, 10_000)).toBe('tooManyMembers');
  });
});
