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
  }).description(
    'Id of the member: a Microsoft Entra object id (GUID) when type is user or group, an external group id (up to 128 letters, digits, hyphens and underscores) when type is externalGroup.',
  ),
  type: Joi.string().valid(...memberTypes).required()
    .description('Kind of member: a Microsoft Entra user or group, or another external group of the connection.'),
  identitySource: Joi.string()
    .valid('azureActiveDirectory', 'external')
    .when('type', {
      is: 'externalGroup',
      then: Joi.forbidden().messages({ 'any.unknown': '{{#label}} cannot be combined with type externalGroup' }),
    })
    .meta({ writeOnly: true })
    .description(
      'Older way to name the source of the member: external with type group means an external group; not allowed with type externalGroup, and external with type user is refused.',
    ),
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
  })
  .description('A member of an external group: a user, a group or another external group.');
