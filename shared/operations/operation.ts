import type Joi from 'joi';
import { bulkBodyOf } from '../schemas/bulk';
import type { DuplicateAnswer, GraphFacts } from './graphFacts';

/**
 * How the facade learns whether a create whose answer was lost took place. It only ever reads:
 * - `readById`: read the entity by its id and compare it with what was sent; `{ readById: {
 *   version } }` reads on that Graph version (when the create's own version documents no read);
 * - `createConflict`: Graph offers no read of one entity (group members): only a 409 to a later
 *   create of the same ask tells that it exists;
 * - `{ naturalKey }`: Graph chose or completed the id (connector groups): list the collection and
 *   look for an entity with the same value of this property that did not exist before the create
 *   (`NaturalKeyCheck` says how to ask and how Graph's value relates to the one sent).
 */
export type ExistenceCheck = 'readById' | { readById: { version: string } } | 'createConflict' | NaturalKeyCheck;

/**
 * How a lost create whose id Graph assigns is found among what Graph lists: by the body property
 * that names it. Declarative on purpose: recovery only reads, and reads what this says.
 */
export interface NaturalKeyCheck {
  /** The body property whose value names the entity: `name`; `id` for ids Graph completes. */
  naturalKey: string;
  /**
   * Ask Graph for the candidates with this `$filter` rather than listing the whole collection:
   * `{value}` is replaced by the sent value as an OData string literal (`name eq {value}`).
   */
  filter?: string;
  /**
   * How Graph's value relates to the sent one: kept as sent (default), or completed with a prefix
   * ending in `_` (a schema extension named `abc` becomes `ext1a2b3c4d_abc`).
   */
  graphValue?: 'asSent' | 'prefixed';
}

/** What the pipeline knows of every function it runs: its name (logs, audit `operation`). */
export interface NamedOperation {
  /** Function name, audit `operation`, log field: `createExternalGroup`. */
  name: string;
}

/** What every operation callers run names: itself and the app role it needs. */
export interface ServedOperation extends NamedOperation {
  /** The app role a caller needs to run it; the app registration's roles are generated from these (shared/auth/roles.json). */
  role: string;
}

/** What every operation served over HTTP declares: route, caller, body and Graph call. */
export interface HttpOperation extends ServedOperation {
  /** Entity type recorded in the audit table and used for its entity index. */
  entityType: string;
  /** Routes below `/api`, the first canonical; `{name}` segments are path parameters. */
  routes: readonly [string, ...string[]];
  /** joi rules for each path parameter. */
  params: Record<string, Joi.Schema>;
  body: Joi.ObjectSchema;
  /** Graph path template; `{name}` segments are filled with URL-encoded path parameters. */
  graphPath: string;
  /**
   * The action's name in the OpenAPI documents and Power Platform: sentence case, at most 80
   * characters, no `/`, ending in a letter or digit. Default: derived from `name`.
   */
  summary?: string;
  /** What the action does, one or two sentences, for the OpenAPI documents. */
  description?: string;
}

/**
 * What a create operation is: the whole of a function file. Everything it does at run time
 * comes from the shared pipeline.
 */
export interface OperationDefinition extends HttpOperation {
  kind?: 'create';
  /**
   * The created entity's id: chosen by the caller (read from the validated body),
   * `generatedByGraph` or `completedByGraph` (the caller names it, Graph completes the name, as
   * `abc` → `ext1a2b3c4d_abc`): then it is read from Graph's answer.
   */
  entityId: ((body: Record<string, unknown>) => string) | IdAssignedByGraph;
  /** Default `readById` for ids the caller chooses; a `naturalKey` check when Graph assigns the id. */
  existenceCheck?: ExistenceCheck;
  /** What Graph does with this create (shared/operations/graphFacts.ts). */
  graph: GraphFacts;
}

export type IdAssignedByGraph = 'generatedByGraph' | 'completedByGraph';

/** Whether the entity's id is only known from Graph's answer (generated or completed by Graph). */
export function graphAssignsId(operation: OperationDefinition): operation is OperationDefinition & { entityId: IdAssignedByGraph } {
  return typeof operation.entityId === 'string';
}

/** The entity id the caller chose, from the validated body; undefined when Graph assigns it. */
export function chosenEntityIdOf(operation: OperationDefinition, body: Record<string, unknown>): string | undefined {
  return typeof operation.entityId === 'function' ? operation.entityId(body) : undefined;
}

/** Graph's answer to a create of an entity that exists (409 unless the operation declares another). */
export function isDuplicateAnswer(operation: OperationDefinition, response: { status: number; body: unknown }): boolean {
  const duplicate: DuplicateAnswer = operation.graph.duplicate;
  if (response.status !== duplicate.status) return false;
  if (duplicate.status === 409) return true;
  const code = (response.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return code === duplicate.code;
}

/**
 * Many creates of one operation in one request (`members/bulk`): each item is a create of `item`
 * (its body rule, Graph path, audit partition and record), sent to Graph with JSON batching. The
 * whole of a function file, like a create; the bulk stages of the pipeline do the rest.
 */
export interface BulkOperationDefinition extends HttpOperation {
  kind: 'bulk';
  /** The create each item is. */
  item: OperationDefinition;
  /** The body's array of items: `{ "members": [...] }`. */
  itemsProperty: string;
  /** Most items one request may hold. */
  maxItems: number;
}

/** Any operation served through the pipeline. */
export type AnyOperation = OperationDefinition | BulkOperationDefinition;

export function existenceCheckOf(operation: OperationDefinition): ExistenceCheck {
  return operation.existenceCheck ?? 'readById';
}

/** The natural key check of an operation whose ids Graph assigns; undefined for ids the caller chooses. */
export function naturalKeyCheckOf(operation: OperationDefinition): NaturalKeyCheck | undefined {
  const check = existenceCheckOf(operation);
  return typeof check === 'object' && 'naturalKey' in check ? check : undefined;
}

/** The natural key of an operation whose ids Graph assigns; undefined for ids the caller chooses. */
export function naturalKeyOf(operation: OperationDefinition): string | undefined {
  return naturalKeyCheckOf(operation)?.naturalKey;
}

/** Whether one entity can be read back (and on which version): undefined when Graph has no read. */
export function readBackOf(operation: OperationDefinition): { version?: string } | undefined {
  const check = existenceCheckOf(operation);
  if (check === 'readById') return {};
  if (typeof check === 'object' && 'readById' in check) return { version: check.readById.version };
  return undefined;
}

export function defineOperation(definition: OperationDefinition): OperationDefinition {
  const check = definition.existenceCheck ?? 'readById';
  if (graphAssignsId(definition) !== (typeof check === 'object' && 'naturalKey' in check)) {
    throw new Error(`${definition.name}: an id Graph generates or completes is found by a naturalKey existence check, and only such an id`);
  }
  if (definition.entityId === 'completedByGraph' && (typeof check !== 'object' || !('naturalKey' in check) || check.graphValue !== 'prefixed')) {
    throw new Error(`${definition.name}: an id Graph completes is found by its natural key with graphValue 'prefixed'`);
  }
  if (definition.graph.duplicate.status === 409 ? false : !definition.graph.duplicate.code) {
    throw new Error(`${definition.name}: a duplicate answered other than 409 is told by its error code`);
  }
  const templateParams = [...definition.graphPath.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
  for (const param of templateParams) {
    if (!param || !(param in definition.params)) {
      throw new Error(`${definition.name}: graph path parameter {${param}} has no joi rule in params`);
    }
  }
  for (const route of definition.routes) {
    for (const [, param] of route.matchAll(/\{(\w+)\}/g)) {
      if (!param || !(param in definition.params)) {
        throw new Error(`${definition.name}: route parameter {${param}} in "${route}" has no joi rule in params`);
      }
    }
  }
  return Object.freeze(definition);
}

/** What a bulk operation's function file declares; the rest comes from the create it repeats. */
export interface BulkDeclaration {
  name: string;
  item: OperationDefinition;
  itemsProperty: string;
  maxItems: number;
  /** Routes below `/api`, the first canonical; their parameters are the item's. */
  routes: readonly [string, ...string[]];
  summary?: string;
  description?: string;
  /** What the items are, for messages and documents: `members`. */
  noun?: string;
}

/**
 * A bulk operation: the item's role, path parameters, Graph path and entity type; a body of 1 to
 * `maxItems` items, each checked by the item's own rule, no item twice (by the entity id, which
 * must be the body's `id`: ids Graph chooses cannot be told apart before they exist).
 */
export function defineBulkOperation(declaration: BulkDeclaration): BulkOperationDefinition {
  const { item, itemsProperty, maxItems, noun = itemsProperty } = declaration;
  if (graphAssignsId(item)) throw new Error(`${declaration.name}: bulk creates need ids the caller chooses`);
  for (const route of declaration.routes) {
    for (const [, param] of route.matchAll(/\{(\w+)\}/g)) {
      if (!param || !(param in item.params)) throw new Error(`${declaration.name}: route parameter {${param}} in "${route}" is not a parameter of ${item.name}`);
    }
  }
  return Object.freeze({
    kind: 'bulk' as const,
    name: declaration.name,
    role: item.role,
    entityType: item.entityType,
    routes: declaration.routes,
    params: item.params,
    body: bulkBodyOf({ item: item.body, itemsProperty, maxItems, identity: 'id', noun }),
    graphPath: item.graphPath,
    item,
    itemsProperty,
    maxItems,
    ...(declaration.summary ? { summary: declaration.summary } : {}),
    ...(declaration.description ? { description: declaration.description } : {}),
  });
}

/** A single create: not a bulk of creates, a query or a connector job (a manifest, a schema registration). */
export function isCreateOperation(operation: { kind?: string }): operation is OperationDefinition {
  return operation.kind === undefined || operation.kind === 'create';
}
