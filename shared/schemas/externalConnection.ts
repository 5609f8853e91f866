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
  authorizedAppIds: Joi.array().items(guid),
})
  // Seed 004 and early beta called it `authorizedApps`; Graph now only knows `authorizedAppIds`.
  .rename('authorizedApps', 'authorizedAppIds')
  .allow(null);

const itemIdResolver = Joi.object({
  '@odata.type': Joi.string().valid('#microsoft.graph.externalConnectors.itemIdResolver').required(),
  priority: Joi.number().integer().min(1).required(),
  itemId: Joi.string().required(),
  urlMatchInfo: Joi.object({
    baseUrls: Joi.array().items(Joi.string().uri({ scheme: ['http', 'https'] })).min(1).required(),
    urlPattern: Joi.string().required(),
  }).required(),
});

const activitySettings = Joi.object({
  urlToItemResolvers: Joi.array().items(itemIdResolver),
}).allow(null);

const searchResultTemplate = Joi.object({
  id: Joi.string().max(16).pattern(/^[A-Za-z0-9]+$/, 'letters and digits').required(),
  layout: Joi.object().unknown(true).required(),
  priority: Joi.number().integer().required(),
  rules: Joi.array().items(
    Joi.object({
      operation: Joi.string()
        .valid('equals', 'notEquals', 'contains', 'notContains', 'lessThan', 'greaterThan', 'startsWith')
        .required(),
      property: Joi.string().required(),
      values: Joi.array().items(Joi.string()).min(1).required(),
      valuesJoinedBy: Joi.string().valid('or', 'and').required(),
    }),
  ),
});

const searchSettings = Joi.object({
  searchResultTemplates: Joi.array().items(searchResultTemplate),
}).allow(null);

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
  name: Joi.string().min(1).max(128).required(),
  description: optionalText(),
  configuration,
  activitySettings,
  searchSettings,
  connectorId: optionalText(),
  contentCategory: Joi.string().valid(...contentCategories).allow(null),
  enabledContentExperiences: betaOnly(
    Joi.string().pattern(/^\s*(search|compliance)\s*(,\s*(search|compliance)\s*)?$/, 'search, compliance'),
  ),
  complianceSettings: betaOnly(Joi.object().unknown(true).allow(null)),
  state: readOnly(),
});
