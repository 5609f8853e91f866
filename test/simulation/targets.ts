import type { FaultStep } from '../../dev/graphEmulator';
import '../../functions/index';
import { graphVersionsOf } from '../../shared/openapi/model';
import { existenceCheckOf, graphAssignsId, naturalKeyOf, type BulkOperationDefinition, type OperationDefinition } from '../../shared/operations/operation';
import { bulkOperationDefinitions, operationDefinitions } from '../../shared/operations/registerOperation';
import { validateWith } from '../../shared/schemas/validate';
import type { GraphFault, RequestStep, Spelling, TargetKind } from './schedule';

/**
 * The one entity a schedule is about, and how each request step asks for it: one target per
 * registered create operation, derived from its declaration (routes, Graph path, parents, the body
 * Graph receives for its documented example), and its bulk form where there is one.
 */
export interface Target {
  kind: TargetKind;
  operation: OperationDefinition;
  /** Entities the emulator holds before the schedule starts (the parents the path names), parents first. */
  parents: { collectionName: string; id: string; parentIds: string[] }[];
  request(step: Pick<RequestStep, 'body' | 'parent' | 'spelling'>): {
    /** The facade route below /api, also the Graph path. */
    path: string;
    params: Record<string, string>;
    body: Record<string, unknown>;
  };
  /** Emulator fault paths (regular expressions) of the create and of the reads that may follow. */
  createPath: string;
  readPath: string;
  /** The bulk form of the create, where there is one (members): it adds the entity and a companion. */
  bulk?: {
    operation: BulkOperationDefinition;
    request(step: Pick<RequestStep, 'body' | 'parent' | 'spelling'>): { path: string; params: Record<string, string>; body: Record<string, unknown> };
    /** The other entity each bulk request adds, always with the same body. */
    companionId: string;
  };
}

export const parentConnections = ['simparent0', 'simparent1'] as const;

/**
 * An id as a request spells it: as created, or in other letter case, which Graph may take for the
 * same entity (docs/graph-facts.md). GUIDs are written one way only.
 */
export const spelled = (id: string, spelling: Spelling) =>
  spelling === 0 || /^[0-9a-f-]{36}$/i.test(id) ? id : id.replace(/[a-z]/, (letter) => letter.toUpperCase());

/** A target's name: the entity as Graph names it, in camel case (`connection`, `connectorGroup`). */
export const targetKindOf = (operation: OperationDefinition): TargetKind =>
  operation.graph.noun.replace(/ (\w)/g, (_, letter: string) => letter.toUpperCase());

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isValid = (operation: OperationDefinition, body: unknown, version: string) => validateWith(operation.body, body, { version }).problems.length === 0;

/** Another valid value of the property: another allowed one (an enumeration), or the text with more. */
function otherValues(operation: OperationDefinition, property: string, value: unknown): unknown[] {
  const rule = (operation.body.describe() as { keys?: Record<string, { allow?: unknown[] }> }).keys?.[property];
  const allowed = (rule?.allow ?? []).filter((candidate) => candidate !== value);
  return typeof value === 'string' ? [`${value} (other)`, ...allowed] : allowed;
}

/** Two valid bodies of the same entity that Graph would hold as different: the documented one, and one property changed. */
function bodiesOf(operation: OperationDefinition, version: string): [Record<string, unknown>, Record<string, unknown>] {
  const [example] = operation.graph.examples;
  if (!example) throw new Error(`${operation.name} declares no documented example`);
  const base = example.sentToGraph;
  const identity = new Set(['id', naturalKeyOf(operation)]);
  for (const [property, value] of Object.entries(base)) {
    if (identity.has(property)) continue;
    for (const other of otherValues(operation, property, value)) {
      const changed = { ...base, [property]: other };
      if (isValid(operation, changed, version)) return [base, changed];
    }
  }
  throw new Error(`${operation.name}: no property of its example can be changed into another valid body`);
}

/** Another entity like `id`: a GUID with its last digit changed, or the id with a suffix. */
const companionOf = (id: string) => (/^[0-9a-f-]{36}$/i.test(id) ? `${id.slice(0, -1)}${id.endsWith('5') ? '6' : '5'}` : `${id}c`);

function targetOf(operation: OperationDefinition): Target {
  const versions = graphVersionsOf(operation);
  const version = versions.includes('v1.0') ? 'v1.0' : versions[0]!;
  const parameters = [...operation.graphPath.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!).filter((name) => name !== 'version');
  // The first parent varies with the step's `parent`; deeper ones are the same in both.
  const paramsFor = (parent: 0 | 1, spelling: Spelling = 0) =>
    Object.fromEntries(parameters.map((name, index) => [name, index === 0 ? spelled(parentConnections[parent], spelling) : `sim${name.replace(/Id$/, '')}`]));
  const paramsOf = (parent: 0 | 1, spelling: Spelling = 0): Record<string, string> => ({ ...('version' in operation.params ? { version } : {}), ...paramsFor(parent, spelling) });
  const pathOf = (parent: 0 | 1, spelling: Spelling, route: string) => `/${route.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(paramsOf(parent, spelling)[name] ?? ''))}`;
  const shape = (segments: string[]) => segments.map((segment) => (/^\{\w+\}$/.test(segment) ? '{}' : segment)).join('/');
  const below = (graphPath: string) => graphPath.split('/').slice(2);
  const parentCollections = parameters.map((name, index) => {
    const segments = below(operation.graphPath);
    const prefix = shape(segments.slice(0, segments.indexOf(`{${name}}`)));
    const parent = operationDefinitions.find((candidate) => shape(below(candidate.graphPath)) === prefix);
    if (!parent) throw new Error(`${operation.name}: no registered create makes the parent of {${parameters[index]}}`);
    return parent.graph.collectionName;
  });
  const parents = ([0, 1] as const).flatMap((parent) => {
    const ids = parameters.map((name) => paramsFor(parent)[name]!);
    return ids.map((id, index) => ({ collectionName: parentCollections[index]!, id, parentIds: ids.slice(0, index) }));
  }).filter((seed, index, all) => all.findIndex((other) => other.collectionName === seed.collectionName && other.id === seed.id && other.parentIds.join('/') === seed.parentIds.join('/')) === index);
  const bodies = bodiesOf(operation, version);
  const lastSegment = operation.graphPath.split('/').at(-1)!;
  const bulkOperation = bulkOperationDefinitions.find((candidate) => candidate.item === operation);
  const entityId = String(bodies[0].id ?? '');
  const companionId = companionOf(entityId);
  return {
    kind: targetKindOf(operation),
    operation,
    parents,
    // A top-level entity whose id the caller chooses is spelled itself; any other, through its top parent.
    request: ({ body, parent, spelling }) => ({
      path: pathOf(parent, spelling, operation.routes[0]),
      params: paramsOf(parent, spelling),
      body: parameters.length === 0 && typeof bodies[body].id === 'string' ? { ...bodies[body], id: spelled(String(bodies[body].id), spelling) } : bodies[body],
    }),
    createPath: `/${escape(lastSegment)}$`,
    readPath: `/${escape(lastSegment)}(/[^/]+)?$`,
    ...(bulkOperation
      ? {
          bulk: {
            operation: bulkOperation,
            request: ({ body, parent, spelling }: Pick<RequestStep, 'body' | 'parent' | 'spelling'>) => ({
              path: pathOf(parent, spelling, bulkOperation.routes[0]),
              params: paramsOf(parent, spelling),
              body: { [bulkOperation.itemsProperty]: [bodies[body], { ...bodies[0], id: companionId }] },
            }),
            companionId,
          },
        }
      : {}),
  };
}

export const targets: Record<TargetKind, Target> = Object.fromEntries(operationDefinitions.map((operation) => [targetKindOf(operation), targetOf(operation)]));

/** The target a schedule names; a schedule saved before its operation was removed names none. */
export function targetFor(kind: TargetKind): Target {
  const target = targets[kind];
  if (!target) throw new Error(`no simulation target ${kind}: the targets are ${Object.keys(targets).join(', ')}`);
  return target;
}

/** Every target, one per registered create operation. */
export const targetKinds: TargetKind[] = Object.keys(targets);

/** A schedule's Graph fault as the emulator's fault step. */
export function faultStep(fault: GraphFault): FaultStep {
  switch (fault.kind) {
    case 'throttle':
      return { status: 429, retryAfter: '0.01' };
    case 'unavailable':
      return { status: 503, commit: fault.commit };
    case 'gatewayTimeout':
      return { status: 504, commit: fault.commit };
    case 'serverError':
      return { status: 500, commit: fault.commit };
    case 'reset':
      return { reset: true, commit: fault.commit };
    case 'hang':
      return { hang: true, commit: fault.commit };
    case 'garbage':
      return { garbage: true, commit: fault.commit };
    case 'oddSuccess':
      return { status: 201, commit: true, bodyText: fault.body === 'noId' ? '{}' : fault.body === 'empty' ? '' : 'created' };
  }
}

/** Targets a request can spell two ways: an id the caller writes, its own or its top parent's. */
export const spelledTargetKinds: TargetKind[] = targetKinds.filter((kind) => {
  const target = targetFor(kind);
  return JSON.stringify(target.request({ body: 0, parent: 0, spelling: 0 })) !== JSON.stringify(target.request({ body: 0, parent: 0, spelling: 1 }));
});

/** Targets with a bulk form. */
export const bulkTargetKinds: TargetKind[] = targetKinds.filter((kind) => targetFor(kind).bulk !== undefined);

/** Targets Graph has no read of one entity of (group members): only a 409 tells their entity is there. */
export const unreadableTargetKinds: TargetKind[] = targetKinds.filter((kind) => existenceCheckOf(targetFor(kind).operation) === 'createConflict');

/** Targets whose ids Graph chooses (connector groups): a lost create's entity is found by its natural key. */
export const graphIdTargetKinds: TargetKind[] = targetKinds.filter((kind) => graphAssignsId(targetFor(kind).operation));
