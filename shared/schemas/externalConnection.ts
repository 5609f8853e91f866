import Joi from 'joi';
import { connectionId, facadeArrayLimit, facadeLimitNote, graphLimitNote, guid, odataTypeOf, optionalText, readOnly } from './rules';

export const contentCategories = [
  'uncategorized', 'knowledgeBase', 'wikis', 'fileRepository', 'qna', 'crm', 'dashboard', 'people',
  'media', 'email', 'messaging', 'meetingTranscripts', 'taskManagement', 'learningManagement',
] as const;

/** `ruleOperation`: `null` is one of its members (sent as the string "null"), as Graph's metadata names it. */
export const ruleOperations = ['null', 'equals', 'notEquals', 'contains', 'notContains', 'lessThan', 'greaterThan', 'startsWith'] as const;

/** Templates per connection, search and eDiscovery alike (graph-api.md §1). */
export const maxResultTemplates = 2;

const configuration = Joi.object({
  '@odata.type': odataTypeOf(
    '#microsoft.graph.externalConnectors.configuration',
    'microsoft.graph.externalConnectors.configuration',
    '#microsoft.graph.configuration',
    'microsoft.graph.configuration',
  ),
  authorizedAppIds: Joi.array().items(guid.description('Application (client) id.')).max(facadeArrayLimit)
    .description(`Application ids (GUIDs) of the apps allowed to manage this connection: ${facadeLimitNote}.`),
})
  // Seed 004 and early beta called it `authorizedApps`; Graph now only knows `authorizedAppIds`.
  .rename('authorizedApps', 'authorizedAppIds')
  .allow(null)
  .description('Apps, besides the creating one, that may manage the connection.');

// Graph's metadata marks priority, urlMatchInfo, baseUrls and urlPattern nullable: none is required.
const itemIdResolver = Joi.object({
  '@odata.type': Joi.string().valid('#microsoft.graph.externalConnectors.itemIdResolver').required()
    .description('Always #microsoft.graph.externalConnectors.itemIdResolver.'),
  priority: Joi.number().integer().min(1).allow(null)
    .description('Priority of this resolver among the others, 1 first; optional.'),
  itemId: Joi.string().required()
    .description('Pattern of the item id built from the named groups of the URL pattern, e.g. {slug}.'),
  urlMatchInfo: Joi.object({
    baseUrls: Joi.array().items(Joi.string().uri({ scheme: ['http', 'https'] }).description('Base URL (http or https).'))
      .min(1).max(facadeArrayLimit).allow(null)
      .description(`Base URLs the resolver applies to, optional: ${facadeLimitNote}.`),
    urlPattern: Joi.string().allow(null)
      .description('Regular expression matched against the rest of the URL, with named groups; optional.'),
  }).allow(null)
    .description('Which URLs the resolver recognises; optional.'),
}).description('Resolves a URL shared in Microsoft 365 to an item of this connection.');

const activitySettings = Joi.object({
  urlToItemResolvers: Joi.array().items(itemIdResolver).max(facadeArrayLimit)
    .description(`Resolvers from URLs to the ids of items of this connection: ${facadeLimitNote}.`),
}).allow(null)
  .description('How user activity on the content is recognised.');

/**
 * A broken layout is a known cause of Graph's "503, but the connection was created"
 * (graph-api.md §1), so a layout must at least look like an Adaptive Card.
 */
const adaptiveCard = Joi.object({
  type: Joi.string().valid('AdaptiveCard').required()
    .description('Always AdaptiveCard.'),
  version: Joi.string().pattern(/^\d+\.\d+$/, 'an Adaptive Card version').required()
    .description('Adaptive Card schema version, e.g. 1.3.'),
}).unknown(true)
  .description('Adaptive Card layout of the result: an object with type AdaptiveCard and a version, besides the card\'s own properties.');

const propertyRule = Joi.object({
  operation: Joi.string().valid(...ruleOperations).required()
    .description(`Comparison applied to the property: ${ruleOperations.join(', ')} (null is a member of Graph's ruleOperation, sent as the string "null").`),
  property: Joi.string().required()
    .description('Name of the item property compared.'),
  values: Joi.array().items(Joi.string()).min(1).max(facadeArrayLimit).required()
    .description(`Values compared with the property: ${facadeLimitNote}.`),
  valuesJoinedBy: Joi.string().valid('or', 'and').required()
    .description('How several values combine.'),
}).description('A condition for using the template.');

/** Graph's `displayTemplate`: a search (and, on beta, eDiscovery) result template. */
const displayTemplate = Joi.object({
  id: Joi.string().max(16).pattern(/^[A-Za-z0-9]+$/, 'letters and digits').required()
    .description('Id of the template: up to 16 letters and digits.'),
  layout: adaptiveCard.required(),
  priority: Joi.number().integer().min(1).required()
    .description('Priority of the template, a positive number: 1 is evaluated before 4, gaps are allowed.'),
  rules: Joi.array().items(propertyRule).max(facadeArrayLimit)
    .description(`Conditions under which the template is used: ${facadeLimitNote}.`),
}).description('A result template.');

const searchSettings = Joi.object({
  searchResultTemplates: Joi.array().items(displayTemplate).max(maxResultTemplates)
    .description(`Templates for showing search results of this connection: ${graphLimitNote(maxResultTemplates)}.`),
}).allow(null)
  .description('How search results from this connection are shown.');

const complianceSettings = Joi.object({
  eDiscoveryResultTemplates: Joi.array().items(displayTemplate).max(maxResultTemplates)
    .description(`Templates for showing eDiscovery results of this connection: ${graphLimitNote(maxResultTemplates)}.`),
}).allow(null)
  .description('Compliance settings of the connection: how eDiscovery results from it are shown.');

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
  complianceSettings: betaOnly(complianceSettings),
  state: readOnly(Joi.string().description('State of the connection, draft when created.')),
}).description('An external connection of Microsoft Graph connectors.');
