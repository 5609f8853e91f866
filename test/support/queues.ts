import type { RunningAzurite } from '../../dev/azurite';
import { Queues } from '../../shared/storage/queue';

/** The app's queue client on a test's Azurite (connection string: no credential needed). */
export function queuesOn(azurite: RunningAzurite): Queues {
  return new Queues({
    storage: { kind: 'connectionString', connectionString: azurite.connectionString },
    credentialFor: () => {
      throw new Error('connection-string storage needs no credential');
    },
  });
}

/** Polls `probe` every 100 ms until it gives a value other than undefined or false. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
