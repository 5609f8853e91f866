import type { Stage } from '../context';

/** Until callers are authenticated every request is recorded as `anonymous`. */
export const authenticate: Stage = async (context, next) => {
  context.caller = { id: 'anonymous' };
  return next();
};
