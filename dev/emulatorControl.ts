import Joi from 'joi';

/**
 * The Graph emulator's scripted faults and its request log: what `/_emulator/faults` and
 * `/_emulator/requests` read and write. A fault is checked in full when it is added (unknown
 * fields, statuses, contradictory steps, the path pattern), so a mistake is a 400 with the reason
 * at once, never a create that fails later for a reason nobody sees.
 */

export interface FaultStep {
  /** Answer with this status and a Graph-shaped error (or `body`). */
  status?: number;
  /** With `status`: the `Retry-After` header, e.g. `"2"`, `"0.5"` or an HTTP date. */
  retryAfter?: string;
  /** With `status`: this body instead of Graph's error body. */
  body?: unknown;
  /**
   * With `status`: this text as the body, sent as it is with no content type — empty, or not JSON
   * (Graph's odd successes: a 201 with no entity in it). Not with `body`.
   */
  bodyText?: string;
  /** Wait this long first (alone: a slow but otherwise normal answer). */
  delayMs?: number;
  /** Never answer. */
  hang?: boolean;
  /** Destroy the connection without an answer. */
  reset?: boolean;
  /** Answer with bytes that are not HTTP, then close the connection. */
  garbage?: boolean;
  /**
   * Carry out the request (create the entity) before the fault: with status, hang, reset or
   * garbage, the outcome the caller cannot see; with delayMs alone, a slow answer to a create
   * Graph made at once (delivered as it was carried out, never carried out twice).
   */
  commit?: boolean;
}

export interface FaultRule {
  /** Only requests with this method; default any. */
  method?: string;
  /**
   * A regular expression (JavaScript syntax, at most 200 characters) searched for in the request
   * path, version included: `/groups$` matches every group create, `^/v1\.0/external/connections$`
   * only that one. Compiled once, when the fault is added.
   */
  path: string;
  /**
   * Only requests whose body text holds a match of this regular expression (at most 200
   * characters), e.g. a member's id: one add among the steps of a JSON batch.
   */
  body?: string;
  /**
   * Only requests whose `x-emulator-origin` header (a tag a test gives its requests) equals this:
   * a fault meant for one request is never taken by another that overlaps it.
   */
  origin?: string;
  /** Applied one per matching request, in order; the fault ends when they are used up. */
  steps: FaultStep[];
}

export interface ActiveFault extends FaultRule {
  id: number;
  /** Steps already applied. */
  applied: number;
}

export interface AppliedFault {
  faultId: number;
  step: FaultStep;
}

export interface ReceivedRequest {
  /** Sequence number since the emulator started (or was reset). */
  id: number;
  method: string;
  path: string;
  /** As received, except `authorization`: only the token's JWT header is kept, never the token. */
  headers: Record<string, string>;
  body: unknown;
  receivedAt: string;
  /** The client's port: the same port on two requests means one kept-alive connection. */
  remotePort: number | undefined;
  /** The status answered; `null` while unanswered, or when the connection was reset or left hanging. */
  status: number | null;
  /** The scripted fault step applied to this request, if any. */
  fault: AppliedFault | null;
  /** Set on a step of a JSON batch: the batch's number (1, 2, … in this emulator) and the step's id. */
  batchStep?: { batch: number; id: string };
}

export const maxFaultPathLength = 200;
export const maxFaultSteps = 100;
export const maxDelayMs = 300_000;
/** Requests kept by the log (the last ones); older ones are dropped. */
export const requestLogLimit = 1_000;
/** Request bodies larger than this are recorded by their size only. */
export const maxRecordedBodyBytes = 256 * 1024;

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

const stepSchema = Joi.object<FaultStep>({
  status: Joi.number().integer().min(200).max(599),
  retryAfter: Joi.string().trim().min(1).max(64),
  body: Joi.any(),
  bodyText: Joi.string().allow('').max(10_000),
  delayMs: Joi.number().integer().min(0).max(maxDelayMs),
  hang: Joi.boolean(),
  reset: Joi.boolean(),
  garbage: Joi.boolean(),
  commit: Joi.boolean(),
})
  .with('retryAfter', 'status')
  .with('body', 'status')
  .with('bodyText', 'status')
  .oxor('body', 'bodyText')
  .oxor('status', 'hang', 'reset', 'garbage')
  .or('status', 'delayMs', 'hang', 'reset', 'garbage')
  .custom((step: FaultStep, helpers) =>
    step.commit && step.status === undefined && !step.hang && !step.reset && !step.garbage && step.delayMs === undefined
      ? helpers.error('step.commitAlone')
      : step,
  )
  .messages({
    'step.commitAlone': '{{#label}}: commit needs status, hang, reset, garbage or delayMs (what happens after the create)',
    'object.with': '{{#label}}: {{#mainWithLabel}} needs {{#peerWithLabel}}',
    'object.oxor': '{{#label}}: only one of {{#peersWithLabels}} may be given',
    'object.missing': '{{#label}} does nothing: give it status, delayMs, hang, reset or garbage',
  });

const pattern = (name: string) =>
  Joi.string()
    .min(1)
    .max(maxFaultPathLength)
    .custom((value: string, helpers) => {
      try {
        new RegExp(value);
      } catch (error) {
        return helpers.message({ custom: `"${name}" is not a valid regular expression: ${(error as Error).message}` });
      }
      return value;
    });

const ruleSchema = Joi.object<FaultRule>({
  method: Joi.string().uppercase().valid(...methods),
  path: pattern('path').required(),
  body: pattern('body'),
  origin: Joi.string().min(1).max(200),
  steps: Joi.array().items(stepSchema).min(1).max(maxFaultSteps).required(),
});

export class FaultSpecError extends Error {
  constructor(readonly reasons: string[]) {
    super(`The fault is not valid: ${reasons.join('; ')}.`);
    this.name = 'FaultSpecError';
  }
}

/** The rule as given, checked in full (every reason at once); throws `FaultSpecError`. */
export function validateFaultRule(input: unknown): FaultRule {
  const { value, error } = ruleSchema.validate(input, { abortEarly: false, convert: true });
  if (error) throw new FaultSpecError(error.details.map((detail) => detail.message));
  return value;
}

/** The faults in force, each matched by method and compiled path pattern. */
export class FaultBook {
  #faults: (ActiveFault & { pattern: RegExp; bodyPattern: RegExp | undefined })[] = [];
  #nextId = 1;

  add(input: unknown): ActiveFault {
    const rule = validateFaultRule(input);
    const fault = {
      ...rule,
      steps: rule.steps.map((step) => ({ ...step })),
      id: this.#nextId++,
      applied: 0,
      pattern: new RegExp(rule.path),
      bodyPattern: rule.body === undefined ? undefined : new RegExp(rule.body),
    };
    this.#faults.push(fault);
    return this.#describe(fault);
  }

  /** The next step for a request, consuming it; used-up faults leave the book. */
  next(method: string, path: string, bodyText = '', origin?: string): AppliedFault | undefined {
    for (const fault of this.#faults) {
      if (fault.method && fault.method !== method.toUpperCase()) continue;
      if (fault.origin !== undefined && fault.origin !== origin) continue;
      if (!fault.pattern.test(path)) continue;
      if (fault.bodyPattern && !fault.bodyPattern.test(bodyText)) continue;
      const step = fault.steps[fault.applied];
      if (!step) continue;
      fault.applied += 1;
      if (fault.applied >= fault.steps.length) this.#faults = this.#faults.filter((other) => other !== fault);
      return { faultId: fault.id, step };
    }
    return undefined;
  }

  /** Faults with steps left, with how many have been applied. */
  list(): ActiveFault[] {
    return this.#faults.map((fault) => this.#describe(fault));
  }

  remove(id: number): boolean {
    const before = this.#faults.length;
    this.#faults = this.#faults.filter((fault) => fault.id !== id);
    return this.#faults.length < before;
  }

  clear(): void {
    this.#faults = [];
  }

  #describe(fault: ActiveFault): ActiveFault {
    return {
      id: fault.id,
      ...(fault.method ? { method: fault.method } : {}),
      path: fault.path,
      ...(fault.body === undefined ? {} : { body: fault.body }),
      steps: fault.steps.map((step) => ({ ...step })),
      applied: fault.applied,
    };
  }
}

/** `Bearer <jwt>` → `Bearer <its JWT header>.[redacted]`: says what kind of token came, never the token. */
export function redactAuthorization(value: string): string {
  const match = /^(\S+)\s+(.*)$/.exec(value.trim());
  if (!match) return '[redacted]';
  const [, scheme, credentials = ''] = match;
  const jwtHeader = /^([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.exec(credentials)?.[1];
  return `${scheme} ${jwtHeader ? `${jwtHeader}.[redacted]` : '[redacted]'}`;
}

/** The last `limit` requests received, oldest first. */
export class RequestLog {
  readonly #entries: ReceivedRequest[] = [];
  #received = 0;

  constructor(readonly limit: number = requestLogLimit) {}

  record(entry: Omit<ReceivedRequest, 'id' | 'status' | 'fault' | 'headers' | 'body'> & { headers: Record<string, string>; bodyText: string }): ReceivedRequest {
    const { bodyText, headers, ...rest } = entry;
    const recorded: ReceivedRequest = {
      id: ++this.#received,
      ...rest,
      headers: Object.fromEntries(
        Object.entries(headers).map(([name, value]) => [name, name.toLowerCase() === 'authorization' ? redactAuthorization(value) : value]),
      ),
      body: recordedBody(bodyText),
      status: null,
      fault: null,
    };
    this.#entries.push(recorded);
    if (this.#entries.length > this.limit) this.#entries.splice(0, this.#entries.length - this.limit);
    return recorded;
  }

  get entries(): readonly ReceivedRequest[] {
    return this.#entries;
  }

  /** Every request received, including those the log no longer holds. */
  get received(): number {
    return this.#received;
  }

  clear(): void {
    this.#entries.length = 0;
    this.#received = 0;
  }
}

function recordedBody(text: string): unknown {
  if (!text) return undefined;
  if (Buffer.byteLength(text) > maxRecordedBodyBytes) return `[${Buffer.byteLength(text)} bytes, not kept]`;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
