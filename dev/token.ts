/**
 * `npm run -s token -- [--roles A,B] [--user] [--minutes N]`: prints an access token for the local
 * stack's dev token issuer (`dev/tokenIssuer.ts`), signed with the key `npm start` uses
 * (`dev-token-issuer.json` in `LOCAL_STATE_DIR`, default `.local/`; created if missing). Default:
 * an app-only token holding every app role (each create's and Audit.Read: shared/auth/roles.ts), valid for 60
 * minutes. `--roles ''` gives a token with no role at all.
 */
import { parseArgs } from 'node:util';
import { appRoles } from '../shared/auth/roles';
import { devKeyFileIn, localStateDir } from './localState';
import { loadOrCreateDevSigningKey, mintDevToken } from './tokenIssuer';

const { values } = parseArgs({
  options: {
    roles: { type: 'string', multiple: true },
    user: { type: 'boolean', default: false },
    minutes: { type: 'string', default: '60' },
    'key-file': { type: 'string', default: devKeyFileIn(localStateDir()) },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(
    [
      'Usage: npm run -s token -- [--roles ROLE[,ROLE…]] [--user] [--minutes N]',
      `  --roles    app roles to grant (default all: ${appRoles.join(', ')})`,
      '  --user     a delegated (user) token, as a Power Automate custom connector sends; default app-only',
      '  --minutes  lifetime (default 60)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const roles = values.roles?.flatMap((value) => value.split(',')).map((role) => role.trim()).filter(Boolean);
const unknown = roles?.filter((role) => !(appRoles as readonly string[]).includes(role)) ?? [];
if (unknown.length > 0) process.stderr.write(`warning: not an app role of the facade: ${unknown.join(', ')}\n`);
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  process.stderr.write(`--minutes must be a positive number, got "${values.minutes}"\n`);
  process.exit(2);
}

const key = await loadOrCreateDevSigningKey(values['key-file']);
const token = await mintDevToken(key, {
  ...(roles ? { roles } : {}),
  user: values.user,
  lifetimeSeconds: Math.round(minutes * 60),
});
process.stdout.write(`${token}\n`);
