import Joi from 'joi';
import { externalGroupId, odataTypeOf, optionalText } from './rules';

/** `externalGroup` create body (graph-api.md §2). */
export const externalGroupBody = Joi.object({
  '@odata.type': odataTypeOf('#microsoft.graph.externalConnectors.externalGroup'),
  id: externalGroupId.required(),
  displayName: optionalText()
    .description('Friendly name of the group.'),
  description: optionalText()
    .description('Description of the group.'),
}).description('A group of an external connection, used in access control lists of its items.');
