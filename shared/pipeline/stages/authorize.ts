import { forbidden } from '../../auth/authErrors';
import { callerLogFields } from '../../auth/caller';
import { logEvent } from '../../telemetry/requestLog';
import type { Stage } from '../context';

/** The caller must hold the operation's app role; otherwise 403 and nothing further happens. */
export const authorize: Stage = async (context, next) => {
  const { caller, operation } = context;
  if (!caller) throw new Error(`${operation.name}: stage order: the caller is not authenticated yet`);
  if (!caller.roles?.includes(operation.role)) {
    logEvent(context, 'warn', 'request denied: caller lacks the app role', {
      status: 403,
      requiredRole: operation.role,
      callerRoles: caller.roles?.join(' ') ?? '',
      ...callerLogFields(caller),
    });
    throw forbidden(operation.role);
  }
  return next();
};
