import Joi from 'joi';
import { odataTypeOf, readOnly } from './rules';

export const connectorGroupRegions = ['nam', 'eur', 'aus', 'asia', 'ind'] as const;

/** `connectorGroup` create body (graph-api.md §4). Graph generates the id and presets the type. */
export const connectorGroupBody = Joi.object({
  '@odata.type': odataTypeOf('#microsoft.graph.connectorGroup'),
  name: Joi.string().min(1).required(),
  region: Joi.string().valid(...connectorGroupRegions).allow(null),
  // Preset by Graph; seed 002 lists it in the body, so its only value is accepted and not forwarded.
  connectorGroupType: Joi.string().valid('applicationProxy').strip(),
  isDefault: readOnly(),
  id: readOnly(),
});
