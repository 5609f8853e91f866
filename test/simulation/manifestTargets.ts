import { manifestPaths } from '../../shared/manifest/plan';
import type { RequestStep, TargetKind } from './schedule';
import { parentConnections, targetKinds, targets, type Target } from './targets';

/**
 * Manifests in the simulation: a manifest names the four creates a connector manifest is made of
 * (shared/manifest), so unlike the targets it is not derived from the registry of operations.
 */

/** One entity a manifest names, where its result is found, and the Graph path (below the version) it would be at. */
export interface ManifestEntity {
  /** Where the apply's results name it: `connection`, `groups[0]`, `groups[0].members[1]`, `connectorGroups[0]`. */
  at: string;
  /** The entity of the schedule (the target's kind), as against a parent the manifest names. */
  target: boolean;
  /** The id the manifest gives it (a connector group: its name; Graph chooses its id). */
  id: string;
}

/** A manifest step's request: the apply route and the manifest naming the target's entity. */
export interface ManifestRequest {
  path: string;
  params: Record<string, string>;
  body: { connection: Record<string, unknown> & { id: string }; groups?: Record<string, unknown>[]; connectorGroups?: Record<string, unknown>[] };
  /** Each entity of the target's kind the manifest asks for → the body it asks with (`0`, `1`, `companion`), as a request's `bodies`. */
  bodies: Record<string, string>;
  /** The collection its entities of the target's kind go to, as a single create's path. */
  collectionPath: string;
}

/** One entity's result in an apply's answer, with the Graph path of the entity it names (when known). */
export interface ManifestResult {
  at: string;
  target: boolean;
  id: string;
  outcome: string;
  /** Below the version, as the emulator's creations name it; undefined for a connector group without an id. */
  graphPath: string | undefined;
  auditRecordId?: string;
  error?: { code?: string; message?: string; httpStatus?: number };
}

/** The connection every manifest of a connector-group schedule names (seeded: connector groups need no connection). */
export const manifestConnectionOfConnectorGroups = parentConnections[0];

/**
 * The manifest a manifest step applies: the schedule's entity (its body and spelling as a request
 * step's), under the parents the schedule seeds, each named with a full create body (so the seeded
 * parents, which hold only an id, are `differs`); a member comes with the bulk request's companion.
 */
export function manifestFor(target: Target, step: Pick<RequestStep, 'body' | 'parent' | 'spelling'>): ManifestRequest {
  const single = target.request(step);
  const connectionBody = targets.connection!.request({ body: 0, parent: 0, spelling: 0 }).body;
  const groupBody = targets.group!.request({ body: 0, parent: 0, spelling: 0 }).body;
  const connectionId = single.params.connectionId ?? manifestConnectionOfConnectorGroups;
  const version = single.params.version ?? 'v1.0';
  const connection = { ...connectionBody, id: connectionId };
  const request = (body: ManifestRequest['body'], bodies: Record<string, string>): ManifestRequest => ({
    path: `/${version}/external/connectorManifests/apply`,
    params: { version },
    body,
    bodies,
    collectionPath: single.path,
  });
  switch (target.kind) {
    case 'connection':
      return request({ connection: single.body as ManifestRequest['body']['connection'] }, { [String(single.body.id)]: String(step.body) });
    case 'group':
      return request({ connection, groups: [single.body] }, { [String(single.body.id)]: String(step.body) });
    case 'member': {
      const items = target.bulk!.request(step).body[target.bulk!.operation.itemsProperty] as Record<string, unknown>[];
      return request(
        { connection, groups: [{ ...groupBody, id: single.params.groupId, members: items }] },
        { [String(single.body.id)]: String(step.body), [target.bulk!.companionId]: 'companion' },
      );
    }
    case 'connectorGroup':
      return request({ connection, connectorGroups: [single.body] }, { [String(single.body.name)]: String(step.body) });
    default:
      throw new Error(`no manifest names a ${target.kind}`);
  }
}

/** Targets a manifest can name. */
export const manifestTargetKinds: TargetKind[] = targetKinds.filter((kind) => ['connection', 'group', 'member', 'connectorGroup'].includes(kind));

type ResultEntry = { id?: string; name?: string; outcome?: string; auditRecordId?: string; error?: ManifestResult['error']; members?: ResultEntry[] };

/** Every entity result of an apply's completed answer (its 200, or its status URL's), with the Graph path each names. */
export function manifestResults(target: Target, body: Record<string, unknown> | undefined): ManifestResult[] | undefined {
  const connection = body?.connection as ResultEntry | undefined;
  const groups = body?.groups as ResultEntry[] | undefined;
  const connectorGroups = body?.connectorGroups as ResultEntry[] | undefined;
  if (!connection || !Array.isArray(groups) || !Array.isArray(connectorGroups)) return undefined;
  const entry = (at: string, isTarget: boolean, result: ResultEntry, graphPath: string | undefined): ManifestResult => ({
    at,
    target: isTarget,
    id: String(result.id ?? result.name ?? ''),
    outcome: String(result.outcome),
    graphPath,
    ...(result.auditRecordId ? { auditRecordId: result.auditRecordId } : {}),
    ...(result.error ? { error: result.error } : {}),
  });
  const connectionPath = `${manifestPaths.connections.slice(1)}/${encodeURIComponent(String(connection.id))}`;
  const results = [entry('connection', target.kind === 'connection', connection, connectionPath)];
  for (const [index, group] of groups.entries()) {
    const groupPath = `${connectionPath}/groups/${encodeURIComponent(String(group.id))}`;
    results.push(entry(`groups[${index}]`, target.kind === 'group', group, groupPath));
    for (const [position, member] of (group.members ?? []).entries()) {
      results.push(entry(`groups[${index}].members[${position}]`, target.kind === 'member', member, `${groupPath}/members/${encodeURIComponent(String(member.id))}`));
    }
  }
  for (const [index, group] of connectorGroups.entries()) {
    results.push(entry(`connectorGroups[${index}]`, target.kind === 'connectorGroup', group, group.id ? `${manifestPaths.connectorGroups.slice(1)}/${encodeURIComponent(group.id)}` : undefined));
  }
  return results;
}
