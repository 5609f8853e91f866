import type { InvocationContext } from '@azure/functions';
import type { Runtime } from '../runtime';
import { isApplyMessage, runQueuedApply, type ApplyMessage } from './applyJob';
import { isSchemaRegistrationMessage, runSchemaRegistration, type Logger, type SchemaRegistrationMessage } from './schemaRegistration';

/**
 * The connector jobs that share the queue of asynchronous work with bulk requests: schema
 * registrations followed until Graph's operation ends, and manifest applies. The queue-triggered
 * function hands every message that is one of these here.
 */
export type ConnectorJobMessage = SchemaRegistrationMessage | ApplyMessage;

export function isConnectorJobMessage(message: unknown): message is ConnectorJobMessage {
  return isSchemaRegistrationMessage(message) || isApplyMessage(message);
}

export async function runConnectorJob(runtime: Runtime, message: ConnectorJobMessage, runId: string, invocation: InvocationContext, log: Logger): Promise<void> {
  if (message.kind === 'schemaRegistration') await runSchemaRegistration(runtime, message, log);
  else await runQueuedApply(runtime, message, runId, invocation, log);
}
