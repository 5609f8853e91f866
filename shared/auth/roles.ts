import generated from './roles.json';

/**
 * The facade's app roles: one per create operation (each function file names its own in `role`),
 * and `Audit.Read` for the audit query API. The app registration declares exactly these: they are
 * generated from the operation declarations into shared/auth/roles.json (`npm run
 * generate`), which main.bicep loads. A caller's token carries those it was granted in its
 * `roles` claim.
 */
export const appRoles: readonly string[] = generated.appRoles.map((role) => role.value);

export type AppRole = string;
