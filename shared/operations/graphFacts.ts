/**
 * What Microsoft Graph does with one create, declared beside the operation (its function file),
 * so that every part that needs a Graph fact reads it from there: the emulator's create rules and
 * routes (dev/graphEmulator.ts), the permission the app's identity is granted and the app role
 * callers are given (shared/auth/roles.json, generated), the documented examples the
 * tests create, the tables of docs/operations.md (generated), and the answer that means "it exists
 * already" to the lost-answer rules.
 */

/** Graph's refusal of a request, as the emulator answers it: status, error code and message. */
export class GraphRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphRefusal';
  }
}

/** The checks Graph's create pages document, for the emulator's create rules. */
export const graphChecks = {
  /** A non-empty string, matching `rule` when given; Graph's 400 otherwise. */
  requireString(body: Record<string, unknown>, property: string, rule?: RegExp): string {
    const value = body[property];
    if (typeof value !== 'string' || value.length === 0) throw new GraphRefusal(400, 'invalidRequest', `The property '${property}' is required.`);
    if (rule && !rule.test(value)) throw new GraphRefusal(400, 'invalidRequest', `The value of '${property}' is invalid.`);
    return value;
  },
  /** Properties Graph sets itself: sending one is a 400. */
  rejectReadOnly(body: Record<string, unknown>, ...properties: string[]): void {
    for (const property of properties) {
      if (property in body) throw new GraphRefusal(400, 'invalidRequest', `The property '${property}' is read-only.`);
    }
  },
};

/** What a create is told about the request besides its body. */
export interface CreateContext {
  /** The calling app's id, from its token, when the token names one. */
  appId?: string;
  /** An id as Graph generates them (a GUID). */
  newId(): string;
}

/**
 * A request example of Graph's documentation (current or older, docs/graph-facts.md §9), as
 * documented and made concrete (placeholders replaced by real values, an id added where Graph now
 * requires one), and what Graph receives once the facade has checked and translated it.
 */
export interface DocumentedExample {
  key: string;
  /** What the example is, for test names. */
  name: string;
  /** The path of the example request below the version (an older alias route included). */
  path: string;
  version: string;
  asDocumented: Record<string, unknown>;
  concrete: Record<string, unknown>;
  /** The body Graph receives for `concrete`. */
  sentToGraph: Record<string, unknown>;
}

/** How Graph answers a create of something that exists already (the same id, the same member). */
export interface DuplicateAnswer {
  /** 409 for most APIs; some answer 400 and say so by `code` alone. */
  status: number;
  /** Graph's error code: `nameAlreadyExists`, `Conflict`. */
  code: string;
}

export interface GraphFacts {
  /** How Graph names one entity in its messages: `connection`, `group`. */
  noun: string;
  /** What the emulator counts them as (`entityCounts()`), and the docs call them: `connections`. */
  collectionName: string;
  /** Where the facts and their sources are written down: a section of docs/graph-facts.md (`§2`). */
  factsSection: string;
  /** The application permissions (least privileged) the app's identity needs for the create. */
  permissions: {
    names: readonly string[];
    /**
     * Granted only when the admin asks for this group (infra/graph-permissions/main.bicep,
     * `enabledPermissionGroups`); default: always, for every deployment.
     */
    grantedWith?: string;
  };
  /** The caller-facing app role of the operation (its `role`), as the app registration shows it. */
  appRole: { displayName: string; description: string };
  /** Graph's answer when the entity exists already. */
  duplicate: DuplicateAnswer;
  /** Properties Graph fills in or completes on create (dotted paths), for the docs table. */
  generatedFields: readonly string[];
  /** Graph compares ids without regard to case (connection ids). */
  idsIgnoreCase?: boolean;
  /**
   * Graph's create rules, as the emulator applies them: what it refuses (throw `GraphRefusal`) and
   * what it stores and answers for a body (generated fields included).
   */
  accept(body: Record<string, unknown>, context: CreateContext): Record<string, unknown>;
  /** Graph's message for a duplicate of `id`. */
  duplicateMessage(id: string): string;
  /** The request examples of Graph's documentation, in the order a test can create them. */
  examples: readonly DocumentedExample[];
  /**
   * How the one-line description of the service lists these entities, after the previous
   * operation's: `external connections`; `and their members` joins the previous phrase.
   */
  listedAs: string;
}

/** The document description's list of entities: `a, b and their c, and d`. */
export function entityListOf(phrases: readonly string[]): string {
  const joined: string[] = [];
  for (const phrase of phrases) {
    if (phrase.startsWith('and ') && joined.length > 0) joined[joined.length - 1] += ` ${phrase}`;
    else joined.push(phrase);
  }
  if (joined.length <= 1) return joined.join('');
  return `${joined.slice(0, -1).join(', ')}, and ${joined.at(-1)}`;
}
