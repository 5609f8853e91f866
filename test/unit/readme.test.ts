import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsCatalog } from '../../shared/config';

const readme = readFileSync('README.md', 'utf8');
const deployPage = readFileSync('docs/deploy.md', 'utf8');
const localPage = readFileSync('docs/local.md', 'utf8');
const configuration = deployPage.slice(deployPage.indexOf('## Configuration'));
const rows = new Map<string, string>(
  [...configuration.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)].map((match) => [match[1] ?? '', match[2]?.trim() ?? '']),
);

describe('the configuration table of docs/deploy.md', () => {
  it.each(settingsCatalog.map((setting) => [setting.name, setting] as const))('documents %s with its default', (name, setting) => {
    expect(rows.has(name), `${name} is missing from docs/deploy.md`).toBe(true);
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

/**
 * The README and the documents it links are read by people who have only the repository: every
 * link stays inside it (or is a public URL), every in-page anchor names a heading, and no word
 * speaks of how or where the project was made.
 */
const docsPages = ['docs/integrating.md', 'docs/security.md', 'docs/deploy.md', 'docs/operating.md', 'docs/local.md', 'docs/design.md', 'docs/benchmarks.md', 'docs/graph-facts.md'];
const userDocuments = ['README.md', ...docsPages, 'connector/README.md'];
const repositoryRoot = resolve('.');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      match[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'),
    ),
  );
}

function linksOf(markdown: string): string[] {
  const inline = [...markdown.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!);
  const references = [...markdown.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((match) => match[1]!);
  const autolinks = [...markdown.matchAll(/<((?:https?:\/\/|\.{1,2}\/)[^>\s]+)>/g)].map((match) => match[1]!);
  return [...inline, ...references, ...autolinks];
}

const forbiddenWords: [RegExp, string][] = [
  // A random simulation's seed is a word for readers; the pages the facts were first collected from are not.
  [/\bseed\s+(?:pages?|examples?|routes?|\d{3})\b|\bseeds\b/i, 'how the facts were collected means nothing to a reader'],
  [/\.\.\/shared\b/, 'a folder outside the repository'],
  [/graph-api\.md/i, 'a file outside the repository (the facts are in docs/graph-facts.md)'],
  [/\bworkplace\b/i, 'where the project was developed'],
  [/\bthis machine\b/i, 'where the project was developed'],
  [/\/work\//, 'a path on the machine the project was developed on'],
  [/\bthe issue\b|\bissue \d+\b/i, 'how the work was planned'],
];

describe.each(userDocuments)('%s', (document) => {
  const text = readFileSync(document, 'utf8');
  const folder = dirname(resolve(document));

  it('links only to files inside the repository that exist, or to public URLs', () => {
    const outside: string[] = [];
    for (const link of linksOf(text)) {
      if (/^(https?:|mailto:)/i.test(link) || link.startsWith('#')) continue;
      const target = resolve(folder, decodeURIComponent(link.split('#')[0]!));
      const inside = target === repositoryRoot || target.startsWith(`${repositoryRoot}${sep}`);
      if (!inside || !existsSync(target)) outside.push(link);
    }
    expect(outside).toEqual([]);
  });

  it('names no relative path that leaves the repository', () => {
    const escaping = [...text.matchAll(/(?:^|[\s(`'"[])((?:\.\.\/)+[^\s)`'"\]]*)/gm)]
      .map((match) => match[1]!)
      .filter((path) => {
        const target = resolve(folder, path);
        return target !== repositoryRoot && !target.startsWith(`${repositoryRoot}${sep}`);
      });
    expect(escaping).toEqual([]);
  });

  it('points in-page anchors at headings that exist', () => {
    const anchors = anchorsOf(text);
    const missing = linksOf(text).filter((link) => link.startsWith('#') && !anchors.has(link.slice(1)));
    expect(missing).toEqual([]);
    for (const link of linksOf(text).filter((candidate) => /\.md#/.test(candidate) && !/^https?:/.test(candidate))) {
      const [file, anchor] = link.split('#');
      expect(anchorsOf(readFileSync(resolve(folder, file!), 'utf8')).has(anchor!), link).toBe(true);
    }
  });

  it.each(forbiddenWords.map(([pattern, why]) => [String(pattern), pattern, why] as const))('never says %s', (_, pattern, why) => {
    const lines = text.split('\n').filter((line) => pattern.test(line));
    expect(lines, why).toEqual([]);
  });
});

const shellBlocks = (markdown: string) => [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!).join('\n');

describe('the README', () => {
  it('is read in minutes: under 250 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(250);
  });

  it.each(docsPages)('links %s', (page) => {
    expect(linksOf(readme)).toContain(page);
  });
});

describe('the examples', () => {
  it.each([
    ['README.md', readme],
    ['docs/local.md', localPage],
  ])('of %s use $API and $GRAPH from npm start\'s banner, not a fixed port', (_, text) => {
    const examples = shellBlocks(text);
    expect(examples.split('\n').filter((line) => /curl .*(localhost|127\.0\.0\.1):\d+/.test(line))).toEqual([]);
  });

  it('of the README call the API, and those of docs/local.md the emulator\'s faults', () => {
    expect(shellBlocks(readme)).toMatch(/curl [^\n]*"\$API\//);
    expect(shellBlocks(localPage)).toMatch(/curl [^\n]*"\$GRAPH\/_emulator\/faults"/);
  });

  it('name no fixed date: a fixed window falls out of the audit query\'s limits within weeks', () => {
    const datedLines = [readme, ...docsPages.map((page) => readFileSync(page, 'utf8'))]
      .flatMap((text) => shellBlocks(text).split('\n'))
      .filter((line) => /\b20\d\d-\d\d-\d\d/.test(line));
    expect(datedLines).toEqual([]);
  });

  it('of docs/deploy.md change app settings through azd, never with az functionapp config appsettings set', () => {
    const commands = [deployPage, readFileSync('docs/security.md', 'utf8')].map(shellBlocks).join('\n');
    expect(commands).not.toMatch(/az functionapp config appsettings set/);
    expect(commands).toMatch(/azd env set \w+ /);
    expect(commands).toMatch(/^azd provision/m);
  });
});

describe('docs/deploy.md against infra/', () => {
  it('lists every setting the azd environment passes on (infra/main.parameters.json)', () => {
    const passedOn = [...readFileSync('infra/main.parameters.json', 'utf8').matchAll(/"\$\{([A-Z_]+)[=}]/g)]
      .map((match) => match[1]!)
      .filter((name) => !name.startsWith('AZURE_'));
    const listed = deployPage.slice(deployPage.indexOf('The settings the azd environment passes on'), deployPage.indexOf('## Setting up'));
    expect(passedOn.length).toBeGreaterThan(10);
    expect(passedOn.filter((name) => !listed.includes(`\`${name}\``))).toEqual([]);
  });

  it('names every queue and table storage.bicep makes and every role rbac.bicep assigns', () => {
    const storage = readFileSync('infra/app/storage.bicep', 'utf8');
    const queue = /param asyncWorkQueueName string = '([^']+)'/.exec(storage)?.[1];
    expect(queue).toBeDefined();
    const roles = [...readFileSync('infra/app/rbac.bicep', 'utf8').matchAll(/^var (storage\w+)RoleId = /gm)].map((match) =>
      match[1]!.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^storage/, 'Storage'),
    );
    expect(roles).toEqual(['Storage Blob Data Owner', 'Storage Table Data Contributor', 'Storage Queue Data Contributor']);
    const modules = deployPage.slice(deployPage.indexOf('| module | what |'), deployPage.indexOf('The region must offer'));
    for (const name of [`\`${queue}\``, `\`${queue}-poison\``, '`AuditLog`', ...roles]) expect(modules, name).toContain(name);
  });
});
