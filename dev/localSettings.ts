import { existsSync, readFileSync } from 'node:fs';

/** `local.settings.json` `Values`, as `func start` reads them; below the environment in precedence. */
export function localSettings(path = 'local.settings.json'): Record<string, string> {
  if (!existsSync(path)) return {};
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(parsed.Values ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}
