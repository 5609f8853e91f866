import Joi from 'joi';
import { describe, expect, it } from 'vitest';
import { addExternalGroupMembersInBulk } from '../../functions/addExternalGroupMembersInBulk';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { invalidRequest, maxErrorDetails, validateWith } from '../../shared/schemas/validate';

/**
 * A 400 lists at most 100 details, and unknown properties past the first 100 never reach joi: the
 * answer is what joi alone would have led to (the same first details, every problem counted).
 */

function withUnknownKeys(body: Record<string, unknown>, count: number): Record<string, unknown> {
  const copy = { ...body };
  for (let index = 0; index < count; index += 1) copy[`k${index}`] = index;
  return copy;
}

/** joi's own answer, every detail, for comparison. */
function joiAlone(schema: Joi.Schema, input: unknown): string[] {
  const { error } = schema.validate(input, { abortEarly: false, convert: false, context: { version: 'v1.0' } });
  return (error?.details ?? []).map((detail) => detail.path.join('.'));
}

describe('invalidRequest', () => {
  it('lists up to 100 problems as they are; past that 99 and a last detail counting the rest', () => {
    const problems = (count: number) => Array.from({ length: count }, (_, index) => ({ code: 'invalidValue', message: `m${index}`, target: `t${index}` }));
    expect(invalidRequest(problems(100)).details).toHaveLength(100);
    expect(invalidRequest(problems(100)).message).toBe('The request is invalid (100 problems); see details.');
    const capped = invalidRequest(problems(101), 50);
    expect(capped.message).toContain('(151 problems)');
    expect(capped.details).toHaveLength(maxErrorDetails);
    expect(capped.details[98]).toMatchObject({ target: 't98' });
    expect(capped.details[99]).toEqual({ code: 'moreProblems', message: expect.stringMatching(/^52 more problems are not listed/) });
  });
});

describe('validateWith: unknown properties past the first 100', () => {
  it('a flat body: the same first details as joi alone, and every unknown property counted', () => {
    const body = withUnknownKeys({ id: 'g1', displayName: 'Group' }, 150);
    const outcome = validateWith(createExternalGroup.body, body, { version: 'v1.0' });
    const alone = joiAlone(createExternalGroup.body, body);
    expect(alone).toHaveLength(150);
    expect(outcome.problems.map((problem) => problem.target)).toEqual(alone.slice(0, 100));
    expect(outcome.problems.length + outcome.unlisted).toBe(150);
  });

  it('other problems are all still found beside them, and nested unknown properties are counted in items', () => {
    const members = Array.from({ length: 60 }, (_, index) => withUnknownKeys({ id: index === 3 ? 'not-a-guid' : crypto.randomUUID(), type: 'user' }, 3));
    const outcome = validateWith(addExternalGroupMembersInBulk.body, { members }, { version: 'v1.0' });
    expect(outcome.problems.length + outcome.unlisted).toBe(joiAlone(addExternalGroupMembersInBulk.body, { members }).length);
    expect(outcome.problems.some((problem) => problem.target === 'members[3].id')).toBe(true);
    expect(outcome.unlisted).toBe(180 - 100);
  });

  it('what a schema renames or leaves open is never taken for unknown', () => {
    const body = {
      id: 'conn1',
      name: 'Connection',
      configuration: { authorizedApps: ['de8bc8b5-d9f9-48b1-a8ad-b748da725064'] },
      searchSettings: { searchResultTemplates: [{ id: 't1', priority: 1, layout: withUnknownKeys({ type: 'AdaptiveCard', version: '1.3' }, 300) }] },
    };
    expect(validateWith(createExternalConnection.body, body, { version: 'v1.0' })).toMatchObject({ problems: [], unlisted: 0 });
  });
});
