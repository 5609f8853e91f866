import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionFiles, generatedFiles, repositoryRoot } from '../../scripts/generated';
import { isConnectorJobOperation } from '../../shared/operations/connectorJob';
import { isQuery } from '../../shared/operations/query';

/**
 * The files derived from the operation declarations are current: each as `npm run generate`
 * would write it now (the connector definition has its own check, test/unit/openapi.test.ts).
 */
describe('generated files', async () => {
  const fresh = await generatedFiles();

  it.each(Object.keys(fresh))('%s is current (npm run generate)', (path) => {
    const current = readFileSync(join(repositoryRoot, path), 'utf8');
    expect(current, `${path} is stale: run npm run generate`).toBe(fresh[path]);
  });

  it('the index imports every function file once, the catch-all last', () => {
    const index = fresh['functions/index.ts']!;
    const imports = [...index.matchAll(/^import '\.\/(\w+)';$/gm)].map((match) => match[1]);
    expect(new Set(imports).size).toBe(imports.length);
    expect(imports.at(-1)).toBe('unknownRoute');
  });

  it('the index imports each create after the creates of its parents, and the bulk form after its create', async () => {
    const index = fresh['functions/index.ts']!;
    const position = (module: string) => index.indexOf(`import './${module}';`);
    const collection = (operation: { graphPath: string }) => operation.graphPath.replace(/^\/[^/]+/, '').replace(/\{\w+\}/g, '{}');
    const files = await functionFiles();
    const creates = files.flatMap((file) => file.operations.filter((operation) => !isQuery(operation) && !isConnectorJobOperation(operation)).map((operation) => ({ file: file.module, operation })));
    expect(creates.length).toBeGreaterThanOrEqual(5);
    for (const child of creates) {
      for (const parent of creates) {
        if (parent === child) continue;
        const nested = collection(child.operation).startsWith(`${collection(parent.operation)}/`);
        const bulkOfIt = child.operation.kind === 'bulk' && collection(child.operation) === collection(parent.operation);
        if (nested || bulkOfIt) expect(position(parent.file), `${parent.file} before ${child.file}`).toBeLessThan(position(child.file));
      }
    }
  });
});
