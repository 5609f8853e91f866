/**
 * `npm run -s token -- [--roles A,B] [--user] [--caller NAME] [--minutes N] [--expired]`: prints an
 * access token for the local stack's dev token issuer (`dev/tokenIssuer.ts`), signed with the key
 * `npm start` uses (`dev-token-issuer.json` in `LOCAL_STATE_DIR`, default `.local/`; created if
 * missing). Default: an app-only token of the local caller holding every app role (each create's
 * and Audit.Read: shared/auth/roles.ts), valid for 60 minutes. `--roles ''` gives a token with no role at all.
 * A flag it does not know, a lifetime that is not a positive number, a role the facade does not
 * have: one line saying so, the usage, exit code 2.
 */
import { parseArgs } from 'node:util';
import { appRoles } from '../shared/auth/roles';
import { clockToleranceSeconds } from '../shared/auth/jwtValidator';
import { devKeyFileIn, localStateDir } from './localState';
import { callerNamePattern, loadOrCreateDevSigningKey, mintDevToken, namedCallerClaims } from './tokenIssuer';

const usage = [
  'Usage: npm run -s token -- [--roles ROLE[,ROLE…]] [--user] [--caller NAME] [--minutes N] [--expired]',
  `  --roles    app roles to grant (default all: ${appRoles.join(', ')}); --roles '' for none`,
  '  --user     a delegated (user) token, as a Power Automate custom connector sends; default app-only',
  '  --caller   another caller of the local tenant, by name (its own object id, the same for the same name);',
  '             default the local caller (app-only facade00-…-000000000004, user facade00-…-000000000005)',
  '  --minutes  lifetime in minutes (default 60)',
  '  --expired  a token that has already expired (past the 5 minutes of clock skew the facade allows): 401',
  '',
].join('\n');

class UsageError extends Error {}

/** `--minutes -5` is a value to refuse with a reason, not a flag named `-5`. */
const joinNegativeValues = (args: string[]) =>
  args.flatMap((arg, index) => (/^-\d/.test(arg) && args[index - 1]?.startsWith('--') && !args[index - 1]!.includes('=') ? [] : [/^--\w+$/.test(arg) && /^-\d/.test(args[index + 1] ?? '') ? `${arg}=${args[index + 1]}` : arg]));

function parsed() {
  try {
    return parseArgs({
      args: joinNegativeValues(process.argv.slice(2)),
      options: {
        roles: { type: 'string', multiple: true },
        user: { type: 'boolean', default: false },
        caller: { type: 'string' },
        minutes: { type: 'string', default: '60' },
        expired: { type: 'boolean', default: false },
        'key-file': { type: 'string', default: devKeyFileIn(localStateDir()) },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const named = /'([^']+)'/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${named}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${named}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${named.replace(/ <value>$/, '')} needs a value`);
    throw error;
  }
}

async function main(): Promise<void> {
  const values = parsed();
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const roles = values.roles?.flatMap((value) => value.split(',')).map((role) => role.trim()).filter(Boolean);
  const unknown = roles?.filter((role) => !(appRoles as readonly string[]).includes(role)) ?? [];
  if (unknown.length > 0) {
    throw new UsageError(`not an app role of the facade: ${unknown.join(', ')} (its roles: ${appRoles.join(', ')})`);
  }
  const minutes = Number(values.minutes);
  if (!/^\s*[\d.]+\s*$/.test(values.minutes) || !Number.isFinite(minutes) || minutes <= 0) {
    throw new UsageError(`--minutes must be a positive number of minutes, got "${values.minutes}"${minutes <= 0 ? ' (--expired mints a token that has already expired)' : ''}`);
  }
  if (values.caller !== undefined && !callerNamePattern.test(values.caller)) {
    throw new UsageError(`--caller must be a name of letters, digits, ".", "_" or "-" (at most 64), got "${values.caller}"`);
  }
  const lifetimeSeconds = Math.round(minutes * 60);
  const now = Math.floor(Date.now() / 1000);
  // Expired by more than the skew the facade forgives, so it is refused as expired, not accepted as late.
  const expiredAt = now - clockToleranceSeconds - 60;
  const claims = {
    ...(values.caller !== undefined ? namedCallerClaims(values.caller, values.user) : {}),
    ...(values.expired ? { iat: expiredAt - lifetimeSeconds, nbf: expiredAt - lifetimeSeconds, exp: expiredAt } : {}),
  };
  const key = await loadOrCreateDevSigningKey(values['key-file']);
  const token = await mintDevToken(key, { ...(roles ? { roles } : {}), user: values.user, lifetimeSeconds, claims });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`token: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
  process.stderr.write(`token failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
