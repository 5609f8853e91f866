import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settingsCatalog } from '../../shared/config';
import { asyncWorkQueueName, poisonQueueName } from '../../shared/storage/queue';

/**
 * No Bicep compiler here, so the infrastructure is checked as text:
 * - every setting the app reads in Azure (settingsCatalog, scope `app`) is an app setting of the
 *   Function App in infra/app/api.bicep, and every app setting there that is ours is in the
 *   catalogue (no drift either way);
 * - main.bicep passes each module exactly the parameters it declares, and reads only outputs
 *   the modules declare.
 */

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Set by the platform, never by us: Azure's managed-identity endpoint and its secret. */
const platformProvided = new Set(['IDENTITY_ENDPOINT', 'IDENTITY_HEADER']);

/**
 * In the catalogue but deliberately not set in Azure, with the reason.
 * `AuditStorage` is the connection-string alternative for local runs: the storage account has
 * shared-key access disabled, so Azure uses the identity-based `AuditStorage__*` settings.
 */
const notSetInAzure = new Map([['AuditStorage', 'connection string; shared-key access is disabled in Azure']]);

/** App settings that belong to the Functions host or Application Insights, not to our code. */
const hostSetting = /^(AzureWebJobs|APPLICATIONINSIGHTS_|FUNCTIONS_|WEBSITE_)/;

/** The keys of `var appSettings = { … }` in api.bicep, one a line. */
function bicepAppSettings(): string[] {
  const source = read('infra/app/api.bicep');
  const block = /^var appSettings = \{\n([\s\S]*?)^\}/m.exec(source);
  if (!block?.[1]) throw new Error('infra/app/api.bicep has no `var appSettings = { … }` block');
  return block[1]
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('//'))
    .map((line) => /^ {2}([A-Za-z_][A-Za-z0-9_]*)\s*:/.exec(line)?.[1] ?? `unparsed line: ${line}`);
}

describe('app settings: settingsCatalog ↔ infra/app/api.bicep', () => {
  const inBicep = bicepAppSettings();
  const appScoped = settingsCatalog.filter((setting) => setting.scope === 'app').map((setting) => setting.name as string);

  it('parses the block', () => {
    expect(inBicep.filter((name) => name.startsWith('unparsed'))).toEqual([]);
    expect(inBicep.length).toBeGreaterThan(10);
  });

  it('sets every setting the app reads in Azure (minus platform-provided and documented exclusions)', () => {
    const expected = appScoped.filter((name) => !platformProvided.has(name) && !notSetInAzure.has(name));
    expect(expected.filter((name) => !inBicep.includes(name))).toEqual([]);
  });

  it('sets no setting of ours that the catalogue does not declare', () => {
    const ours = inBicep.filter((name) => !hostSetting.test(name));
    expect(ours.filter((name) => !appScoped.includes(name))).toEqual([]);
  });

  it('sets none of the platform-provided ones, nor local-only ones, nor what Flex Consumption forbids', () => {
    const localOnly = settingsCatalog.filter((setting) => setting.scope === 'local').map((setting) => setting.name as string);
    for (const name of [...platformProvided, ...localOnly, ...notSetInAzure.keys(), 'FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION']) {
      expect(inBicep).not.toContain(name);
    }
  });

  it('the exclusions are still catalogue entries of scope app', () => {
    for (const name of [...platformProvided, ...notSetInAzure.keys()]) expect(appScoped).toContain(name);
  });

  it('host storage, audit storage and Application Insights are identity-based', () => {
    expect(inBicep).toEqual(expect.arrayContaining([
      'AzureWebJobsStorage__credential', 'AzureWebJobsStorage__clientId', 'AzureWebJobsStorage__blobServiceUri',
      'AuditStorage__tableServiceUri', 'AuditStorage__queueServiceUri', 'AuditStorage__credential', 'AuditStorage__clientId', 'AZURE_CLIENT_ID',
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    ]));
    expect(inBicep.some((name) => /ConnectionString|AccountKey/i.test(name) && name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING')).toBe(false);
  });
});

interface BicepFile {
  params: Map<string, { hasDefault: boolean }>;
  outputs: Set<string>;
}

function parseBicep(path: string): BicepFile {
  const source = read(path);
  const params = new Map<string, { hasDefault: boolean }>();
  for (const match of source.matchAll(/^param (\w+) [\w[\]]+( =)?/gm)) params.set(match[1]!, { hasDefault: Boolean(match[2]) });
  const outputs = new Set([...source.matchAll(/^output (\w+) /gm)].map((match) => match[1]!));
  return { params, outputs };
}

/** The text between the brace after `start` and its matching closing brace. */
function braced(source: string, start: number): string {
  const open = source.indexOf('{', start);
  let depth = 0;
  for (let index = open; index < source.length; index += 1) {
    if (source[index] === '{') depth += 1;
    if (source[index] === '}') depth -= 1;
    if (depth === 0) return source.slice(open + 1, index);
  }
  throw new Error('unbalanced braces');
}

describe('infra/main.bicep wiring', () => {
  const main = read('infra/main.bicep');
  const modules = [...main.matchAll(/^module (\w+) '([^']+)' = /gm)].map((match) => ({
    symbol: match[1]!,
    path: `infra/${match[2]!.replace(/^\.\//, '')}`,
    body: braced(main, match.index!),
  }));

  it('targets the subscription and wires the modules of the azd layout', () => {
    expect(main).toMatch(/^targetScope = 'subscription'$/m);
    expect(modules.map((module) => module.path).sort()).toEqual(
      ['infra/app/api.bicep', 'infra/app/identity.bicep', 'infra/app/monitoring.bicep', 'infra/app/rbac.bicep', 'infra/app/storage.bicep'],
    );
  });

  it.each(['api', 'identity', 'storage', 'monitoring', 'rbac'])('module %s gets exactly the parameters it declares', (symbol) => {
    const module = modules.find((candidate) => candidate.symbol === symbol)!;
    expect(existsSync(new URL(`../../${module.path}`, import.meta.url))).toBe(true);
    const declared = parseBicep(module.path).params;
    const paramsBlock = braced(module.body, module.body.indexOf('params:'));
    const passed = [...paramsBlock.matchAll(/^ {4}(\w+):/gm)].map((match) => match[1]!);
    expect(passed.filter((name) => !declared.has(name))).toEqual([]);
    const required = [...declared].filter(([, param]) => !param.hasDefault).map(([name]) => name);
    expect(required.filter((name) => !passed.includes(name))).toEqual([]);
  });

  it('reads only outputs the modules declare', () => {
    for (const match of main.matchAll(/(\w+)\.outputs\.(\w+)/g)) {
      const module = modules.find((candidate) => candidate.symbol === match[1]);
      expect(module, match[0]).toBeDefined();
      expect(parseBicep(module!.path).outputs.has(match[2]!), match[0]).toBe(true);
    }
  });

  it('main.parameters.json gives values only to parameters main.bicep declares', () => {
    const parameters = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
    const declared = parseBicep('infra/main.bicep').params;
    expect(Object.keys(parameters.parameters).filter((name) => !declared.has(name))).toEqual([]);
  });

  it('runs the Function App on Flex Consumption with Node.js 22 (20 is past its end of life) and a user-assigned identity', () => {
    const api = read('infra/app/api.bicep');
    expect(api).toMatch(/name: 'FC1'\n\s+tier: 'FlexConsumption'/);
    expect(api).toMatch(/name: 'node'\n\s+version: nodeVersion/);
    expect(api).toMatch(/@allowed\(\['22'\]\)\nparam nodeVersion string = '22'/);
    expect(api).toContain("type: 'UserAssigned'");
  });

  it('offers only regions with Flex Consumption for the location azd asks for', () => {
    const block = /@allowed\(\[\n([\s\S]*?)\]\)\n@metadata\(\{\n {2}azd: \{\n {4}type: 'location'\n {2}\}\n\}\)\nparam location string/.exec(main);
    expect(block, 'an @allowed list right before the azd location parameter').not.toBeNull();
    const regions = [...block![1]!.matchAll(/^ {2}'([a-z0-9]+)'$/gm)].map((match) => match[1]);
    expect(regions.length).toBeGreaterThan(20);
    expect(regions).toEqual(expect.arrayContaining(['eastus', 'eastus2', 'westeurope', 'northeurope', 'swedencentral', 'australiaeast']));
    expect(regions).not.toContain('eastus2euap');
  });

  it('switches FTP and basic-auth (SCM) publishing off', () => {
    const api = read('infra/app/api.bicep');
    for (const name of ['ftp', 'scm']) {
      const policy = new RegExp(`resource \\w+ 'Microsoft\\.Web/sites/basicPublishingCredentialsPolicies@[\\d-]+' = \\{\\n {2}parent: api\\n {2}name: '${name}'\\n {2}properties: \\{\\n {4}allow: false`);
      expect(api, name).toMatch(policy);
    }
  });

  it('lets every tunable setting be changed with azd env set + azd provision', () => {
    const parameters = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    const api = read('infra/app/api.bicep');
    const apiModule = modules.find((module) => module.symbol === 'api')!;
    const derived = new Set(['AZURE_CLIENT_ID', 'AuditStorage__tableServiceUri', 'AuditStorage__queueServiceUri', 'AuditStorage__credential', 'AuditStorage__clientId', 'AUTH_TENANT_ID']);
    const tunable = bicepAppSettings().filter((name) => !hostSetting.test(name) && !derived.has(name));
    expect(tunable.length).toBeGreaterThan(8);
    for (const setting of tunable) {
      const valueExpression = new RegExp(`^ {2}${setting}: (\\w+)$`, 'm').exec(api)?.[1];
      expect(valueExpression, `${setting} takes its value from a parameter of api.bicep`).toBeDefined();
      expect(apiModule.body, `main.bicep passes ${valueExpression}`).toMatch(new RegExp(`^ {4}${valueExpression}: `, 'm'));
      const mapped = Object.entries(parameters.parameters).find(([, parameter]) => parameter.value.startsWith(`\${${setting}`));
      expect(mapped, `main.parameters.json reads ${setting} from the azd environment`).toBeDefined();
    }
  });

  it('storage refuses shared keys and has the audit table; Application Insights refuses local auth', () => {
    const storage = read('infra/app/storage.bicep');
    expect(storage).toContain('allowSharedKeyAccess: false');
    expect(storage).toContain("tableServices/tables@");
    expect(read('infra/app/monitoring.bicep')).toContain('DisableLocalAuth: true');
  });

  it('storage has the app\'s queue of asynchronous work and its poison queue, under the names the app uses', () => {
    const storage = read('infra/app/storage.bicep');
    expect(storage).toMatch(/^resource queueService 'Microsoft\.Storage\/storageAccounts\/queueServices@[\d-]+' = \{\n {2}parent: storage\n {2}name: 'default'/m);
    expect(storage).toContain(`param asyncWorkQueueName string = '${asyncWorkQueueName}'`);
    // A queue's `name:` is the parameter or an interpolated string: evaluate it with the parameter's default.
    const evaluate = (expression: string) =>
      expression === 'asyncWorkQueueName' ? asyncWorkQueueName : expression.replace(/^'(.*)'$/, '$1').replace('${asyncWorkQueueName}', asyncWorkQueueName);
    const queues = [...storage.matchAll(/^resource \w+ 'Microsoft\.Storage\/storageAccounts\/queueServices\/queues@[\d-]+' = \{\n {2}parent: queueService\n {2}name: (.+)$/gm)]
      .map((match) => evaluate(match[1]!));
    expect(queues.sort()).toEqual([asyncWorkQueueName, poisonQueueName(asyncWorkQueueName)]);
    // main.bicep leaves the name to its default, so the code and the infra cannot drift apart.
    expect(read('infra/main.bicep')).not.toContain('asyncWorkQueueName:');
  });

  it('the Function App identity may use the queues (Storage Queue Data Contributor on the account) and is told their URI', () => {
    const rbac = read('infra/app/rbac.bicep');
    expect(rbac).toContain("var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'");
    const assignment = /^resource \w+ 'Microsoft\.Authorization\/roleAssignments@[\d-]+' = \{\n(?: {2}.*\n)*?\}/gm;
    const queueRole = [...rbac.matchAll(assignment)].map((match) => match[0]).find((block) => block.includes('storageQueueDataContributorRoleId'));
    expect(queueRole).toBeDefined();
    expect(queueRole).toContain('scope: storage\n');
    expect(queueRole).toContain('principalId: identityPrincipalId');
    expect(queueRole).toContain("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRoleId)");
    expect(read('infra/app/api.bicep')).toMatch(/^ {2}AuditStorage__queueServiceUri: queueServiceUri$/m);
    expect(read('infra/main.bicep')).toMatch(/^ {4}queueServiceUri: storage\.outputs\.queueServiceUri$/m);
  });
});

describe('infra/graph-permissions (admin step)', () => {
  const source = read('infra/graph-permissions/main.bicep');

  it('names the Bicep version the Microsoft Graph extension needs (0.36.1), here and in docs/deploy.md', () => {
    expect(source).toContain('Bicep CLI 0.36.1 or later');
    const readme = read('docs/deploy.md');
    expect(readme).toContain('Bicep CLI 0.36.1 or later');
    expect(readme).not.toMatch(/Bicep CLI 0\.(30|3[0-5])\b/);
  });

  it('uses the Microsoft Graph Bicep extension declared in its bicepconfig.json', () => {
    expect(source).toMatch(/^extension microsoftGraphV1$/m);
    const config = JSON.parse(read('infra/graph-permissions/bicepconfig.json')) as { extensions: Record<string, string> };
    expect(config.extensions.microsoftGraphV1).toMatch(/^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:/);
  });

  it('grants the two OwnedBy permissions, and Directory.ReadWrite.All only with enableConnectorGroups', () => {
    expect(source).toContain("['ExternalConnection.ReadWrite.OwnedBy', 'ExternalItem.ReadWrite.OwnedBy']");
    expect(source).toContain("enableConnectorGroups ? ['Directory.ReadWrite.All'] : []");
    expect(source).toMatch(/param enableConnectorGroups bool = false/);
  });

  it('creates the facade app registration with exactly the app roles of shared/auth/roles.ts, which the operations require', async () => {
    const { documentedOperations } = await import('../../functions/index');
    const { appRoles } = await import('../../shared/auth/roles');
    for (const operation of documentedOperations) expect(appRoles).toContain(operation.role);
    const declared = [...source.matchAll(/^ {4}value: '([^']+)'$/gm)].map((match) => match[1]);
    expect(declared).toEqual([...appRoles]);
    expect(appRoles).toContain('Audit.Read');
    expect(source).toContain("Microsoft.Graph/applications@v1.0");
  });

  it('the default application id URI is the audience main.bicep gives the Function App', () => {
    const uri = "'api://${tenant().tenantId}/graph-connectors-facade-${environmentName}'";
    expect(source).toContain(uri);
    expect(read('infra/main.bicep')).toContain(uri);
  });
});

describe('azure.yaml and host.json', () => {
  it('azure.yaml names the function service at the project root and deploys dist/ without a remote build', () => {
    const yaml = read('azure.yaml');
    expect(yaml).toMatch(/services:\n {2}api:\n {4}project: \.\n {4}language: ts\n {4}host: function\n {4}dist: dist\n {4}remoteBuild: false\n/);
  });

  it('host.json: the extension bundle the queue trigger needs, a timeout above the Graph deadline, failures never sampled', () => {
    const host = JSON.parse(read('host.json')) as {
      extensionBundle?: { id: string; version: string };
      functionTimeout: string;
      logging: { applicationInsights: { samplingSettings: { excludedTypes: string } } };
    };
    // HTTP and timer triggers are built into the host; the storage queue trigger comes with the bundle.
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    const [hours, minutes, seconds] = host.functionTimeout.split(':').map(Number);
    const timeoutMs = ((hours! * 60 + minutes!) * 60 + seconds!) * 1000;
    const deadline = Number(settingsCatalog.find((setting) => setting.name === 'GRAPH_DEADLINE_MS')!.default);
    expect(timeoutMs).toBeGreaterThan(deadline);
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes.split(';')).toEqual(expect.arrayContaining(['Request', 'Exception']));
  });
});
