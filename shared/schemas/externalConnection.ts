import Joi from 'joi';
import { connectionId, guid, odataTypeOf, optionalText, readOnly } from './rules';

export const contentCategories = [
  'uncategorized', 'knowledgeBase', 'wikis', 'fileRepository', 'qna', 'crm', 'dashboard', 'people',
  'media', 'email', 'messaging', 'meetingTranscripts', 'taskManagement', 'learningManagement',
] as const;

const configuration = Joi.object({
  '@odata.type': odataTypeOf(
    '#microsoft.graph.externalConnectors.configuration',
    'microsoft.graph.externalConnectors.configuration',
    '#microsoft.graph.configuration',
    'microsoft.graph.configuration',
  ),
  authorizedAppIds: Joi.array().items(guid.description('Application (client) id.'))
    .description('Application ids (GUIDs) of the apps allowed to manage this connection.'),
})
  // Seed 004 and early beta called it `authorizedApps`; Graph now only knows `authorizedAppIds`.
  .rename('authorizedApps', 'authorizedAppIds')
  .allow(null)
  .description('Apps, besides the creating one, that may manage the connection.');

const itemIdResolver = Joi.object({
  '@odata.type': Joi.string().valid('#microsoft.graph.externalConnectors.itemIdResolver').required()
    .description('Always #microsoft.graph.externalConnectors.itemIdResolver.'),
  priority: Joi.number().integer().min(1).required()
    .description('Priority of this resolver among the others, 1 first.'),
  itemId: Joi.string().required()
    .description('Pattern of the item id built from the named groups of the URL pattern, e.g. {slug}.'),
  urlMatchInfo: Joi.object({
    baseUrls: Joi.array().items(Joi.string().uri({ scheme: ['http', 'https'] }).description('Base URL (http or https).'))
      .min(1).required()
      .description('Base URLs the resolver applies to.'),
    urlPattern: Joi.string().required()
      .description('Regular expression matched against the rest of the URL, with named groups.'),
  }).required()
    .description('Which URLs the resolver recognises.'),
}).description('Resolves a URL shared in Microsoft 365 to an item of this connection.');

const activitySettings = Joi.object({
  urlToItemResolvers: Joi.array().items(itemIdResolver)
    .description('Resolvers from URLs to the ids of items of this connection.'),
}).allow(null)
  .description('How user activity on the content is recognised.');

const searchResultTemplate = Joi.object({
  id: Joi.string().max(16).pattern(/^[A-Za-z0-9]+$/, 'letters and digits').required()
    .description('Id of the template: up to 16 letters and digits.'),
  layout: Joi.object().unknown(true).required()
    .description('Adaptive Card layout of the result.'),
  priority: Joi.number().integer().required()
    .description('Priority of the template; the lowest matching number wins.'),
  rules: Joi.array().items(
    Joi.object({
      operation: Joi.string()
        .valid('equals', 'notEquals', 'contains', 'notContains', 'lessThan', 'greaterThan', 'startsWith')
        .required()
        .description('Comparison applied to the property.'),
      property: Joi.string().required()
        .description('Name of the item property compared.'),
      values: Joi.array().items(Joi.string()).min(1).required()
        .description('Values compared with the property.'),
      valuesJoinedBy: Joi.string().valid('or', 'and').required()
        .description('How several values combine.'),
    }).description('A condition for using the template.'),
  ).description('Conditions under which the template is used.'),
}).description('A search result template.');

const searchSettings = Joi.object({
  searchResultTemplates: Joi.array().items(searchResultTemplate)
    .description('Templates for showing results of this connection.'),
}).allow(null)
  .description('How search results from this connection are shown.');

const betaOnly = (schema: Joi.Schema) =>
  Joi.when('$version', {
    is: 'beta',
    then: schema,
    otherwise: Joi.any().forbidden().messages({ 'any.unknown': '{{#label}} is available on beta only' }),
  });

/** `externalConnection` create body (graph-api.md §1). */
export const externalConnectionBody = Joi.object({
  '@odata.type': odataTypeOf(
    '#microsoft.graph.externalConnectors.externalConnection',
    '#microsoft.graph.externalConnection',
  ),
  id: connectionId.required(),
  name: Joi.string().min(1).max(128).required()
    .description('Display name of the connection shown in Microsoft 365: 1 to 128 characters.'),
  description: optionalText()
    .description('Description of the connection shown in Microsoft 365.'),
  configuration,
  activitySettings,
  searchSettings,
  connectorId: optionalText()
    .description('Id of the Teams app that created the connection, if any.'),
  contentCategory: Joi.string().valid(...contentCategories).allow(null)
    .description('Category of the content, used to improve search relevance.'),
  enabledContentExperiences: betaOnly(
    Joi.string().pattern(/^\s*(search|compliance)\s*(,\s*(search|compliance)\s*)?$/, 'search, compliance')
      .description('Microsoft 365 experiences the content is used in: search, compliance or both, comma-separated.'),
  ),
  complianceSettings: betaOnly(Joi.object().unknown(true).allow(null)
    .description('Compliance settings of the connection.')),
  state: readOnly(Joi.string().description('State of the connection, draft when created.')),
}).description('An external connection of Microsoft Graph connectors.');
