import type Joi from 'joi';
import { badRequest, type FacadeError, type GraphErrorDetail } from '../errors';

export interface ValidationOutcome<T> {
  value: T;
  problems: GraphErrorDetail[];
}

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
 * Validates against a joi schema and reports every violation, each with the property it concerns
 * as `target`. Top-level nulls (Power Automate's blank optional fields) are dropped afterwards.
 */
export function validateWith<T>(
  schema: Joi.Schema,
  input: unknown,
  context: Record<string, unknown> = {},
  targetPrefix?: string,
): ValidationOutcome<T> {
  const { value, error } = schema.validate(input, { ...options, context });
  const problems = withoutRedundantTypeErrors(error?.details ?? []).map((detail) => ({
    code: codeOf(detail.type),
    message: messageOf(detail),
    target: targetOf(detail.path, targetPrefix),
  }));
  return { value: dropTopLevelNulls(value) as T, problems };
}

function dropTopLevelNulls(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, property]) => property !== null));
}

/**
 * Most details one 400 lists, the last of them saying how many more there were: an answer's size
 * never grows with what a request gets wrong (the body's own size is bounded by
 * shared/http/jsonBody.ts).
 */
export const maxErrorDetails = 100;

/** The 400 of every problem found: each listed as a detail, up to `maxErrorDetails` in all. */
export function invalidRequest(problems: readonly GraphErrorDetail[]): FacadeError {
  const count = problems.length === 1 ? 'one problem' : `${problems.length} problems`;
  if (problems.length <= maxErrorDetails) return badRequest(`The request is invalid (${count}); see details.`, [...problems]);
  const listed = problems.slice(0, maxErrorDetails - 1);
  const unlisted = problems.length - listed.length;
  return badRequest(`The request is invalid (${count}); details lists the first ${listed.length} and how many more there are.`, [
    ...listed,
    { code: 'moreProblems', message: `${unlisted} more problems are not listed; correct those listed and send the request again to see them.` },
  ]);
}
