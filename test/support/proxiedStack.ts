import { TableClient } from '@azure/data-tables';
import { call, startTestStack, type ApiResponse, type HostProcess, type TestStack } from './stack';
import { startTableAnswerProxy, type TableAnswerProxy } from './tableAnswerProxy';

/**
 * A test stack whose only host reaches the audit table through a proxy that can lose chosen
 * answers (tableAnswerProxy.ts): every request and every queued run goes through it. The table is
 * also read directly, past the proxy.
 */
export interface ProxiedStack {
  stack: TestStack;
  proxy: TableAnswerProxy;
  host: HostProcess;
  table: TableClient;
  stop(): Promise<void>;
}

export async function startProxiedStack(tableTimeoutMs: number): Promise<ProxiedStack> {
  const stack = await startTestStack({ AUDIT_TABLE_TIMEOUT_MS: String(tableTimeoutMs), LOCAL_QUEUE_LEASE_SECONDS: '2' });
  let proxy: TableAnswerProxy | undefined;
  try {
    await stack.host.stop();
    proxy = await startTableAnswerProxy(stack.azurite.port, stack.azurite.connectionString);
    const host = await stack.startAnotherHost({ AuditStorage: proxy.connectionString });
    const table = TableClient.fromConnectionString(stack.azurite.connectionString, stack.env.AUDIT_TABLE_NAME!, { allowInsecureConnection: true });
    await table.createTable();
    const started = proxy;
    return {
      stack,
      proxy,
      host,
      table,
      stop: async () => {
        await started.close();
        await stack.stop();
      },
    };
  } catch (error) {
    await proxy?.close();
    await stack.stop();
    throw error;
  }
}

/** Polls a status URL until it answers other than 202 or 503 (a busy table says to poll again, as a 202 does), or the time is up. */
export async function pollUntilDone(location: string, token: string, timeoutMs: number): Promise<{ final: ApiResponse; last?: ApiResponse }> {
  const deadline = Date.now() + timeoutMs;
  let last: ApiResponse | undefined;
  for (;;) {
    const answer = await call(location, { headers: { authorization: `Bearer ${token}` } });
    if (answer.status !== 202 && answer.status !== 503) return { final: answer, ...(last ? { last } : {}) };
    last = answer;
    if (Date.now() > deadline) return { final: answer, last };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
