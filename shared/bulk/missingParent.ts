import { FacadeError } from '../errors';
import type { GraphReader } from '../recovery/attribution';
import type { BulkItemResult } from './bulkRecord';

/**
 * A bulk request into a parent that does not exist (a group, or its connection): Microsoft Graph
 * answers each item 404, and nothing can be added. A flow acts on the status code, so the request
 * is answered Graph's 404 `itemNotFound` naming the missing parent (sync, or the status URL of an
 * accepted one), not 200 with every item failed. Only when *every* item was refused 404 (none
 * added, none already there, none of unknown outcome): a request where some items fail keeps its
 * 200 with per-item results.
 */

export function everyItemNotFound(results: readonly (BulkItemResult | undefined)[]): boolean {
  return results.length > 0 && results.every((result) => result?.status === 'failed' && result.error?.httpStatus === 404);
}

/** The parents named in a member collection's path: `/external/connections/{c}/groups/{g}/members`. */
export function parentsOf(collectionPath: string): { connectionId: string; groupId?: string } | undefined {
  const match = /^\/external\/connections\/([^/]+)(?:\/groups\/([^/]+))?\/[^/]+$/.exec(collectionPath);
  if (!match) return undefined;
  const connectionId = decodeURIComponent(match[1]!);
  return match[2] === undefined ? { connectionId } : { connectionId, groupId: decodeURIComponent(match[2]) };
}

export type MissingParent = { kind: 'connection'; connectionId: string } | { kind: 'group'; connectionId: string; groupId: string } | { kind: 'unnamed'; path: string };

export function missingParentError(missing: MissingParent): FacadeError {
  const message =
    missing.kind === 'connection'
      ? `The connection '${missing.connectionId}' does not exist (Microsoft Graph answered 404 itemNotFound): nothing was added.`
      : missing.kind === 'group'
        ? `The external group '${missing.groupId}' does not exist in the connection '${missing.connectionId}' (Microsoft Graph answered 404 itemNotFound): nothing was added.`
        : `The parent of ${missing.path} does not exist (Microsoft Graph answered 404 itemNotFound): nothing was added.`;
  const target = missing.kind === 'connection' ? 'connectionId' : missing.kind === 'group' ? 'groupId' : undefined;
  return new FacadeError(404, 'itemNotFound', message, target ? { target } : {});
}

/**
 * Which parent is missing: the connection when Graph's read of it answers 404, else the group
 * (Graph said the members' collection does not exist). A read that fails names the group, which
 * the 404s of the adds already say is not there.
 */
export async function findMissingParent(graph: GraphReader, version: string, collectionPath: string, deadlineAt: number): Promise<MissingParent> {
  const parents = parentsOf(collectionPath);
  if (!parents) return { kind: 'unnamed', path: collectionPath };
  if (parents.groupId === undefined) return { kind: 'connection', connectionId: parents.connectionId };
  try {
    const { response } = await graph.send(
      { method: 'GET', path: `/${version}/external/connections/${encodeURIComponent(parents.connectionId)}` },
      { deadlineAt, retryMode: 'all' },
    );
    if (response.status === 404) return { kind: 'connection', connectionId: parents.connectionId };
  } catch {
    // Not told: the group is the parent the 404s name.
  }
  return { kind: 'group', connectionId: parents.connectionId, groupId: parents.groupId };
}
