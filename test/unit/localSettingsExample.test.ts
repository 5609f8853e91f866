import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSettings, settingsCatalog } from '../../shared/config';

/** local.settings.example.json: what `func start` needs, and harmless to `npm start` when copied. */

const example = JSON.parse(readFileSync('local.settings.example.json', 'utf8')) as { IsEncrypted: boolean; Values: Record<string, string> };
const values = example.Values;

/** The settings whose absence makes `npm start` / `npm run stack` start a local part. */
const startsALocalPart = ['GRAPH_BASE_URL', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AuditStorage', 'AuditStorage__tableServiceUri', 'AUTH_MODE', 'AUTH_TENANT_ID', 'AUTH_AUDIENCE', 'AUTH_ISSUER', 'AUTH_JWKS_URI'];

describe('local.settings.example.json', () => {
  it('has what the Functions host needs: the Node.js worker and its own storage', () => {
    expect(example.IsEncrypted).toBe(false);
    expect(values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
  });

  it('names every setting the app reads, and nothing else of ours', () => {
    const appSettings = settingsCatalog.filter((setting) => setting.scope === 'app').map((setting) => setting.name as string);
    expect(Object.keys(values).filter((name) => !/^(FUNCTIONS_|AzureWebJobs)/.test(name)).sort()).toEqual([...appSettings].sort());
  });

  it('leaves empty what the local parts provide, so a copy changes nothing for npm start', () => {
    for (const name of startsALocalPart) expect(values[name], name).toBe('');
  });

  it('gives every other setting its default or leaves it empty, and the app reads it', () => {
    for (const setting of settingsCatalog.filter((candidate) => candidate.scope === 'app')) {
      if (values[setting.name] !== '') expect(values[setting.name], setting.name).toBe(setting.default);
    }
    expect(() => loadSettings(values)).not.toThrow();
  });
});
