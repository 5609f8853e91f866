/**
 * A host entry for queue trigger tests (`dev/start.ts test/support/queueProbe.ts`): it serves the
 * queue function `queueProbe` on each queue named in `PROBE_QUEUES` (comma-separated), and the
 * message says what the function does with it. Every attempt prints `queue-probe {event}` lines
 * on stdout, which the test reads from the host's output.
 */
import type { InvocationContext } from '@azure/functions';
import { functionDefinitions, registerQueue } from '../../shared/operations/registry';

export interface ProbeMessage {
  id: string;
  /** Fail while the dequeue count is at most this. */
  failTimes?: number;
  alwaysFail?: boolean;
  /** Never finish the first attempt (the test kills the instance meanwhile). */
  hangOnFirstAttempt?: boolean;
}

export interface ProbeEvent {
  id: string;
  event: 'started' | 'failed' | 'succeeded';
  dequeueCount: number;
  messageId: string;
  pid: number;
  at: number;
  item: unknown;
}

function report(message: ProbeMessage, event: ProbeEvent['event'], context: InvocationContext, item: unknown): void {
  const line: ProbeEvent = {
    id: message.id,
    event,
    dequeueCount: Number(context.triggerMetadata?.dequeueCount),
    messageId: String(context.triggerMetadata?.id),
    pid: process.pid,
    at: Date.now(),
    item,
  };
  process.stdout.write(`queue-probe ${JSON.stringify(line)}\n`);
}

export async function queueProbe(item: unknown, context: InvocationContext): Promise<void> {
  const message = item as ProbeMessage;
  report(message, 'started', context, item);
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount);
  if (message.hangOnFirstAttempt && dequeueCount === 1) await new Promise<never>(() => undefined);
  if (message.alwaysFail || dequeueCount <= (message.failTimes ?? 0)) {
    report(message, 'failed', context, item);
    throw new Error(`probe ${message.id} fails attempt ${dequeueCount}`);
  }
  report(message, 'succeeded', context, item);
}

for (const queueName of (process.env.PROBE_QUEUES ?? 'probe').split(',')) {
  registerQueue(`queueProbe_${queueName.replace(/-/g, '_')}`, { queueName, connection: 'AuditStorage', handler: queueProbe });
}

export { functionDefinitions };
