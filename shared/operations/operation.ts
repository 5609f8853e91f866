import type Joi from 'joi';
import type { AppRole } from '../auth/roles';

/**
 * How the facade learns whether a create whose answer was lost took place:
 * - `readById`: read the entity by its id and compare it with what was sent;
 * - `createConflict`: Graph offers no read of one entity (group members): a 409 to the same create
 *   says it exists, so the create itself is the check;
 * - `{ naturalKey }`: Graph chose the id (connector groups): list the collection and look for an
 *   entity with the same value of this property that did not exist before the create.
 */
export type ExistenceCheck = 'readById' | 'createConflict' | { naturalKey: string };

/**
 * What a create operation is: the whole of a function file. Everything it does at run time
 * comes from the shared pipeline.
 */
export interface OperationDefinition {
  /** Function name, audit `operation`, log field: `createExternalGroup`. */
  name: string;
  /** The app role a caller needs to run it (declared in shared/auth/roles.ts). */
  role: AppRole;
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
   * The created entity's id: chosen by the caller (read from the validated body) or
   * `generatedByGraph` (read from Graph's answer).
   */
  entityId: ((body: Record<string, unknown>) => string) | 'generatedByGraph';
  /** Default `readById` for ids the caller chooses; required when Graph generates the id. */
  existenceCheck?: ExistenceCheck;
  /**
   * The action's name in the OpenAPI documents and Power Platform: sentence case, at most 80
   * characters, no `/`, ending in a letter or digit. Default: derived from `name`.
   */
  summary?: string;
  /** What the action does, one or two sentences, for the OpenAPI documents. */
  description?: string;
}

export function existenceCheckOf(operation: OperationDefinition): ExistenceCheck {
  return operation.existenceCheck ?? 'readById';
}

export function defineOperation(definition: OperationDefinition): OperationDefinition {
  const check = definition.existenceCheck ?? 'readById';
  if ((definition.entityId === 'generatedByGraph') !== (typeof check === 'object')) {
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
