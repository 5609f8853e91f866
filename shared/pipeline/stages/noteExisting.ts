import { naturalKeyCheckOf } from '../../operations/operation';
import { listWithNaturalKey } from '../../recovery/graphReads';
import { snapshotCap } from '../../recovery/naturalKey';
import { logEvent } from '../../telemetry/requestLog';
import { graphPathOf, requireInput, type Stage } from '../context';

/**
 * For entities whose id Graph generates (connector groups): note which entities with the same
 * natural key exist before the create, so that if Graph's answer is lost the one this request made
 * can be told from those that were already there. Without the list (it failed, or holds more than
 * `snapshotCap` ids) the create still goes ahead; a lost answer is then left to people.
 */
export const noteExisting: Stage = async (context, next) => {
  const check = naturalKeyCheckOf(context.operation);
  const call = context.graphCall;
  if (check === undefined || !call) return next();
  try {
    const existing = await listWithNaturalKey(context.runtime.graph, graphPathOf(call), check, requireInput(context).body[check.naturalKey], context.deadlineAt);
    if (existing.length <= snapshotCap) context.preexistingIds = existing.map((entity) => entity.id as string);
    else logEvent(context, 'warn', 'too many entities of that name to note; a lost answer could not be recovered', { existing: existing.length });
  } catch (error) {
    logEvent(context, 'warn', 'existing entities could not be listed; a lost answer could not be recovered', {
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  return next();
};
