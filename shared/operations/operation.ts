import type Joi from 'joi';
import type { AppRole } from '../auth/roles';

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
  /**
   * The action's name in the OpenAPI documents and Power Platform: sentence case, at most 80
   * characters, no `/`, ending in a letter or digit. Default: derived from `name`.
   */
  summary?: string;
  /** What the action does, one or two sentences, for the OpenAPI documents. */
  description?: string;
}

export function defineOperation(definition: OperationDefinition): OperationDefinition {
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
