import { existenceCheckOf } from '../../operations/operation';
import { idsWithNaturalKey } from '../../reconciliation/entityLookup';
import { logEvent } from '../../telemetry/requestLog';
import { graphPathOf, requireInput, type Stage } from '../context';

/**
 * For entities whose id Graph generates (connector groups): note which entities with the same
 * natural key exist before the create, so that if Graph's answer is lost the one this request made
 * can be told from those that were already there. Without the list the create still goes ahead;
 * a lost answer is then left to people (the audit record says `unknown`).
 */
export const noteExisting: Stage = async (context, next) => {
  const check = existenceCheckOf(context.operation);
  const call = context.graphCall;
  if (typeof check !== 'object' || !call) return next();
  try {
    context.preexistingIds = await idsWithNaturalKey(
      context.runtime,
      graphPathOf(call),
      check.naturalKey,
      requireInput(context).body[check.naturalKey],
      context.deadlineAt,
    );
  } catch (error) {
    logEvent(context, 'warn', 'existing entities could not be listed; a lost answer could not be recovered', {
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  return next();
};
