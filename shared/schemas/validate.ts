import type Joi from 'joi';
import type { GraphErrorDetail } from '../errors';

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
  return 'invalidValue';
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
  const problems = (error?.details ?? []).map((detail) => ({
    code: codeOf(detail.type),
    message: detail.message,
    target: targetOf(detail.path, targetPrefix),
  }));
  return { value: dropTopLevelNulls(value) as T, problems };
}

function dropTopLevelNulls(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, property]) => property !== null));
}
