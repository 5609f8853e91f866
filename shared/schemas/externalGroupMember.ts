import Joi from 'joi';
import { externalGroupId, guid, odataTypeOf } from './rules';

export const memberTypes = ['user', 'group', 'externalGroup'] as const;

/**
 * An external group member is an `identity` (graph-api.md §3). Seed 003's older shape names the
 * source in `identitySource`; it is translated to today's `type` before the id rule applies.
 */
export const externalGroupMemberBody = Joi.object({
  '@odata.type': odataTypeOf(
    '#microsoft.graph.externalConnectors.identity',
    '#microsoft.graph.externalConnectors.externalGroupMember',
  ),
  id: Joi.when('type', {
    is: 'externalGroup',
    then: externalGroupId.required(),
    otherwise: Joi.when('identitySource', {
      is: 'external',
      then: externalGroupId.required(),
      otherwise: guid.required().messages({
        'string.guid': '{{#label}} must be a Microsoft Entra object id (GUID) when type is user or group',
      }),
    }),
  }),
  type: Joi.string().valid(...memberTypes).required(),
  identitySource: Joi.string()
    .valid('azureActiveDirectory', 'external')
    .when('type', {
      is: 'externalGroup',
      then: Joi.forbidden().messages({ 'any.unknown': '{{#label}} cannot be combined with type externalGroup' }),
    }),
})
  .custom((member: { type: string; identitySource?: string; id: string }, helpers) => {
    if (member.identitySource === undefined) return member;
    if (member.identitySource === 'external' && member.type === 'user') {
      return helpers.error('member.externalUser');
    }
    const type = member.identitySource === 'external' ? 'externalGroup' : member.type;
    return { id: member.id, type };
  })
  .messages({
    'member.externalUser': 'identitySource "external" with type "user" is not a valid member: external members are groups',
  });
