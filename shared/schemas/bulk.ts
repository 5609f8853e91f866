import Joi from 'joi';

/**
 * Bodies and answers of bulk requests (`{ "members": [...] }`): each item is validated by the
 * create's own rule, every problem reported with the item's index (`members[2].id`), and an item
 * that repeats an earlier one (by its entity id) is refused with both indexes.
 */

export interface BulkBodyOptions {
  /** The create's body rule, applied to each item. */
  item: Joi.ObjectSchema;
  /** The body's array of items: `members`. */
  itemsProperty: string;
  maxItems: number;
  /** The property that names an item's entity (`id`): two items naming the same one are a duplicate. */
  identity: string;
  /** What the items are, for the descriptions: `members`. */
  noun: string;
}

export function bulkBodyOf({ item, itemsProperty, maxItems, identity, noun }: BulkBodyOptions): Joi.ObjectSchema {
  // Each repeat is reported on its own item, naming the first: the caller sees every one at once.
  const once = item
    .custom((value: Record<string, unknown>, helpers) => {
      const siblings = helpers.state.ancestors[0] as unknown[];
      const position = helpers.state.path?.at(-1);
      const first = siblings.findIndex((other) => (other as Record<string, unknown> | null)?.[identity] === value[identity]);
      return typeof position === 'number' && first >= 0 && first < position
        ? helpers.error('bulk.duplicate', { dupePos: first, dupeValue: value[identity] })
        : value;
    })
    .messages({
      'bulk.duplicate': `{{#label}} repeats ${itemsProperty}[{{#dupePos}}] (${identity} {{#dupeValue}}): each of the ${noun} may appear once`,
    });
  return Joi.object({
    [itemsProperty]: Joi.array()
      .items(once)
      .min(1)
      .max(maxItems)
      .required()
      .description(`The ${noun} to add, 1 to ${maxItems}, each at most once; each is checked by the rules of a single add, and nothing is sent when any is invalid.`),
  }).description(`Up to ${maxItems} ${noun} to add in one request.`);
}

/** How one item of a bulk request ended. */
export const bulkItemStatuses = ['created', 'alreadyMember', 'failed'] as const;
export type BulkItemStatus = (typeof bulkItemStatuses)[number];

const itemError = Joi.object({
  code: Joi.string().required().description('Machine-readable code, as Microsoft Graph or the facade gave it, e.g. invalidRequest or createOutcomeUnknown.'),
  message: Joi.string().required().description('What went wrong, for people.'),
  httpStatus: Joi.number().integer().required().description('The HTTP status this add would have been answered on its own.'),
}).description('Why the add failed; present only when status is failed.');

const itemResult = Joi.object({
  id: Joi.string().required().description('Id of the member, as sent.'),
  status: Joi.string().valid(...bulkItemStatuses).required()
    .description('What happened: created (this request added it), alreadyMember (it was a member already) or failed (see error).'),
  error: itemError,
  madeBy: Joi.string().description(
    'Present when status is created by an earlier add of the same member by the same caller (a retry, or another request with the same body): the id of that add\'s audit record. This request was answered with what it made.',
  ),
}).description('What happened to one member, in the order of the request.');

/** The 200 answer of a bulk request (and of its status URL once done). */
export const bulkResultBody = Joi.object({
  results: Joi.array().items(itemResult).required().description('One result per member, in the order of the request.'),
  created: Joi.number().integer().required().description('How many members this request added.'),
  alreadyMember: Joi.number().integer().required().description('How many were members already.'),
  failed: Joi.number().integer().required().description(
    'How many were not added (see their error). 0 means every member is in the group now (added, or a member already): a flow\'s condition tests failed equal to 0; more than 0, some failed, and results says which and why.',
  ),
}).description('What a bulk request did, member by member. Answered 200 also when some members failed (failed > 0); a group or connection that does not exist is a 404 itemNotFound instead.');

/** The 202 answer of a bulk request, and of its status URL while the work goes on. */
export const bulkProgressBody = Joi.object({
  id: Joi.string().required().description('Id of the bulk request; its status URL ends with it.'),
  status: Joi.string().valid('accepted', 'running').required().description('Where the work is: accepted (waiting to start) or running (members are being added).'),
  total: Joi.number().integer().required().description('How many members the request holds.'),
  done: Joi.number().integer().required().description('How many of them are settled so far.'),
}).description('A bulk request still in progress: poll the Location URL after Retry-After seconds.');
