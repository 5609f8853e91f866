import Joi from 'joi';
import type { GraphErrorDetail } from '../../errors';
import type { OperationDefinition } from '../../operations/operation';
import type { QueryDefinition } from '../../operations/query';
import { invalidRequest, validateWith } from '../../schemas/validate';
import type { QueryContext, Stage } from '../context';

/**
 * A query's path and query string parameters against its joi rules, every violation reported in
 * one 400, as a create's body is. Query strings carry text only: a parameter whose rule is a number
 * is read as one when it is written as a whole number. An empty value counts as absent (a blank
 * optional field of a Power Automate action), a parameter given twice or one the query does not
 * take is refused, so a typo cannot widen what is read.
 */

/** A function key (`authLevel: 'function'`) arrives as `?code=`: it is the Functions host's, not a parameter. */
const functionKeyParameter = 'code';

interface QueryRules {
  paramNames: readonly string[];
  params: Joi.ObjectSchema;
  query: Joi.ObjectSchema;
  numeric: ReadonlySet<string>;
}

const rulesCache = new WeakMap<readonly OperationDefinition[], WeakMap<QueryDefinition, QueryRules>>();

function rulesOf(context: QueryContext): QueryRules {
  const { operation, scope } = context;
  let byQuery = rulesCache.get(scope.operations);
  if (!byQuery) rulesCache.set(scope.operations, (byQuery = new WeakMap()));
  let rules = byQuery.get(operation);
  if (!rules) {
    const params = operation.params(scope);
    const query = operation.query(scope);
    rules = {
      paramNames: Object.keys(params),
      params: Joi.object(Object.fromEntries(Object.entries(params).map(([name, rule]) => [name, rule.required()]))),
      query: Joi.object(query),
      numeric: new Set(Object.entries(query).filter(([, rule]) => rule.type === 'number').map(([name]) => name)),
    };
    byQuery.set(operation, rules);
  }
  return rules;
}

function queryValues(search: URLSearchParams, numeric: ReadonlySet<string>): { values: Record<string, unknown>; problems: GraphErrorDetail[] } {
  const values: Record<string, unknown> = {};
  const problems: GraphErrorDetail[] = [];
  for (const name of new Set(search.keys())) {
    if (name === functionKeyParameter) continue;
    const given = search.getAll(name);
    if (given.length > 1) {
      problems.push({ code: 'invalidValue', message: `"${name}" is given ${given.length} times; give it once`, target: name });
      continue;
    }
    const value = given[0] ?? '';
    if (value === '') continue;
    values[name] = numeric.has(name) && /^[+-]?\d{1,15}$/.test(value) ? Number(value) : value;
  }
  return { values, problems };
}

export const validateQuery: Stage<QueryContext> = async (context, next) => {
  const rules = rulesOf(context);
  const { request } = context;
  const rawParams = Object.fromEntries(rules.paramNames.map((name) => [name, request.params[name]]));
  const params = validateWith<Record<string, string>>(rules.params, rawParams);
  const query = queryValues(request.query, rules.numeric);
  const checked = validateWith<Record<string, unknown>>(rules.query, query.values);
  const problems = [...params.problems, ...query.problems, ...checked.problems];
  if (problems.length > 0) throw invalidRequest(problems, params.unlisted + checked.unlisted);
  context.input = { params: params.value, query: checked.value };
  return next();
};
