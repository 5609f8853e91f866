import Joi from 'joi';

/**
 * Graph's documented rules for ids and names (graph-api.md), shared by bodies and path parameters.
 */

export const graphVersions = ['v1.0', 'beta'] as const;
export type GraphVersion = (typeof graphVersions)[number];

export const graphVersion = Joi.string().valid(...graphVersions).required()
  .description('Microsoft Graph version: `v1.0` or `beta`.');

const reservedConnectionIds = [
  'None', 'Directory', 'Exchange', 'ExchangeArchive', 'LinkedIn', 'Mailbox', 'OneDriveBusiness',
  'SharePoint', 'Teams', 'Yammer', 'Connectors', 'TaskFabric', 'PowerBI', 'Assistant', 'TopicEngine',
  'MSFT_All_Connectors',
];
const reservedLowercase = new Set(reservedConnectionIds.map((id) => id.toLowerCase()));

export const connectionId = Joi.string()
  .min(3)
  .max(32)
  .pattern(/^[A-Za-z0-9]+$/, 'letters and digits')
  .custom((value: string, helpers) => {
    if (/^microsoft/i.test(value)) return helpers.error('connectionId.microsoftPrefix');
    if (reservedLowercase.has(value.toLowerCase())) return helpers.error('connectionId.reserved');
    return value;
  })
  .messages({
    'connectionId.microsoftPrefix': '{{#label}} must not start with "Microsoft"',
    'connectionId.reserved': `{{#label}} must not be one of the reserved ids ${reservedConnectionIds.join(', ')}`,
  })
  .description(
    `Id of the external connection: 3 to 32 letters and digits, not starting with Microsoft and not one of ${reservedConnectionIds.join(', ')} (in any case).`,
  );

/** External group ids: the URL- and filename-safe Base64 alphabet, up to 128 characters (graph-api.md §2). */
export const externalGroupId = Joi.string()
  .max(128)
  .pattern(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_"')
  .description('Id of the external group: up to 128 letters, digits, hyphens and underscores.');

export const guid = Joi.string().guid({ separator: '-' });

/**
 * An `@odata.type` is accepted only when it names the entity's own type (current or older name)
 * and is never forwarded: Graph infers the type from the path.
 */
export const odataTypeOf = (...typeNames: string[]) =>
  Joi.string().valid(...typeNames).strip()
    .description('OData type of the entity; optional, accepted when it names this entity and never forwarded.');

/**
 * A property the caller may not set: Graph fills it in. `type` is what Graph answers with; it only
 * documents the property in the OpenAPI response schemas (any value sent is refused).
 */
export const readOnly = (type: Joi.Schema = Joi.any()) =>
  type.forbidden().messages({ 'any.unknown': '{{#label}} is read-only and cannot be set on create' });

/** Optional text that Graph accepts empty; null (as Power Automate sends for a blank field) means absent. */
export const optionalText = (max?: number) => {
  const text = Joi.string().allow('');
  return (max ? text.max(max) : text).allow(null);
};

/**
 * The longest array a body may carry where Graph documents no limit: the facade's own guard, so
 * that one request cannot make it validate, audit and forward an unbounded list. Where Graph
 * documents a limit (two search result templates per connection) the schema applies Graph's.
 */
export const facadeArrayLimit = 100;

/** How a schema description says which limit an array has. */
export const graphLimitNote = (max: number) => `at most ${max} (Microsoft Graph's limit)`;
export const facadeLimitNote = `at most ${facadeArrayLimit} (the facade's own limit; Microsoft Graph documents none)`;
