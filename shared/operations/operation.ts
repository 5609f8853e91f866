import type Joi from 'joi';
import type { AppRole } from '../auth/roles';
import { bulkBodyOf } from '../schemas/bulk';

/**
 * How the facade learns whether a create whose answer was lost took place. It only ever reads:
 * - `readById`: read the entity by its id and compare it with what was sent; `{ readById: {
 *   version } }` reads on that Graph version (when the create's own version documents no read);
 * - `createConflict`: Graph offers no read of one entity (group members): only a 409 to a later
 *   create of the same ask tells that it exists;
 * - `{ naturalKey }`: Graph chose the id (connector groups): list the collection and look for an
 *   entity with the same value of this property that did not exist before the create.
 */
export type ExistenceCheck = 'readById' | { readById: { version: string } } | 'createConflict' | { naturalKey: string };

/** What the pipeline knows of every function it runs: its name (logs, audit `operation`). */
export interface NamedOperation {
  /** Function name, audit `operation`, log field: `createExternalGroup`. */
  name: string;
}

/** What every operation callers run names: itself and the app role it needs. */
export interface ServedOperation extends NamedOperation {
  /** The app role a caller needs to run it (declared in shared/auth/roles.ts). */
  role: AppRole;
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
   * The created entity's id: chosen by the caller (read from the validated body) or
   * `generatedByGraph` (read from Graph's answer).
   */
  entityId: ((body: Record<string, unknown>) => string) | 'generatedByGraph';
  /** Default `readById` for ids the caller chooses; required when Graph generates the id. */
  existenceCheck?: ExistenceCheck;
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

/** The natural key of an operation whose ids Graph chooses; undefined for ids the caller chooses. */
export function naturalKeyOf(operation: OperationDefinition): string | undefined {
  const check = existenceCheckOf(operation);
  return typeof check === 'object' && 'naturalKey' in check ? check.naturalKey : undefined;
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
  if ((definition.entityId === 'generatedByGraph') !== (typeof check === 'object' && 'naturalKey' in check)) {
    throw new Error(`${definition.name}: an id Graph generates is found by a naturalKey existence check, and only such an id`);
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
  if (item.entityId === 'generatedByGraph') throw new Error(`${declaration.name}: bulk creates need ids the caller chooses`);
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
