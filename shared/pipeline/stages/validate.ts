import Joi from 'joi';
import type { GraphErrorDetail } from '../../errors';
import { collectionPathOf } from '../../graph/paths';
import { invalidRequest, validateWith } from '../../schemas/validate';
import type { HttpOperation } from '../../operations/operation';
import type { GraphCall, OperationContext, Stage } from '../context';

const paramSchemas = new WeakMap<HttpOperation, Joi.ObjectSchema>();

function paramsSchemaOf(operation: HttpOperation): Joi.ObjectSchema {
  let schema = paramSchemas.get(operation);
  if (!schema) {
    schema = Joi.object(
      Object.fromEntries(Object.entries(operation.params).map(([name, rule]) => [name, rule.required()])),
    );
    paramSchemas.set(operation, schema);
  }
  return schema;
}

/** The Graph version a request targets: its `{version}` parameter, or the one fixed in the path. */
export function graphVersionOf(operation: Pick<HttpOperation, 'graphPath'>, params: Record<string, string>): string {
  const first = operation.graphPath.split('/')[1] ?? '';
  return first === '{version}' ? (params.version ?? '') : first;
}

/**
 * Fills the Graph path template with URL-encoded parameters: a parameter is always exactly one
 * path segment, so nothing a caller sends can change which Graph resource is called.
 */
export function graphCallFor(
  operation: Pick<HttpOperation, 'graphPath'>,
  params: Record<string, string>,
  body: Record<string, unknown>,
  headers: Record<string, string>,
): GraphCall {
  return { version: graphVersionOf(operation, params), path: collectionPathOf(operation.graphPath, params), body, headers };
}

/** Headers Graph needs from the caller, passed through unchanged (graph-api.md §1). */
const forwardedHeaders = ['graphconnectors-ticket'];

const forwardableValue = /^[\x20-\x7e]{1,8192}$/;

function forwardedHeaderProblems(headers: Headers): GraphErrorDetail[] {
  return forwardedHeaders
    .filter((name) => headers.has(name) && !forwardableValue.test(headers.get(name) ?? ''))
    .map((name) => ({ code: 'invalidValue', message: `header ${name} must be 1 to 8192 printable ASCII characters`, target: name }));
}

/** Path parameters and body against Graph's rules; every violation is reported in one 400. */
export const validate: Stage<OperationContext<HttpOperation>> = async (context, next) => {
  const { operation, request } = context;
  const rawParams = Object.fromEntries(
    Object.keys(operation.params).map((name) => [name, request.params[name]]),
  );
  const params = validateWith<Record<string, string>>(paramsSchemaOf(operation), rawParams);
  const version = graphVersionOf(operation, rawParams as Record<string, string>);
  const body = validateWith<Record<string, unknown>>(operation.body, context.rawBody, { version });
  const problems = [...params.problems, ...body.problems, ...forwardedHeaderProblems(request.headers)];
  if (problems.length > 0) throw invalidRequest(problems, params.unlisted + body.unlisted);
  context.input = { params: params.value, body: body.value };
  const headers: Record<string, string> = { 'client-request-id': context.correlation.clientRequestId };
  for (const name of forwardedHeaders) {
    const value = request.headers.get(name);
    if (value) headers[name] = value;
  }
  context.graphCall = graphCallFor(operation, params.value, body.value, headers);
  return next();
};
