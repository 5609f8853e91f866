import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm run test:mutants` puts each known defect back from test/mutants/patches/ and expects the
 * simulation to catch it; a patch the code has moved away from would silently test nothing. Each
 * must still apply to the code as it is, and say which defect it restores.
 */
const folder = join(import.meta.dirname, '..', 'mutants', 'patches');
const patches = readdirSync(folder).filter((name) => name.endsWith('.patch'));

describe('the mutant patches', () => {
  it('are there', () => {
    expect(patches.length).toBeGreaterThanOrEqual(16);
  });

  it.each(patches)('%s names its defect and applies to the code as it is', (name) => {
    const path = join(folder, name);
    expect(readFileSync(path, 'utf8').split('\n')[0]).toMatch(/^# defect: .{10,}/);
    expect(() => execFileSync('git', ['apply', '--check', path], { cwd: join(folder, '..', '..', '..'), stdio: 'pipe' })).not.toThrow();
  });
});
