/**
 * App roles that belong to no create (each create describes its own role beside its Graph facts):
 * how the app registration shows them. `npm run generate` puts them in
 * shared/auth/roles.json after the creates' roles.
 */
export const nonCreateRoles: Readonly<Record<string, { displayName: string; description: string }>> = {
  'Audit.Read': {
    displayName: 'Read the audit trail',
    description: 'Read the audit records of the facade: who created which entity, when, and what became of it.',
  },
};
