import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settingsCatalog } from '../../shared/config';

const readme = readFileSync('README.md', 'utf8');
const configuration = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Validation and errors'));
const rows = new Map<string, string>(
  [...configuration.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)].map((match) => [match[1] ?? '', match[2]?.trim() ?? '']),
);

describe('the README configuration table', () => {
  it.each(settingsCatalog.map((setting) => [setting.name, setting] as const))('documents %s with its default', (name, setting) => {
    expect(rows.has(name), `${name} is missing from the README`).toBe(true);
    if (setting.default !== undefined) expect(rows.get(name)).toContain(`\`${setting.default}\``);
  });

  it('documents no setting the app does not read', () => {
    const declared = new Set<string>(settingsCatalog.map((setting) => setting.name));
    expect([...rows.keys()].filter((name) => !declared.has(name))).toEqual([]);
  });
});

it('runs the same test command as .ci/run', () => {
  expect(readme).toContain('npm test');
  expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm test$/m);
});
