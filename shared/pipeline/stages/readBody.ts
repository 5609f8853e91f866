import { readJsonObject } from '../../http/jsonBody';
import type { NamedOperation } from '../../operations/operation';
import type { Stage } from '../context';

export const readBody: Stage<NamedOperation> = async (context, next) => {
  context.rawBody = await readJsonObject(context.request);
  return next();
};
