import { readJsonObject } from '../../http/jsonBody';
import type { Stage } from '../context';

export const readBody: Stage = async (context, next) => {
  context.rawBody = await readJsonObject(context.request);
  return next();
};
