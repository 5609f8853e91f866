import type { NaturalKeyCheck } from '../operations/operation';
import type { GraphReader } from './attribution';
import { entityUrlOf, splitGraphPath } from '../graph/paths';

/**
 * The only Graph calls recovery makes: reads. Finding out whether a create took place never
 * sends one (a create sent to find out would make what nobody asked for).
 */

export type Read = { found: true; entity: Record<string, unknown>; requestId: string | undefined } | { found: false };

/** Most pages of a collection read to find one entity. */
const maxPages = 20;

/**
 * Reads one entity by id; on `version` when given (the create's version may document no read).
 * Throws when Graph does not tell (an error other than 404, or no answer).
 */
export async function readEntity(
  graph: GraphReader,
  graphPath: string,
  entityId: string,
  deadlineAt: number,
  options: { version?: string; headers?: Record<string, string> } = {},
): Promise<Read> {
  const { version, collectionPath } = splitGraphPath(graphPath);
  const path = entityUrlOf(`/${options.version ?? version}${collectionPath}`, entityId);
  const { response } = await graph.send({ method: 'GET', path, ...(options.headers ? { headers: options.headers } : {}) }, { deadlineAt, retryMode: 'all' });
  if (response.status === 404) return { found: false };
  if (response.status !== 200 || typeof response.body !== 'object' || response.body === null) {
    throw new Error(`Microsoft Graph answered ${response.status} to the read of ${path}`);
  }
  return { found: true, entity: response.body as Record<string, unknown>, requestId: response.requestId };
}

/** Whether Graph's value of the natural key is the one sent, as the check says Graph keeps it. */
export function holdsNaturalKey(check: NaturalKeyCheck, graphValue: unknown, sent: unknown): boolean {
  if (sameNaturalKey(graphValue, sent)) return true;
  return check.graphValue === 'prefixed' && typeof graphValue === 'string' && typeof sent === 'string' && graphValue.toLowerCase().endsWith(`_${sent.toLowerCase()}`);
}

/** The list call: the collection, narrowed by the check's `$filter` when it declares one. */
export function naturalKeyListPath(graphPath: string, check: NaturalKeyCheck, value: unknown): string {
  if (!check.filter || typeof value !== 'string') return graphPath;
  const literal = `'${value.replace(/'/g, "''")}'`;
  return `${graphPath}?$filter=${encodeURIComponent(check.filter.replace('{value}', literal))}`;
}

/** The collection's entities whose natural key has this value, following `@odata.nextLink`. */
export async function listWithNaturalKey(
  graph: GraphReader,
  graphPath: string,
  check: NaturalKeyCheck,
  value: unknown,
  deadlineAt: number,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let path: string | undefined = naturalKeyListPath(graphPath, check, value);
  for (let page = 0; path && page < maxPages; page += 1) {
    const { response } = await graph.send({ method: 'GET', path }, { deadlineAt, retryMode: 'all' });
    if (response.status !== 200) throw new Error(`Microsoft Graph answered ${response.status} to the list of ${graphPath}`);
    const body = response.body as { value?: Record<string, unknown>[]; '@odata.nextLink'?: string };
    found.push(...(body.value ?? []).filter((entity) => holdsNaturalKey(check, entity[check.naturalKey], value) && typeof entity.id === 'string'));
    path = body['@odata.nextLink'] ? graph.relativePath(body['@odata.nextLink']) : undefined;
  }
  if (path) throw new Error(`more than ${maxPages} pages in ${graphPath}`);
  return found;
}

/**
 * A natural key as the lookups compare it: letter case apart (docs/graph-facts.md §10). Graph does
 * not document how it keeps a name, so another spelling counts as possibly the same: it is in the
 * snapshot taken before a create, and a candidate afterwards (then left unknowable if another
 * attempt may have made it) — never a reason to call a create absent.
 */
export function sameNaturalKey(held: unknown, sent: unknown): boolean {
  return typeof held === 'string' && typeof sent === 'string' ? held.toLowerCase() === sent.toLowerCase() : held === sent;
}
