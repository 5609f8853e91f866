import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '../../dev/localStack';

/** `npm start`'s embedded defaults: each part only when its setting is absent; a present one always wins. */

const keyFolder = mkdtempSync(join(tmpdir(), 'facade-dev-key-'));
const devKeyFile = join(keyFolder, 'dev-token-issuer.json');

afterAll(() => rmSync(keyFolder, { recursive: true, force: true }));

const configured = {
  GRAPH_BASE_URL: 'http://127.0.0.1:9/graph',
  IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
  IDENTITY_HEADER: 'secret',
  AuditStorage: 'DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/a;',
  AUTH_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  AUTH_AUDIENCE: 'api://facade',
};

describe('the local stack', () => {
  it('starts nothing when every setting is given, and passes them on unchanged', async () => {
    const stack = await startLocalStack(configured, { devKeyFile });
    try {
      expect(stack.started).toEqual({});
      expect(stack.env).toMatchObject(configured);
    } finally {
      await stack.stop();
    }
  });

  it('starts only what is missing: here Azurite alone', async () => {
    const { AuditStorage: _absent, ...rest } = configured;
    const stack = await startLocalStack(rest, { devKeyFile });
    try {
      expect(Object.keys(stack.started)).toEqual(['azurite']);
      expect(stack.env.AuditStorage).toMatch(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
      expect(stack.env.AuditStorage).toMatch(/QueueEndpoint=http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
      expect(stack.env.GRAPH_BASE_URL).toBe(configured.GRAPH_BASE_URL);
    } finally {
      await stack.stop();
    }
  });

  it('starts no Azurite when storage is configured identity-based, for tables or for queues', async () => {
    const { AuditStorage: _absent, ...rest } = configured;
    for (const setting of ['AuditStorage__tableServiceUri', 'AuditStorage__queueServiceUri']) {
      const uri = setting.endsWith('queueServiceUri') ? 'https://acct.queue.core.windows.net' : 'https://acct.table.core.windows.net';
      const stack = await startLocalStack({ ...rest, [setting]: uri }, { devKeyFile });
      try {
        expect(stack.started).toEqual({});
        expect(stack.env.AuditStorage).toBeUndefined();
        expect(stack.env[setting]).toBe(uri);
      } finally {
        await stack.stop();
      }
    }
  });

  it('with nothing given, starts every part on loopback', async () => {
    const stack = await startLocalStack({}, { devKeyFile });
    try {
      expect(Object.keys(stack.started).sort()).toEqual(['azurite', 'graphEmulator', 'identityEndpoint', 'tokenIssuer']);
      for (const url of [stack.env.GRAPH_BASE_URL, stack.env.IDENTITY_ENDPOINT, stack.env.AUTH_JWKS_URI]) {
        expect(new URL(url ?? '').hostname).toBe('127.0.0.1');
      }
    } finally {
      await stack.stop();
    }
  });
});
