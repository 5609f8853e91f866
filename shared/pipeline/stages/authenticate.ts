import {
  AuthenticationFailed,
  AuthNotConfigured,
  SigningKeysUnavailable,
  authNotConfigured,
  authenticationUnavailable,
  unauthorized,
} from '../../auth/authErrors';
import { callerLogFields } from '../../auth/caller';
import { logEvent } from '../../telemetry/requestLog';
import type { NamedOperation } from '../../operations/operation';
import type { RequestContext, Stage } from '../context';

function refusal(context: RequestContext<NamedOperation>, error: unknown): unknown {
  if (error instanceof AuthenticationFailed) {
    // The claims of a token that failed are what it claims, not who sent it.
    logEvent(context, 'warn', 'request denied: caller not authenticated', {
      status: 401,
      reason: error.reason,
      ...callerLogFields(error.claimedCaller),
      claimsVerified: false,
    });
    return unauthorized(error.challenge);
  }
  if (error instanceof AuthNotConfigured) {
    logEvent(context, 'error', 'authentication is not configured, so every operation is refused', {
      reason: error.reason,
      runningInAzure: error.runningInAzure,
    });
    return authNotConfigured(error);
  }
  if (error instanceof SigningKeysUnavailable) return authenticationUnavailable(error);
  return error;
}

/** Who is calling (a Microsoft Entra ID token, or Easy Auth's principal): sets `context.caller`. */
export const authenticate: Stage<RequestContext<NamedOperation>> = async (context, next) => {
  try {
    context.caller = await context.runtime.auth.authenticate(context.request.headers);
  } catch (error) {
    throw refusal(context, error);
  }
  return next();
};
