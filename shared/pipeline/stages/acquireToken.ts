import type { AnyContext, Stage } from '../context';

/**
 * The Graph token is obtained before the audit record is written: without an identity nothing
 * can happen, and the caller gets a 503 with no record left pending.
 */
export const acquireToken: Stage<AnyContext> = async (context, next) => {
  await context.runtime.graph.ensureToken();
  return next();
};
