import type { FacadeError } from '../errors';
import { clientAppNotAllowed, forbidden, scopeNotAccepted } from './authErrors';
import type { AuthenticatedCaller } from './caller';
import type { CallerPolicy } from './settings';

export interface Denial {
  /** What is missing, for the log. */
  reason: 'clientApp' | 'scope' | 'role';
  /** The 403 the caller gets. */
  error: FacadeError;
  /** Log fields saying what was required and what the caller had. */
  fields: Record<string, string>;
}

/**
 * Whether an authenticated caller may run an operation: its client app must be an allowed one
 * (when the list is set), a delegated token must carry an accepted scope, and the caller must
 * hold the operation's app role. Undefined when all hold; else the first that does not.
 */
export function denialOf(caller: AuthenticatedCaller, policy: CallerPolicy, role: string): Denial | undefined {
  const { allowedClientApps, acceptedScopes } = policy;
  if (allowedClientApps && !(caller.appId && allowedClientApps.includes(caller.appId.toLowerCase()))) {
    return { reason: 'clientApp', error: clientAppNotAllowed(), fields: { allowedClientApps: allowedClientApps.join(' ') } };
  }
  if (caller.kind === 'user' && !caller.scopes.some((scope) => acceptedScopes.includes(scope))) {
    return {
      reason: 'scope',
      error: scopeNotAccepted(acceptedScopes),
      fields: { acceptedScopes: acceptedScopes.join(' '), callerScopes: caller.scopes.join(' ') },
    };
  }
  if (!caller.roles.includes(role)) {
    return { reason: 'role', error: forbidden(role), fields: { requiredRole: role, callerRoles: caller.roles.join(' ') } };
  }
  return undefined;
}
