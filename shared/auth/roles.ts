/**
 * The facade's app roles, one per create operation (each function file names its own in `role`).
 * The app registration declares exactly these; a caller's token carries those it was granted in
 * its `roles` claim.
 */
export const appRoles = [
  'ExternalConnection.Create',
  'ExternalGroup.Create',
  'ExternalGroupMember.Create',
  'ConnectorGroup.Create',
  'Audit.Read',
] as const;

export type AppRole = (typeof appRoles)[number];
