import { entityIndexRowKey } from '../audit/auditRecord';
import { FacadeError } from '../errors';
import type { GraphResponse } from '../graph/graphClient';
import { entityPathOf } from '../graph/paths';
import type { Runtime } from '../runtime';
import type { ConnectorManifest, ManifestGroup } from '../schemas/manifest';

/**
 * What applying a manifest would do, read from Graph and the audit trail without writing
 * anything: per entity `create`, `exists` (by whom, when the audit trail knows) or `differs`
 * (exists with other values: reported, never changed). Graph has no read of one group member, so
 * a member counts as existing when the audit trail holds its add (one range read per group); a
 * member added elsewhere is planned `create`, and its add then answers that it was there already.
 */

export type PlanAction = 'create' | 'exists' | 'differs';

/** Who made an entity, from its audit record. */
export interface MadeBy {
  operation: string;
  auditRecordId: string;
  callerId?: string;
  callerName?: string;
  requestedAt?: string;
}

export interface EntityPlan {
  action: PlanAction;
  madeBy?: MadeBy;
  /** The properties whose values in Graph are not the manifest's (`differs`). */
  differences?: string[];
}

export interface MemberPlan {
  id: string;
  action: 'create' | 'exists';
  auditRecordId?: string;
}

export interface GroupPlan extends EntityPlan {
  id: string;
  members: MemberPlan[];
}

export interface ConnectorGroupPlan extends EntityPlan {
  name: string;
  /** Graph's id of the existing group. */
  id?: string;
}

export interface ManifestPlan {
  connection: EntityPlan & { id: string };
  schema?: EntityPlan;
  groups: GroupPlan[];
  connectorGroups: ConnectorGroupPlan[];
  counts: Record<PlanAction, number>;
}

/** The operation names whose audit partitions hold each entity's records. */
export const manifestOperations = {
  connection: 'createExternalConnection',
  group: 'createExternalGroup',
  member: 'createExternalGroupMember',
  connectorGroup: 'createConnectorGroup',
  schema: 'registerConnectionSchema',
} as const;

/** Graph paths (below the version) of a manifest's entities. */
export const manifestPaths = {
  connections: '/external/connections',
  groups: (connectionId: string) => `/external/connections/${encodeURIComponent(connectionId)}/groups`,
  members: (connectionId: string, groupId: string) => `/external/connections/${encodeURIComponent(connectionId)}/groups/${encodeURIComponent(groupId)}/members`,
  schema: (connectionId: string) => `/external/connections/${encodeURIComponent(connectionId)}/schema`,
  connectorGroups: '/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
};

export interface PlanInput {
  runtime: Runtime;
  version: string;
  manifest: ConnectorManifest;
  clientRequestId: string;
  deadlineAt: number;
}

/** Reads one entity: its body, or undefined when Graph answers 404; anything else is thrown. */
async function readEntity(input: PlanInput, path: string): Promise<Record<string, unknown> | undefined> {
  const { response } = await input.runtime.graph.send(
    { method: 'GET', path, headers: { 'client-request-id': input.clientRequestId } },
    { deadlineAt: input.deadlineAt, deadlineMs: input.runtime.settings.graphDeadlineMs, retryMode: 'all' },
  );
  if (response.status === 404) return undefined;
  if (response.status === 200) return (response.body ?? {}) as Record<string, unknown>;
  throw readFailure(response);
}

function readFailure(response: GraphResponse): FacadeError {
  const status = response.status >= 500 || response.status === 429 ? 503 : response.status;
  return new FacadeError(status, 'graphReadFailed', `Microsoft Graph answered ${response.status} to a read the plan needs; nothing was created. Retry later.`, {
    retryAfterSeconds: 5,
  });
}

/** Whether a value Graph holds is the one the manifest names (OData annotations and key order aside). */
function sameValue(wanted: unknown, held: unknown): boolean {
  return JSON.stringify(canonical(wanted)) === JSON.stringify(canonical(held));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith('@odata')).sort(([a], [b]) => a.localeCompare(b)).map(([key, field]) => [key, canonical(field)]));
  }
  return value;
}

/** The manifest's properties (besides the id) whose values Graph does not hold. */
export function differencesOf(wanted: Record<string, unknown>, held: Record<string, unknown>, ignore: readonly string[] = []): string[] {
  return Object.entries(wanted)
    .filter(([name, value]) => name !== 'id' && name !== 'members' && !name.startsWith('@odata') && !ignore.includes(name) && value !== null && value !== undefined)
    .filter(([name, value]) => !sameValue(value, held[name]))
    .map(([name]) => name);
}

/** A connection's differences: Graph fills in `configuration.authorizedAppIds` with the creating app, so only ids the manifest names count. */
function connectionDifferences(wanted: Record<string, unknown>, held: Record<string, unknown>): string[] {
  const differences = differencesOf(wanted, held, ['configuration']);
  const appIds = (wanted.configuration as { authorizedAppIds?: string[] } | undefined)?.authorizedAppIds ?? [];
  const heldIds = new Set(((held.configuration as { authorizedAppIds?: string[] } | undefined)?.authorizedAppIds ?? []).map((id) => id.toLowerCase()));
  if (appIds.some((id) => !heldIds.has(id.toLowerCase()))) differences.push('configuration');
  return differences;
}

const flag = (value: unknown) => value === true || value === 'true';
const attributes = ['isSearchable', 'isQueryable', 'isRetrievable', 'isRefinable', 'isExactMatchRequired'] as const;

/** A schema's differences: properties missing, added, or with another type, attribute, label or alias. */
export function schemaDifferences(wanted: Record<string, unknown>, held: Record<string, unknown>): string[] {
  const heldProperties = new Map(((held.properties as Record<string, unknown>[] | undefined) ?? []).map((property) => [String(property.name).toLowerCase(), property]));
  const wantedProperties = (wanted.properties as Record<string, unknown>[] | undefined) ?? [];
  const differences: string[] = [];
  for (const property of wantedProperties) {
    const name = String(property.name);
    const other = heldProperties.get(name.toLowerCase());
    heldProperties.delete(name.toLowerCase());
    if (!other) {
      differences.push(`properties.${name} (not registered)`);
      continue;
    }
    if (String(property.type).toLowerCase() !== String(other.type).toLowerCase()) differences.push(`properties.${name}.type`);
    for (const attribute of attributes) if (flag(property[attribute]) !== flag(other[attribute])) differences.push(`properties.${name}.${attribute}`);
    const sorted = (list: unknown) => JSON.stringify([...((list as string[] | null | undefined) ?? [])].sort());
    if (sorted(property.labels) !== sorted(other.labels)) differences.push(`properties.${name}.labels`);
    if (sorted(property.aliases) !== sorted(other.aliases)) differences.push(`properties.${name}.aliases`);
  }
  for (const name of heldProperties.keys()) differences.push(`properties.${name} (registered, not in the manifest)`);
  return differences;
}

async function madeByOf(runtime: Runtime, operation: string, entityPath: string): Promise<MadeBy | undefined> {
  const record = await runtime.audit.findByEntity(operation, entityPath);
  if (!record) return undefined;
  return {
    operation,
    auditRecordId: record.rowKey,
    callerId: record.callerId,
    ...(record.callerName ? { callerName: record.callerName } : {}),
    requestedAt: new Date(record.requestedAt).toISOString(),
  };
}

const planOf = (held: Record<string, unknown> | undefined, differences: () => string[]): EntityPlan => {
  if (!held) return { action: 'create' };
  const found = differences();
  return found.length > 0 ? { action: 'differs', differences: found } : { action: 'exists' };
};

/** Runs `work` over `items`, at most `limit` at once, keeping their order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = Array.from({ length: items.length });
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

/**
 * Members of a group whose add the audit trail holds: one range read of the entity index of the
 * member partition (its rows are keyed by the member's path, so a group's are contiguous).
 */
export async function recordedMembers(runtime: Runtime, connectionId: string, groupId: string): Promise<Map<string, string>> {
  const prefix = entityIndexRowKey(`${manifestPaths.members(connectionId, groupId).replace(/^\/+/, '')}/`);
  const rows = await runtime.audit.rowsBetween<{ rowKey: string; auditRowKey: string }>(manifestOperations.member, prefix, `${prefix}~`);
  const byId = new Map<string, string>();
  for (const row of rows) byId.set(decodeURIComponent(decodeURIComponent(row.rowKey.slice(prefix.length))), row.auditRowKey);
  return byId;
}

async function planGroup(input: PlanInput, connectionExists: boolean, group: ManifestGroup): Promise<GroupPlan> {
  const { runtime, manifest } = input;
  const connectionId = manifest.connection.id;
  const members = group.members ?? [];
  if (!connectionExists) return { id: group.id, action: 'create', members: members.map((member) => ({ id: String(member.id), action: 'create' })) };
  // Beta documents no read of one group; v1.0 does (docs/graph-facts.md §2).
  const held = await readEntity(input, `/v1.0${manifestPaths.groups(connectionId)}/${encodeURIComponent(group.id)}`);
  const plan = planOf(held, () => differencesOf(group, held!));
  if (!held) return { id: group.id, ...plan, members: members.map((member) => ({ id: String(member.id), action: 'create' })) };
  const madeBy = await madeByOf(runtime, manifestOperations.group, entityPathOf(manifestPaths.groups(connectionId), group.id));
  const recorded = members.length > 0 ? await recordedMembers(runtime, connectionId, group.id) : new Map<string, string>();
  return {
    id: group.id,
    ...plan,
    ...(madeBy ? { madeBy } : {}),
    members: members.map((member) => {
      const auditRecordId = recorded.get(String(member.id));
      return auditRecordId ? { id: String(member.id), action: 'exists' as const, auditRecordId } : { id: String(member.id), action: 'create' as const };
    }),
  };
}

/** Every connector group, following `@odata.nextLink` (Graph pages the list). */
async function listConnectorGroups(input: PlanInput): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  let path: string | undefined = `/beta${manifestPaths.connectorGroups}`;
  for (let page = 0; path && page < 100; page += 1) {
    const { response } = await input.runtime.graph.send(
      { method: 'GET', path, headers: { 'client-request-id': input.clientRequestId } },
      { deadlineAt: input.deadlineAt, deadlineMs: input.runtime.settings.graphDeadlineMs, retryMode: 'all' },
    );
    if (response.status !== 200) throw readFailure(response);
    const body = response.body as { value?: Record<string, unknown>[]; '@odata.nextLink'?: string };
    all.push(...(body.value ?? []));
    const next = body['@odata.nextLink'];
    path = next ? `${new URL(next).pathname.replace(/^.*?(\/(?:v1\.0|beta)\/)/, '$1')}${new URL(next).search}` : undefined;
  }
  return all;
}

export async function planManifest(input: PlanInput): Promise<ManifestPlan> {
  const { runtime, version, manifest } = input;
  const connectionId = manifest.connection.id;
  const heldConnection = await readEntity(input, `/${version}${manifestPaths.connections}/${encodeURIComponent(connectionId)}`);
  const connection: ManifestPlan['connection'] = { id: connectionId, ...planOf(heldConnection, () => connectionDifferences(manifest.connection, heldConnection!)) };
  if (heldConnection) {
    const madeBy = await madeByOf(runtime, manifestOperations.connection, entityPathOf(manifestPaths.connections, connectionId));
    if (madeBy) connection.madeBy = madeBy;
  }

  let schema: EntityPlan | undefined;
  if (manifest.schema) {
    const heldSchema = heldConnection ? await readEntity(input, `/${version}${manifestPaths.schema(connectionId)}`) : undefined;
    schema = planOf(heldSchema, () => schemaDifferences(manifest.schema!, heldSchema!));
  }

  const groups = await inParallel(manifest.groups ?? [], 4, (group) => planGroup(input, heldConnection !== undefined, group));

  const wantedConnectorGroups = manifest.connectorGroups ?? [];
  const existing = wantedConnectorGroups.length > 0 ? await listConnectorGroups(input) : [];
  const connectorGroups = await inParallel(wantedConnectorGroups, 4, async (wanted): Promise<ConnectorGroupPlan> => {
    const held = existing.find((group) => group.name === wanted.name);
    if (!held) return { name: wanted.name, action: 'create' };
    const id = String(held.id);
    const madeBy = await madeByOf(runtime, manifestOperations.connectorGroup, entityPathOf(manifestPaths.connectorGroups, id));
    return { name: wanted.name, id, ...planOf(held, () => differencesOf(wanted, held)), ...(madeBy ? { madeBy } : {}) };
  });

  const counts: Record<PlanAction, number> = { create: 0, exists: 0, differs: 0 };
  const count = (action: PlanAction) => {
    counts[action] += 1;
  };
  count(connection.action);
  if (schema) count(schema.action);
  for (const group of groups) {
    count(group.action);
    for (const member of group.members) count(member.action);
  }
  for (const group of connectorGroups) count(group.action);
  return { connection, ...(schema ? { schema } : {}), groups, connectorGroups, counts };
}

