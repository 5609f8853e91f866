import Joi from 'joi';
import { graphLimitNote } from './rules';

/**
 * The `schema` of an external connection, `PATCH /{v}/external/connections/{id}/schema`
 * (docs/graph-facts.md "Connection schema"): a base type and 1 to 128 properties, each with the
 * rules Graph documents for names, types, search attributes, labels and aliases.
 */

export const maxSchemaProperties = 128;
const maxNameLength = 32;

/** The base type the create page requires; the resource page spells it with `externalConnector.`. */
export const schemaBaseTypes = ['microsoft.graph.externalItem', 'microsoft.graph.externalConnector.externalItem'] as const;

const v1PropertyTypes = ['string', 'int64', 'double', 'dateTime', 'boolean', 'stringCollection', 'int64Collection', 'doubleCollection', 'dateTimeCollection'];
/** Beta adds `principal`. */
const betaPropertyTypes = [...v1PropertyTypes, 'principal'];
/** Types whose values are text: the only ones that may be searchable or matched exactly. */
const textTypes = new Set(['string', 'stringcollection']);

const v1Labels = ['title', 'url', 'createdBy', 'lastModifiedBy', 'authors', 'createdDateTime', 'lastModifiedDateTime', 'fileName', 'fileExtension', 'iconUrl', 'containerName', 'containerUrl'];
const betaLabels = [
  ...v1Labels,
  'assignedTo', 'dueDate', 'closedDate', 'closedBy', 'reportedBy', 'sprintName', 'severity', 'state', 'priority',
  'secondaryId', 'itemParentId', 'parentUrl', 'tags', 'itemType', 'itemPath', 'numReactions',
];

const rankingImportance = ['low', 'medium', 'high', 'veryHigh'];

/** Names and aliases: at most 32 characters, letters and digits only (Graph lists the characters it refuses). */
const schemaName = Joi.string().min(1).max(maxNameLength).pattern(/^[A-Za-z0-9]+$/, 'letters and digits');

/** JSON booleans, as Graph's metadata types them (Edm.Boolean); null means absent. */
const attribute = (what: string) => Joi.boolean().allow(null).description(`Whether the property is ${what}.`);

const isTrue = (value: unknown) => value === true;

const versionChoice = (v1: Joi.Schema, beta: Joi.Schema) => Joi.when('$version', { is: 'beta', then: beta, otherwise: v1 });

const betaOnly = (schema: Joi.Schema) =>
  Joi.when('$version', {
    is: 'beta',
    then: schema,
    otherwise: Joi.any().forbidden().messages({ 'any.unknown': '{{#label}} is available on beta only' }),
  });

/** One property of the schema, with the attribute rules Graph documents between its fields. */
export const schemaProperty = Joi.object({
  name: schemaName.required().description('Name of the property: 1 to 32 letters and digits, unique in the schema.'),
  type: versionChoice(
    Joi.string().valid(...v1PropertyTypes).insensitive().required(),
    Joi.string().valid(...betaPropertyTypes).insensitive().required(),
  ).description(`Data type of the property (any letter case): ${v1PropertyTypes.join(', ')}; beta also principal.`),
  isSearchable: attribute('searchable (added to the full-text index; text types only)'),
  isQueryable: attribute('queryable (usable in KQL queries)'),
  isRetrievable: attribute('retrievable (returned in search results; required for labels)'),
  isRefinable: attribute('refinable (a search filter; not together with searchable)'),
  isExactMatchRequired: attribute('matched exactly (non-searchable text types only)'),
  labels: Joi.array()
    .items(versionChoice(Joi.string().valid(...v1Labels), Joi.string().valid(...betaLabels)))
    .unique()
    .allow(null)
    .description(`Well-known semantic labels of the property (each on one property of the schema): ${v1Labels.join(', ')}; beta more.`),
  aliases: Joi.array().items(schemaName).unique().max(maxSchemaProperties).allow(null)
    .description('Friendly names of the property: each 1 to 32 letters and digits.'),
  description: betaOnly(Joi.string().max(200).allow('', null).description('What the property is for, at most 200 characters (beta).')),
  rankingHint: betaOnly(
    Joi.object({ importanceScore: Joi.string().valid(...rankingImportance).required().description(`Importance of the property: ${rankingImportance.join(', ')}.`) }).allow(null)
      .description(`How much the property counts for relevance: ${rankingImportance.join(', ')} (beta).`),
  ),
})
  .custom((property: Record<string, unknown>, helpers) => {
    const text = textTypes.has(String(property.type).toLowerCase());
    if (isTrue(property.isSearchable) && !text) return helpers.error('schemaProperty.searchableType');
    if (isTrue(property.isSearchable) && isTrue(property.isRefinable)) return helpers.error('schemaProperty.searchableRefinable');
    if (isTrue(property.isExactMatchRequired) && (!text || isTrue(property.isSearchable))) return helpers.error('schemaProperty.exactMatch');
    const labels = property.labels as unknown[] | null | undefined;
    if (labels && labels.length > 0 && !isTrue(property.isRetrievable)) return helpers.error('schemaProperty.labelRetrievable');
    return property;
  })
  .messages({
    'schemaProperty.searchableType': '{{#label}} can be searchable only if its type is string or stringCollection',
    'schemaProperty.searchableRefinable': '{{#label}} cannot be both searchable and refinable',
    'schemaProperty.exactMatch': '{{#label}} can require an exact match only if it is a string or stringCollection that is not searchable',
    'schemaProperty.labelRetrievable': '{{#label}} has labels, so it must be retrievable',
  })
  .description('A property of the items of the connection.');

/** No two properties with one name (letter case aside), no label on two properties. */
const propertiesRule = Joi.array()
  .items(schemaProperty)
  .min(1)
  .max(maxSchemaProperties)
  .custom((properties: Record<string, unknown>[], helpers) => {
    const names = new Map<string, number>();
    const labelled = new Map<string, number>();
    for (const [index, property] of properties.entries()) {
      const name = String(property.name).toLowerCase();
      const first = names.get(name);
      if (first !== undefined) return helpers.error('schema.duplicateName', { index, first, name: property.name });
      names.set(name, index);
      for (const label of (property.labels as string[] | null | undefined) ?? []) {
        const owner = labelled.get(label);
        if (owner !== undefined) return helpers.error('schema.duplicateLabel', { index, first: owner, labelName: label });
        labelled.set(label, index);
      }
    }
    return properties;
  })
  .messages({
    'schema.duplicateName': '{{#label}}[{{#index}}] repeats the name {{#name}} of properties[{{#first}}]: names are unique in a schema',
    'schema.duplicateLabel': '{{#label}}[{{#index}}] repeats the label {{#labelName}} of properties[{{#first}}]: a label names one property',
  })
  .required()
  .description(`The properties of the items: 1 to ${maxSchemaProperties}, ${graphLimitNote(maxSchemaProperties)}.`);

/** `schema` body of `registerConnectionSchema`. */
export const connectionSchemaBody = Joi.object({
  '@odata.type': Joi.string().valid('#microsoft.graph.externalConnectors.schema').strip()
    .description('OData type of the schema; optional, accepted when it names the schema and never forwarded.'),
  baseType: Joi.string().valid(...schemaBaseTypes).required()
    .description('Must be microsoft.graph.externalItem (the resource page spells it microsoft.graph.externalConnector.externalItem; both are accepted).'),
  properties: propertiesRule,
}).description('The schema of an external connection: the properties its items have, with their search attributes, labels and aliases.');

/** What Graph's connection operation says (docs/graph-facts.md): `inprogress` until it ends. */
export const connectionOperationStatuses = ['unspecified', 'inprogress', 'completed', 'failed', 'unknownFutureValue'] as const;
export type ConnectionOperationStatus = (typeof connectionOperationStatuses)[number];
