/**
 * Microsoft Graph JSON batching for the local Graph emulator (`POST /{version}/$batch`,
 * concepts/json-batching.md): the envelope's rules live here; each step is carried out by the
 * emulator as if it had come as a request of its own (its Graph logic and its fault rules).
 *
 * - At most 20 steps; a step is `{ id, method, url, headers?, body?, dependsOn? }` with a relative
 *   `url` (`/external/connections/c/groups/g/members`) below the batch's version. A malformed
 *   batch (not an object with a `requests` array, more than 20 steps, a duplicate or missing id, a
 *   missing method or url, an absolute url or a nested `$batch`, `dependsOn` naming an unknown step
 *   or making a cycle) is refused whole with 400.
 * - A step with a body must carry its own `Content-Type` header: without it that step alone
 *   answers 400, as Graph does.
 * - `dependsOn` orders steps: a step runs once the steps it names have answered, and answers 424
 *   (Failed Dependency) without running when one of them did not succeed (2xx). Steps without
 *   dependencies run concurrently.
 * - The answer is `200 { responses: [ { id, status, headers, body } ] }` in an order that differs
 *   from the request's (a deterministic shuffle): clients must match responses by `id`.
 * - One step cannot hang or reset alone: the batch travels on one HTTP exchange, so a step whose
 *   fault is `hang` makes the whole batch hang and `reset` resets the whole connection (after the
 *   other steps ran).
 */

/** Graph's answer to one request, direct or a batch step. */
export type GraphOutcome =
  /** `rawText`: the body exactly as sent (an odd success, dev/emulatorControl.ts `rawBody`), not `body` as JSON. */
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: unknown; rawText?: string }
  /** No answer at all: the connection stays open. */
  | { kind: 'hang' }
  /** The connection is destroyed without an answer. */
  | { kind: 'reset' }
  /** Bytes that are not HTTP, then the connection is closed. */
  | { kind: 'garbage' };

export interface BatchStep {
  id: string;
  method: string;
  /** The step's url as sent, relative to the version: `/external/connections/c/groups`. */
  url: string;
  /** The path Graph serves it at, version included: `/v1.0/external/connections/c/groups`. */
  path: string;
  query: URLSearchParams;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The step's `body`, when it has one. */
  body: unknown;
  hasBody: boolean;
  dependsOn: string[];
}

export interface BatchStepResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** Graph's documented limit of steps in one batch. */
export const maxBatchSteps = 20;

export class MalformedBatch extends Error {}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads and checks a batch body; throws `MalformedBatch` (→ 400 for the whole batch). */
export function parseBatch(version: string, payload: unknown): BatchStep[] {
  if (!isObject(payload) || !Array.isArray(payload.requests)) {
    throw new MalformedBatch('Invalid batch payload format: expected an object with a "requests" array.');
  }
  const requests: unknown[] = payload.requests;
  if (requests.length === 0) throw new MalformedBatch('The batch contains no requests.');
  if (requests.length > maxBatchSteps) {
    throw new MalformedBatch(`Number of batch requests ${requests.length} exceeds the limit of ${maxBatchSteps}.`);
  }
  const steps = requests.map((request, index): BatchStep => {
    if (!isObject(request)) throw new MalformedBatch(`Batch request ${index} is not an object.`);
    const { id, method, url, headers = {}, dependsOn = [] } = request;
    if (typeof id !== 'string' || id === '') throw new MalformedBatch(`Batch request ${index} has no id.`);
    if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) throw new MalformedBatch(`Batch request '${id}' has no valid method.`);
    if (typeof url !== 'string' || url === '') throw new MalformedBatch(`Batch request '${id}' has no url.`);
    if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) {
      throw new MalformedBatch(`Batch request '${id}': the url must be relative, e.g. "/external/connections".`);
    }
    if (!isObject(headers) || Object.values(headers).some((value) => typeof value !== 'string')) {
      throw new MalformedBatch(`Batch request '${id}': headers must be an object of strings.`);
    }
    if (!Array.isArray(dependsOn) || dependsOn.some((name) => typeof name !== 'string')) {
      throw new MalformedBatch(`Batch request '${id}': dependsOn must be an array of request ids.`);
    }
    const relative = new URL(url.startsWith('/') ? url : `/${url}`, 'http://graph.invalid');
    if (/^\/\$batch\/?$/i.test(relative.pathname)) throw new MalformedBatch(`Batch request '${id}': batches cannot be nested.`);
    return {
      id,
      method: method.toUpperCase(),
      url,
      path: `/${version}${relative.pathname}`,
      query: relative.searchParams,
      headers: Object.fromEntries(Object.entries(headers as Record<string, string>).map(([name, value]) => [name.toLowerCase(), value])),
      body: request.body,
      hasBody: request.body !== undefined && request.body !== null,
      dependsOn: dependsOn as string[],
    };
  });

  const byId = new Map<string, BatchStep>();
  for (const step of steps) {
    if (byId.has(step.id)) throw new MalformedBatch(`Batch request id '${step.id}' is not unique.`);
    byId.set(step.id, step);
  }
  for (const step of steps) {
    for (const name of step.dependsOn) {
      if (!byId.has(name)) throw new MalformedBatch(`Batch request '${step.id}' depends on '${name}', which is not in the batch.`);
    }
  }
  // dependsOn must not loop back on itself (a step waiting for itself would never answer).
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (step: BatchStep): void => {
    if (state.get(step.id) === 'done') return;
    if (state.get(step.id) === 'visiting') throw new MalformedBatch(`Batch request '${step.id}' is part of a dependsOn cycle.`);
    state.set(step.id, 'visiting');
    for (const name of step.dependsOn) visit(byId.get(name)!);
    state.set(step.id, 'done');
  };
  steps.forEach(visit);
  return steps;
}

export interface RunBatchOptions {
  /** Carries one step out as Graph would a direct request (its Graph logic and fault rules). */
  runStep(step: BatchStep): Promise<GraphOutcome>;
  /** Graph's error body for a step the batch answers itself (400, 424). */
  errorBody(status: number, code: string, message: string, step: BatchStep): unknown;
  /** Seeds the shuffle of the responses, so a run is reproducible. */
  seed: number;
}

const succeeded = (outcome: GraphOutcome) => outcome.kind === 'answer' && outcome.status >= 200 && outcome.status < 300;

/** Runs the steps (in `dependsOn` order) and answers the batch: 200 with every step's response. */
export async function runBatch(steps: readonly BatchStep[], options: RunBatchOptions): Promise<GraphOutcome> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const outcomes = new Map<string, Promise<GraphOutcome>>();
  const outcomeOf = (step: BatchStep): Promise<GraphOutcome> => {
    let outcome = outcomes.get(step.id);
    if (!outcome) {
      outcome = (async (): Promise<GraphOutcome> => {
        const dependencies = await Promise.all(step.dependsOn.map((name) => outcomeOf(byId.get(name)!)));
        const failed = step.dependsOn.find((_name, index) => !succeeded(dependencies[index]!));
        if (failed !== undefined) {
          return stepError(424, 'FailedDependency', `The request depends on '${failed}', which failed.`, step, options);
        }
        if (step.hasBody && !step.headers['content-type']) {
          return stepError(400, 'BadRequest', `Write request id : ${step.id} does not contain Content-Type header or body.`, step, options);
        }
        return options.runStep(step);
      })();
      outcomes.set(step.id, outcome);
    }
    return outcome;
  };
  const settled = await Promise.all(steps.map(outcomeOf));
  if (settled.some((outcome) => outcome.kind === 'hang')) return { kind: 'hang' };
  if (settled.some((outcome) => outcome.kind === 'reset')) return { kind: 'reset' };
  if (settled.some((outcome) => outcome.kind === 'garbage')) return { kind: 'garbage' };

  const responses: BatchStepResponse[] = steps.map((step, index) => {
    const outcome = settled[index] as Extract<GraphOutcome, { kind: 'answer' }>;
    return {
      id: step.id,
      status: outcome.status,
      headers: stepHeaders(outcome),
      ...(outcome.body === undefined ? {} : { body: outcome.body }),
    };
  });
  return { kind: 'answer', status: 200, headers: {}, body: { responses: shuffled(responses, options.seed) } };
}

function stepError(status: number, code: string, message: string, step: BatchStep, options: RunBatchOptions): GraphOutcome {
  return { kind: 'answer', status, headers: {}, body: options.errorBody(status, code, message, step) };
}

/** A step's response headers as Graph writes them (`Content-Type`, `Retry-After`, …). */
function stepHeaders(outcome: Extract<GraphOutcome, { kind: 'answer' }>): Record<string, string> {
  const headers: Record<string, string> = {};
  if (outcome.body !== undefined) headers['Content-Type'] = 'application/json';
  for (const [name, value] of Object.entries(outcome.headers)) {
    headers[name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase())] = value;
  }
  return headers;
}

/**
 * The responses in a seeded pseudo-random order that is never the request order (for two or
 * more): Graph answers in any order, and a client that matched by position would only work by
 * luck.
 */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const result = [...items];
  let state = seed >>> 0 || 1;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  for (let index = result.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  if (result.length > 1 && result.every((item, index) => item === items[index])) result.push(result.shift()!);
  return result;
}
