import type Joi from 'joi';
import { badRequest, type FacadeError, type GraphErrorDetail } from '../errors';

export interface ValidationOutcome<T> {
  value: T;
  problems: GraphErrorDetail[];
  /** Problems found but not listed in `problems` (unknown properties past `maxErrorDetails`). */
  unlisted: number;
}

/**
 * Most details one 400 lists, the last of them saying how many more there were: an answer's size
 * never grows with what a request gets wrong (the body's own size is bounded by
 * shared/http/jsonBody.ts).
 */
export const maxErrorDetails = 100;

const options: Joi.ValidationOptions = {
  abortEarly: false,
  convert: false,
  allowUnknown: false,
  errors: { wrap: { label: '"' } },
};

function targetOf(path: (string | number)[], prefix: string | undefined): string {
  const joined = path.reduce<string>(
    (target, segment) =>
      typeof segment === 'number' ? `${target}[${segment}]` : target ? `${target}.${segment}` : segment,
    '',
  );
  return prefix ? (joined ? `${prefix}.${joined}` : prefix) : joined;
}

function codeOf(type: string): string {
  if (type === 'any.required') return 'missingProperty';
  if (type === 'object.unknown') return 'unknownProperty';
  if (type === 'any.unknown') return 'propertyNotAllowed';
  if (type === 'object.rename.conflict' || type === 'object.rename.override') return 'conflictingProperties';
  if (type === 'bulk.duplicate') return 'duplicateItem';
  return 'invalidValue';
}

/**
 * A value outside a list: joi lists the allowed values, `null` among them when a blank is allowed
 * too (`.valid(…).allow(null)`). `null` means "absent" there, not a value to choose, so the message
 * names only the real values.
 */
function messageOf(detail: Joi.ValidationErrorItem): string {
  const valids = detail.context?.valids as unknown[] | undefined;
  if (detail.type !== 'any.only' || !valids?.includes(null)) return detail.message;
  const values = valids.filter((value) => value !== null).map(String);
  return `"${detail.context?.label ?? targetOf(detail.path, undefined)}" must be ${values.length === 1 ? '' : 'one of '}[${values.join(', ')}]`;
}

/** A value outside a list of allowed values is one violation, not that plus "must be a string". */
function withoutRedundantTypeErrors(details: Joi.ValidationErrorItem[]): Joi.ValidationErrorItem[] {
  const outsideList = new Set(details.filter((detail) => detail.type === 'any.only').map((detail) => detail.path.join('\u0000')));
  return details.filter((detail) => !(detail.type.endsWith('.base') && outsideList.has(detail.path.join('\u0000'))));
}

/**
 * Which properties each object of a body may have, as far as a schema says so plainly: an object's
 * declared keys (and the older names it renames), its children, an array's single item rule.
 * Anything else (alternatives, conditions, open objects, key patterns) is `undefined`: not looked
 * into, left to joi alone.
 */
type KeyShape = { kind: 'object'; known: ReadonlySet<string>; children: ReadonlyMap<string, KeyShape> } | { kind: 'array'; item: KeyShape } | undefined;

interface Description {
  type?: string;
  flags?: { unknown?: boolean };
  preferences?: { allowUnknown?: boolean };
  keys?: Record<string, Description>;
  renames?: { from: unknown }[];
  patterns?: unknown[];
  items?: Description[];
}

function shapeOf(description: Description): KeyShape {
  if (description.type === 'object') {
    const open = description.flags?.unknown === true || description.preferences?.allowUnknown === true || !description.keys || (description.patterns?.length ?? 0) > 0;
    if (open) return undefined;
    const keys = Object.entries(description.keys ?? {});
    const renamed = (description.renames ?? []).map((rename) => rename.from).filter((from): from is string => typeof from === 'string');
    const children = new Map<string, KeyShape>();
    for (const [key, child] of keys) {
      const shape = shapeOf(child);
      if (shape) children.set(key, shape);
    }
    return { kind: 'object', known: new Set([...keys.map(([key]) => key), ...renamed]), children };
  }
  if (description.type === 'array' && description.items?.length === 1) {
    const item = shapeOf(description.items[0]!);
    return item && { kind: 'array', item };
  }
  return undefined;
}

const shapes = new WeakMap<Joi.Schema, KeyShape>();

function cachedShapeOf(schema: Joi.Schema): KeyShape {
  if (!shapes.has(schema)) shapes.set(schema, shapeOf(schema.describe() as Description));
  return shapes.get(schema);
}

/** Calls `found` with each property `shape` does not take, and its object, in document order. */
function visitUnknown(shape: KeyShape, value: unknown, found: (owner: Record<string, unknown>, key: string) => void): void {
  if (!shape || typeof value !== 'object' || value === null) return;
  if (shape.kind === 'array') {
    if (Array.isArray(value)) for (const item of value) visitUnknown(shape.item, item, found);
    return;
  }
  if (Array.isArray(value)) return;
  const owner = value as Record<string, unknown>;
  for (const key of Object.keys(owner)) {
    if (!shape.known.has(key)) found(owner, key);
    else visitUnknown(shape.children.get(key), owner[key], found);
  }
}

/**
 * joi reports each unknown property with an error object and a rendered message: thousands of them
 * cost a request hundreds of milliseconds. Past `maxErrorDetails` of them, the rest are counted
 * here, left out of a copy of the input, and never given to joi; what the caller is told is the
 * same (the first ones listed, every one counted).
 */
function withUnknownPropertiesCapped(schema: Joi.Schema, input: unknown): { input: unknown; unlisted: number } {
  const shape = cachedShapeOf(schema);
  let unknown = 0;
  visitUnknown(shape, input, () => (unknown += 1));
  if (unknown <= maxErrorDetails) return { input, unlisted: 0 };
  const copy = structuredClone(input);
  let kept = 0;
  visitUnknown(shape, copy, (owner, key) => {
    if (kept < maxErrorDetails) kept += 1;
    else delete owner[key];
  });
  return { input: copy, unlisted: unknown - kept };
}

/**
 * Validates against a joi schema and reports every violation, each with the property it concerns
 * as `target` (unknown properties past the first `maxErrorDetails` counted in `unlisted` instead).
 * Top-level nulls (Power Automate's blank optional fields) are dropped afterwards.
 */
export function validateWith<T>(
  schema: Joi.Schema,
  input: unknown,
  context: Record<string, unknown> = {},
  targetPrefix?: string,
): ValidationOutcome<T> {
  const capped = withUnknownPropertiesCapped(schema, input);
  const { value, error } = schema.validate(capped.input, { ...options, context });
  const problems = withoutRedundantTypeErrors(error?.details ?? []).map((detail) => ({
    code: codeOf(detail.type),
    message: messageOf(detail),
    target: targetOf(detail.path, targetPrefix),
  }));
  return { value: dropTopLevelNulls(value) as T, problems, unlisted: capped.unlisted };
}

function dropTopLevelNulls(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, property]) => property !== null));
}

/**
 * The 400 of every problem found: each listed as a detail, up to `maxErrorDetails` in all, and
 * `unlisted` more counted without being listed.
 */
export function invalidRequest(problems: readonly GraphErrorDetail[], unlisted = 0): FacadeError {
  const total = problems.length + unlisted;
  const count = total === 1 ? 'one problem' : `${total} problems`;
  if (total <= maxErrorDetails) return badRequest(`The request is invalid (${count}); see details.`, [...problems]);
  const listed = problems.slice(0, maxErrorDetails - 1);
  return badRequest(`The request is invalid (${count}); details lists the first ${listed.length} and how many more there are.`, [
    ...listed,
    { code: 'moreProblems', message: `${total - listed.length} more problems are not listed; correct those listed and send the request again to see them.` },
  ]);
}
