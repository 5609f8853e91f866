/**
 * `npm run connector`: writes connector/apiDefinition.swagger.json, the Swagger 2.0 document of
 * the Power Platform custom connector, from the operation declarations (never edit it by hand).
 * `--check` exits 1 when the committed file differs from a fresh one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { documentedOperations } from '../functions/index';
import { prettyJson, swaggerFor } from '../shared/openapi/documents';

/** Placeholder host: replace it with the Function App's host when importing (connector/README.md). */
export const connectorHost = 'your-function-app.azurewebsites.net';

export const apiDefinitionPath = fileURLToPath(new URL('../connector/apiDefinition.swagger.json', import.meta.url));

export function connectorApiDefinition(): string {
  return prettyJson(swaggerFor(documentedOperations, { host: connectorHost, scheme: 'https' }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fresh = connectorApiDefinition();
  if (process.argv.includes('--check')) {
    const current = readFileSync(apiDefinitionPath, 'utf8');
    if (current !== fresh) {
      process.stderr.write('connector/apiDefinition.swagger.json is out of date: run npm run connector\n');
      process.exit(1);
    }
  } else {
    writeFileSync(apiDefinitionPath, fresh);
    process.stdout.write(`wrote ${apiDefinitionPath} (${Buffer.byteLength(fresh)} bytes)\n`);
  }
}
