import type { Runtime } from '../runtime';
import { isSchemaRegistrationMessage, runSchemaRegistration, type Logger, type SchemaRegistrationMessage } from './schemaRegistration';

/**
 * The connector jobs that share the queue of asynchronous work with bulk requests: schema
 * registrations followed until Graph's operation ends (and, later, manifest applies). The
 * queue-triggered function hands every message that is one of these here.
 */
export type ConnectorJobMessage = SchemaRegistrationMessage;

export function isConnectorJobMessage(message: unknown): message is ConnectorJobMessage {
  return isSchemaRegistrationMessage(message);
}

export async function runConnectorJob(runtime: Runtime, message: ConnectorJobMessage, log: Logger): Promise<void> {
  await runSchemaRegistration(runtime, message, log);
}
