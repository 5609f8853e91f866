import { readJsonObject } from '../../http/jsonBody';
import type { AnyContext, Stage } from '../context';

export const readBody: Stage<AnyContext> = async (context, next) => {
  context.rawBody = await readJsonObject(context.request);
  return next();
};
