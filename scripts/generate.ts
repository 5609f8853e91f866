/**
 * `npm run generate`: writes the files derived from the operation declarations (scripts/generated.ts)
 * and the connector definition (npm run connector). `--check` writes nothing and exits 1 naming
 * each stale file.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles, repositoryRoot } from './generated';

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [path, fresh] of Object.entries(await generatedFiles())) {
  const file = join(repositoryRoot, path);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === fresh) continue;
  stale.push(path);
  if (!check) {
    writeFileSync(file, fresh);
    process.stdout.write(`wrote ${path}\n`);
  }
}
// The connector definition comes from the documents, whose order is the fresh index's: its own
// script, in a process of its own (this one imported the function files in another order).
const connector = spawnSync(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'scripts/connector.ts'), ...(check ? ['--check'] : [])], { stdio: 'inherit' });
if (connector.status !== 0) stale.push('connector/apiDefinition.swagger.json');
if (check && stale.length > 0) {
  process.stderr.write(`stale, run npm run generate: ${stale.join(', ')}\n`);
  process.exit(1);
}
