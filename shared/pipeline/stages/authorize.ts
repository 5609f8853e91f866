import { callerLogFields } from '../../auth/caller';
import { denialOf } from '../../auth/callerPolicy';
import { logEvent } from '../../telemetry/requestLog';
import type { HttpOperation } from '../../operations/operation';
import { requireCaller, type Stage } from '../context';

/**
 * The authenticated caller may run the operation: an allowed client app, an accepted delegated
 * scope for user tokens, and the operation's app role. Otherwise 403 and nothing further happens:
 * the body is not even read.
 */
export const authorize: Stage<Pick<HttpOperation, 'name' | 'role'>> = async (context, next) => {
  const caller = requireCaller(context);
  const denial = denialOf(caller, context.runtime.auth.policy, context.operation.role);
  if (denial) {
    const message = {
      clientApp: 'request denied: client application not allowed',
      scope: 'request denied: no accepted delegated scope',
      role: 'request denied: caller lacks the app role',
    }[denial.reason];
    logEvent(context, 'warn', message, { status: 403, ...denial.fields, ...callerLogFields(caller) });
    throw denial.error;
  }
  return next();
};
