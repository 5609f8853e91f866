import type { QueryContext, Stage } from '../context';

/**
 * The query's own answer. Audit records say who did what: the answer is for its caller only, so
 * no shared cache (a gateway, a proxy) may keep it.
 */
export const answerQuery: Stage<QueryContext> = async (context) => {
  const { operation, input, scope, runtime, request, receivedAt } = context;
  if (!input) throw new Error(`${operation.name}: stage order: the query's parameters are not validated yet`);
  const response = await operation.answer({ ...input, ...scope, runtime, request, now: receivedAt });
  return { ...response, headers: { ...(response.headers as Record<string, string> | undefined), 'cache-control': 'no-store' } };
};
