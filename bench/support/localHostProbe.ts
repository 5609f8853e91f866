/**
 * A server for measuring the local host's own cost per request: `localHost` serves one function
 * through dev/localHost.ts (routing, HttpRequest and InvocationContext in, the response written
 * back); `bare` answers the same request with plain node:http. Both read the JSON body and answer
 * 201 with a JSON body and correlation headers, as a create does. Prints its URL as one line.
 *
 *   node --import tsx bench/support/localHostProbe.ts localHost|bare [checkout]
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const answer = (id: unknown) => ({ '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#external/connections/bench/groups/$entity', id, displayName: 'Bench group' });

async function main(): Promise<void> {
  const [mode = 'localHost', checkout = '.'] = process.argv.slice(2);
  const root = pathToFileURL(`${resolve(checkout)}/`);
  if (mode === 'bare') {
    const { listenOnLoopback, readRequestBody, sendJson } = (await import(new URL('dev/listen.ts', root).href)) as typeof import('../../dev/listen');
    const running = await listenOnLoopback((request, response) => {
      void readRequestBody(request).then((body) => {
        const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown };
        sendJson(response, 201, answer(parsed.id), { 'request-id': randomUUID(), 'client-request-id': randomUUID() });
      });
    });
    process.stdout.write(`${running.origin}/api/probe\n`);
    return;
  }
  const { startLocalHost } = (await import(new URL('dev/localHost.ts', root).href)) as typeof import('../../dev/localHost');
  const host = await startLocalHost({
    definitions: [
      {
        kind: 'http',
        name: 'probe',
        options: {
          route: 'probe',
          methods: ['POST'],
          authLevel: 'anonymous',
          handler: async (request) => {
            const parsed = (await request.json()) as { id?: unknown };
            return { status: 201, headers: { 'request-id': randomUUID(), 'client-request-id': randomUUID() }, jsonBody: answer(parsed.id) };
          },
        },
      },
    ],
    logHandler: () => undefined,
  });
  process.stdout.write(`${host.apiUrl}/probe\n`);
}

await main();
process.on('disconnect', () => process.exit(0));
