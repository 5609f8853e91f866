/**
 * The three forms a Graph path takes here: the call (`/v1.0/external/connections/c1/groups`), the
 * collection below the version (`/external/connections/c1/groups`), and the entity's path that
 * keys the audit index (`external/connections/c1/groups/g1`, no version, no leading slash).
 */

/** `/v1.0/external/connections` → `{ version: 'v1.0', collectionPath: '/external/connections' }` */
export function splitGraphPath(graphPath: string): { version: string; collectionPath: string } {
  const match = /^\/([^/]+)(\/.*)$/.exec(graphPath);
  if (!match?.[1] || !match[2]) throw new Error(`not a versioned Graph path: ${graphPath}`);
  return { version: match[1], collectionPath: match[2] };
}

/**
 * Where every spelling of an entity that Microsoft Graph may count as one entity meets: its path
 * (or entity key) with letter case folded (docs/graph-facts.md §10). The keys the lost-answer rules
 * look entities up by — the open attempts' entity key, the entity index's row — are built from it,
 * so two spellings find each other; the spelling itself is kept beside it, and two spellings
 * that meet here but differ are only possibly the same entity (never taken for one by guess).
 */
export function identityOf(entityPathOrKey: string): string {
  return entityPathOrKey.toLowerCase();
}

/** The audit index key of an entity: its collection path and encoded id, without version. */
export function entityPathOf(collectionPath: string, entityId: string): string {
  return `${collectionPath.replace(/^\/+/, '')}/${encodeURIComponent(entityId)}`;
}

/** The Graph call that reads one entity. */
export function entityUrlOf(graphPath: string, entityId: string): string {
  return `${graphPath}/${encodeURIComponent(entityId)}`;
}

/**
 * The collection a create goes to, below the version, from its Graph path template
 * (`/{version}/external/connections/{connectionId}/groups`): each parameter URL-encoded into
 * exactly one segment, so nothing a caller sends can change which Graph resource is meant.
 */
export function collectionPathOf(graphPathTemplate: string, params: Record<string, string>): string {
  return graphPathTemplate.replace(/^\/[^/]+/, '').replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}
