import Joi from 'joi';
import parse from 'joi-to-json';
import { titleCase } from './text';

/**
 * joi → OpenAPI schema objects, through joi-to-json (its `open-api` mode: OpenAPI 3.0 schemas).
 *
 * joi-to-json converts what JSON Schema can say. Before handing a schema to it, its description
 * (`schema.describe()`) is resolved into what a Swagger 2.0 document can express, since Power
 * Platform imports nothing else:
 * - `.when('$version', …)` is decided for the documented Graph version (one document operation
 *   per version), so beta-only properties are absent from the v1.0 body;
 * - `.when(sibling, …)` becomes the loosest of its branches (Swagger 2.0 has no conditionals): the
 *   exact rule stays in the property's description and in joi (see `test/unit/openapiAgreement.test.ts`);
 * - `.rename(old, new)`: the old name is documented too (hidden, `x-ms-visibility: internal`);
 * - `.forbidden()` properties are left out of request bodies (they are refused); typed ones (the
 *   read-only properties Graph fills in) are shown as `readOnly` in responses; `.strip()` and
 *   `writeOnly` ones are left out of responses, unless Graph answers with them
 *   (`meta({ answeredByGraph: true })`: accepted, not forwarded, set by Graph), which are shown
 *   there as `readOnly`;
 * - custom rules (`.custom`) cannot be converted: their rule is in the description.
 * Then each property gets `x-ms-summary` (title case of its name) and, in request bodies,
 * `x-ms-visibility` (`important` when required, `advanced` otherwise).
 */

export type SchemaObject = { [keyword: string]: unknown };

export type Direction = 'request' | 'response';

export interface SchemaOptions {
  direction: Direction;
  /** joi's `$`-context the schema is validated with (the pipeline passes `{ version }`). */
  context: Record<string, unknown>;
}

interface Rule {
  name: string;
  args?: Record<string, unknown>;
}

interface When {
  ref?: { type?: string; path: string[] };
  is?: Description;
  then?: Description;
  otherwise?: Description;
  switch?: unknown;
}

/** The parts of joi's `describe()` output this module reads (joi 17/18 format). */
interface Description {
  type: string;
  flags?: Record<string, unknown>;
  keys?: Record<string, Description>;
  items?: Description[];
  whens?: When[];
  allow?: unknown[];
  rules?: Rule[];
  renames?: { from: string; to: string }[];
  metas?: Record<string, unknown>[];
  [other: string]: unknown;
}

/** joi descriptions are JSON apart from custom rule functions, which are not documented anyway. */
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const presenceOf = (description: Description) => description.flags?.presence as string | undefined;

const isForbidden = (description: Description) => presenceOf(description) === 'forbidden';

function hasMeta(description: Description, key: string): boolean {
  return (description.metas ?? []).some((meta) => meta[key] === true);
}

/** The description with `flags` merged in; a flag set to `undefined` is removed. */
function withFlags(description: Description, flags: Record<string, unknown>): Description {
  const { flags: current, ...rest } = description;
  const merged = Object.fromEntries(Object.entries({ ...current, ...flags }).filter(([, value]) => value !== undefined));
  return Object.keys(merged).length > 0 ? { ...rest, flags: merged } : rest;
}

/** `base.concat(branch)` for the shapes used here: a bare `any` meets a typed branch or flags. */
function concat(base: Description, branch: Description): Description {
  const { whens: _, ...plainBase } = base;
  const bareBranch = branch.type === 'any' && !branch.rules && !branch.allow && !branch.keys && !branch.whens;
  if (bareBranch) return withFlags(plainBase, branch.flags ?? {});
  const bareBase = plainBase.type === 'any' && !plainBase.rules && !plainBase.allow && !plainBase.keys;
  if (bareBase) {
    // The property's own description (on the base) says more than a shared rule's (on the branch).
    const description = plainBase.flags?.description ?? branch.flags?.description;
    const merged = withFlags(branch, { ...plainBase.flags, ...branch.flags, description });
    const metas = [...(plainBase.metas ?? []), ...(branch.metas ?? [])];
    return metas.length > 0 ? { ...merged, metas } : merged;
  }
  throw new Error(`openapi: cannot document a joi .when() joining a ${plainBase.type} with a ${branch.type}`);
}

function matches(is: Description | undefined, value: unknown): boolean {
  if (!is) return value !== undefined && value !== null && value !== false;
  return Joi.build(is).validate(value).error === undefined;
}

const sameJson = (left: unknown, right: unknown) => JSON.stringify(left) === JSON.stringify(right);

/** The loosest schema accepting whatever any alternative accepts (joi-only rules are dropped). */
function loosest(alternatives: Description[]): Description {
  const [first, ...others] = alternatives;
  if (!first) throw new Error('openapi: no alternative to document');
  if (others.length === 0) return first;
  const types = new Set(alternatives.map((alternative) => alternative.type));
  if (types.size > 1) throw new Error(`openapi: cannot document alternatives of types ${[...types].join(', ')}`);
  const rules = (first.rules ?? []).filter((rule) => others.every((other) => (other.rules ?? []).some((candidate) => sameJson(candidate, rule))));
  const allRequired = alternatives.every((alternative) => presenceOf(alternative) === 'required');
  const allOnly = alternatives.every((alternative) => alternative.flags?.only === true);
  const result: Description = withFlags(
    { type: first.type, ...(first.metas ? { metas: first.metas } : {}) },
    {
      description: first.flags?.description,
      presence: allRequired ? 'required' : undefined,
      only: allOnly ? true : undefined,
    },
  );
  if (rules.length > 0) result.rules = rules;
  const allowed = allOnly
    ? [...new Set(alternatives.flatMap((alternative) => alternative.allow ?? []))]
    : alternatives.every((alternative) => alternative.allow?.includes(null)) ? [null] : [];
  if (allowed.length > 0) result.allow = allowed;
  return result;
}

function resolveWhens(description: Description, options: SchemaOptions): Description {
  if (!description.whens?.length) return description;
  if (description.whens.length > 1) throw new Error('openapi: several .when() on one schema are not supported');
  const when = description.whens[0]!;
  if (when.switch || !when.ref) throw new Error('openapi: only .when(reference, { is, then, otherwise }) is supported');
  const branches = [when.then, when.otherwise];
  if (when.ref.type === 'global') {
    const value = options.context[when.ref.path.join('.')];
    const chosen = matches(when.is, value) ? when.then : when.otherwise;
    return resolve(chosen ? concat(description, chosen) : concat(description, { type: 'any' }), options);
  }
  // A sibling reference: Swagger 2.0 cannot make one property depend on another.
  const alternatives = branches
    .map((branch) => resolve(concat(description, branch ?? { type: 'any' }), options))
    .filter((alternative) => !isForbidden(alternative));
  return alternatives.length === 0 ? withFlags({ type: 'any' }, { presence: 'forbidden' }) : loosest(alternatives);
}

function resolveObject(description: Description, options: SchemaOptions): Description {
  const keys: Record<string, Description> = {};
  for (const [name, child] of Object.entries(description.keys ?? {})) {
    const resolved = resolve(child, options);
    if (isForbidden(resolved)) {
      if (description.flags?.unknown === true) throw new Error(`openapi: forbidden key ${name} in an open object`);
      // Typed read-only properties (`readOnly(Joi.string())`) are what Graph answers with; an
      // untyped forbidden one (e.g. beta-only on v1.0) does not exist here at all.
      if (options.direction === 'response' && resolved.type !== 'any') {
        keys[name] = { ...withFlags(resolved, { presence: undefined }), metas: [...(resolved.metas ?? []), { readOnly: true }] };
      }
      continue;
    }
    const answeredByGraph = hasMeta(resolved, 'answeredByGraph');
    const requestOnly = (resolved.flags?.result === 'strip' && !answeredByGraph) || hasMeta(resolved, 'writeOnly');
    if (options.direction === 'response' && requestOnly) continue;
    if (options.direction === 'response') {
      const metas = (resolved.metas ?? []).filter((meta) => !('writeOnly' in meta));
      keys[name] = withFlags({ ...resolved, metas: answeredByGraph ? [...metas, { readOnly: true }] : metas }, { presence: undefined, result: undefined });
    } else {
      // Accepted but never forwarded (`@odata.type`, a preset value): nothing a flow author needs.
      keys[name] = resolved.flags?.result === 'strip'
        ? { ...resolved, metas: [...(resolved.metas ?? []), { 'x-ms-visibility': 'internal' }] }
        : resolved;
    }
  }
  if (options.direction === 'request') {
    for (const { from, to } of description.renames ?? []) {
      const target = keys[to];
      if (!target || typeof from !== 'string') continue;
      keys[from] = {
        ...withFlags(clone(target), {
          presence: undefined,
          description: `Older name of ${to}, accepted and sent to Microsoft Graph as ${to}; not with ${to}.`,
        }),
        metas: [{ 'x-ms-visibility': 'internal' }],
      };
    }
  }
  const { renames: _, ...rest } = description;
  return { ...rest, keys };
}

/** `uri({ scheme })` becomes `format: uri` alone; the schemes are kept as a pattern. */
function schemeRule(rules: Rule[]): Rule | undefined {
  const uri = rules.find((rule) => rule.name === 'uri');
  const schemes = (uri?.args?.options as { scheme?: unknown } | undefined)?.scheme;
  if (!Array.isArray(schemes) || rules.some((rule) => rule.name === 'pattern')) return undefined;
  const names = schemes.filter((scheme): scheme is string => typeof scheme === 'string' && /^[a-z][a-z0-9+.-]*$/i.test(scheme));
  return { name: 'pattern', args: { regex: `/^(?:${names.join('|')}):/` } };
}

/** A joi description reduced to what the documents can state, for one direction and context. */
function resolve(description: Description, options: SchemaOptions): Description {
  let resolved = resolveWhens(clone(description), options);
  if (resolved.rules) {
    const rules = resolved.rules.filter((rule) => rule.name !== 'custom');
    const scheme = schemeRule(rules);
    if (scheme) rules.push(scheme);
    resolved = { ...resolved, rules };
    if (rules.length === 0) delete resolved.rules;
  }
  if (resolved.type === 'object' && resolved.keys) resolved = resolveObject(resolved, options);
  if (resolved.items) resolved = { ...resolved, items: resolved.items.map((item) => resolve(item, options)) };
  return resolved;
}

function annotate(schema: SchemaObject, direction: Direction): SchemaObject {
  const properties = schema.properties as Record<string, SchemaObject> | undefined;
  if (properties) {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries(properties)) {
      property['x-ms-summary'] ??= titleCase(name);
      if (direction === 'request') property['x-ms-visibility'] ??= required.has(name) ? 'important' : 'advanced';
      annotate(property, direction);
    }
  }
  const items = schema.items as SchemaObject | undefined;
  if (items && typeof items === 'object') annotate(items, direction);
  if (direction === 'response') {
    delete schema.required;
    if (schema.additionalProperties === false) delete schema.additionalProperties;
  }
  return schema;
}

/** An OpenAPI 3.0 schema object for a joi schema, as documented for one direction and context. */
export function schemaFromJoi(schema: Joi.Schema, options: SchemaOptions): SchemaObject {
  const description = resolve(schema.describe() as Description, options);
  if (isForbidden(description)) throw new Error('openapi: the whole schema is forbidden in this context');
  const converted = parse(Joi.build(description), 'open-api') as SchemaObject;
  return annotate(converted, options.direction);
}
