import { execFile } from 'node:child_process';
import { isCreateOperation } from '../../shared/operations/operation';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { documentedOperations } from '../../functions/index';
import { devIdentities, loadOrCreateDevSigningKey, startDevTokenIssuer } from '../../dev/tokenIssuer';
import { callerFromClaims, claimsFromPayload, isAppOnly } from '../../shared/auth/caller';
import { JwtValidator } from '../../shared/auth/jwtValidator';
import { appRoles } from '../../shared/auth/roles';
import { isQuery } from '../../shared/operations/query';

describe('who the caller is, from the claims', () => {
  const tid = devIdentities.tenantId;

  it('app-only v1 token (managed identity): its service principal (oid) is the caller, the client app beside it, no name', () => {
    const claims = claimsFromPayload({ oid: 'sp-oid', sub: 'sp-oid', tid, appid: 'app-1', roles: ['ExternalGroup.Create'], ver: '1.0' });
    expect(callerFromClaims(claims)).toEqual({ kind: 'app', id: 'sp-oid', appId: 'app-1', tenantId: tid, roles: ['ExternalGroup.Create'], scopes: [] });
  });

  it('app-only v2 token: azp, marked by idtyp', () => {
    expect(callerFromClaims(claimsFromPayload({ oid: 'sp-oid', sub: 'sp-oid', azp: 'app-2', idtyp: 'app', tid }))).toMatchObject({ kind: 'app', id: 'sp-oid', appId: 'app-2' });
  });

  it('user token: the user’s object id, named by upn, else preferred_username, else name; scp as a list', () => {
    const user = { oid: 'user-oid', sub: 'pairwise', tid, azp: 'connector', scp: 'user_impersonation User.Read' };
    expect(callerFromClaims(claimsFromPayload({ ...user, upn: 'jane@contoso.example', name: 'Jane' }))).toEqual({
      kind: 'user', id: 'user-oid', appId: 'connector', name: 'jane@contoso.example', tenantId: tid, roles: [], scopes: ['user_impersonation', 'User.Read'],
    });
    expect(callerFromClaims(claimsFromPayload({ ...user, preferred_username: 'jane@x', name: 'Jane' }))?.name).toBe('jane@x');
    expect(callerFromClaims(claimsFromPayload({ ...user, name: 'Jane' }))?.name).toBe('Jane');
  });

  it('names the caller by sub only when there is no oid, and never by the client app alone', () => {
    expect(callerFromClaims(claimsFromPayload({ sub: 'subject', tid, azp: 'app', scp: 'user_impersonation' }))).toMatchObject({ id: 'subject', appId: 'app' });
    expect(callerFromClaims(claimsFromPayload({ tid, appid: 'app-1', idtyp: 'app', roles: ['a'] }))).toBeUndefined();
  });

  it('ignores claims of the wrong type and names nobody without an id', () => {
    expect(claimsFromPayload({ oid: 42, roles: ['a', 7, null, 'b'] })).toEqual({ roles: ['a', 'b'] });
    expect(callerFromClaims(claimsFromPayload({ tid, roles: ['a'] }))).toBeUndefined();
  });
});

describe('which tokens are app-only', () => {
  const app = { oid: 'sp', sub: 'sp', azp: 'client', roles: ['r'] };

  it.each([
    ['idtyp app, no scp', { ...app, idtyp: 'app' }, true],
    ['no idtyp (v2): azp, no scp, sub = oid', app, true],
    ['no idtyp (v1): appid, no scp, sub = oid', { oid: 'sp', sub: 'sp', appid: 'client', roles: ['r'] }, true],
    ['idtyp user', { ...app, idtyp: 'user' }, false],
    ['any scp, even beside idtyp app (scp is only ever in user tokens)', { ...app, idtyp: 'app', scp: 'x' }, false],
    ['no idtyp, sub not oid (a user’s pairwise subject)', { ...app, sub: 'pairwise' }, false],
    ['no idtyp, no client app (an ID token)', { oid: 'u', sub: 'u', roles: ['r'] }, false],
    ['no idtyp, no oid', { sub: 'sp', azp: 'client', roles: ['r'] }, false],
    ['roles and no scp alone', { oid: 'u', sub: 'pairwise', roles: ['r'] }, false],
  ])('%s → %s', (_, payload, expected) => {
    expect(isAppOnly(claimsFromPayload(payload))).toBe(expected);
  });
});

describe('app roles', () => {
  it('are one per create operation (a bulk create takes its create’s), and Audit.Read for the audit queries, each one used', () => {
    const creates = documentedOperations.filter(isCreateOperation);
    const creatorRoles = creates.map((operation) => operation.role);
    expect(new Set(creatorRoles).size, 'one role per create').toBe(creates.length);
    const queries = documentedOperations.filter(isQuery);
    expect(queries.length).toBeGreaterThan(0);
    expect(new Set(queries.map((query) => query.role))).toEqual(new Set(['Audit.Read']));
    for (const operation of documentedOperations) if (!isQuery(operation) && operation.kind === 'bulk') expect(operation.role).toBe(operation.item.role);
    expect([...creatorRoles, 'Audit.Read']).toEqual([...appRoles]);
  });
});

describe('npm run token', () => {
  const run = promisify(execFile);

  it('mints tokens with the key the dev stack uses, with the roles asked for', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dev-token-'));
    const keyFile = join(folder, 'key.json');
    try {
      const mint = async (...args: string[]) =>
        (await run(process.execPath, ['--import', 'tsx', 'dev/token.ts', '--key-file', keyFile, ...args])).stdout.trim();
      const appToken = await mint('--roles', 'ExternalGroup.Create');
      const everyRole = await mint();
      const userToken = await mint('--user', '--roles', 'ExternalConnection.Create,ConnectorGroup.Create', '--minutes', '5');

      // The stack started afterwards reads the same key file and accepts both.
      const issuer = await startDevTokenIssuer({ key: await loadOrCreateDevSigningKey(keyFile) });
      try {
        const validator = new JwtValidator({ tenantId: issuer.tenantId, audiences: [issuer.audience], issuers: [issuer.issuer], jwksUri: issuer.jwksUri });
        expect(callerFromClaims(await validator.verify(appToken))).toMatchObject({ kind: 'app', id: devIdentities.callerObjectId, appId: devIdentities.callerAppId, roles: ['ExternalGroup.Create'] });
        // Without --roles: every app role, Audit.Read included.
        expect(callerFromClaims(await validator.verify(everyRole))?.roles).toEqual([...appRoles]);
        expect(appRoles).toContain('Audit.Read');
        const user = await validator.verify(userToken);
        expect(callerFromClaims(user)).toMatchObject({ kind: 'user', id: devIdentities.userObjectId, name: devIdentities.userName, roles: ['ExternalConnection.Create', 'ConnectorGroup.Create'], scopes: ['user_impersonation'] });
      } finally {
        await issuer.close();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
