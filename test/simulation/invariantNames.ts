/**
 * The simulation's invariants by name, each recognised by the violations it reports (the names
 * the docs map the README's guarantees to, and the mutant table prints).
 */
export const invariants: { name: string; says: string; pattern: RegExp }[] = [
  { name: 'noCreateFromReconciliation', says: 'reconciliation sends no create to Graph', pattern: /reconciliation sent a create|made by a create reconciliation sent/ },
  { name: 'everyEntityAsked', says: 'every entity in Graph was made by a caller’s request', pattern: /made by no caller's request/ },
  { name: 'makerRecorded', says: 'the request that made an entity has a record of it that does not say failed, and says why when unknown/orphaned/unresolved', pattern: /with no audit record of|which made it, says failed|says (unknown|orphaned|unresolved) without a reason/ },
  { name: 'connectorGroupOrphan', says: 'a connector group is succeeded only if its id reached a caller, else orphaned', pattern: /never reached a caller \(orphaned\)|recorded orphaned, but a caller was answered/ },
  { name: 'recordBelongsToMaker', says: 'every succeeded/orphaned record names an entity in Graph made by its own ask', pattern: /record \S+ (of .* )?says (succeeded|orphaned) for .*(which is not in Graph|made$)/ },
  { name: 'failedMadeNothing', says: 'a failed record’s request made nothing', pattern: /says failed, but that request made/ },
  { name: 'noneLeftPending', says: 'no record is pending once reconciliation has had its turn', pattern: /still pending/ },
  { name: 'unknownOnlyWithoutRead', says: 'a record is left unknown only where Graph has no read (members)', pattern: /is left unknown, though Graph has a read/ },
  { name: 'onePerKey', says: 'at most one entity per Idempotency-Key within its retention, and every success under it names that one', pattern: /Idempotency-Key .*(entities in Graph|successes name different|but the key made)/ },
  { name: 'storedAnswerFinal', says: 'a stored (replayed) keyed answer is final, never a retry later', pattern: /stored answer says retry later/ },
  { name: 'successNamesOwnEntity', says: 'a success names an entity in Graph that this ask made', pattern: /was answered \d+ (without an id|for .*(not in Graph|made$))/ },
  { name: 'ownAskNotAnothers409', says: 'a request whose ask (an earlier request of it) may have made the entity, its attempt still open, is answered with the entity or told the outcome is unknown, never Graph’s 409 as another’s', pattern: /was answered Graph's 409/ },
  { name: 'answeredGraphShaped', says: 'every request not abandoned is answered, Graph-shaped (also after its stalled instance came back, which it must finish); the handler never throws; no promise rejected unheard', pattern: /was never answered|the handler threw|is not Graph-shaped|nobody listening|never finished/ },
  { name: 'retryAfterOn5xx', says: 'every 5xx carries Retry-After (status URL included)', pattern: /without Retry-After/ },
  { name: 'fourxxMadeNothing', says: 'a 4xx other than 409 made nothing, nor did a 503 createInProgress (another attempt of its ask still in flight)', pattern: /was answered (4\d\d|503 createInProgress) .*but made|failed with 4\d\d .*but made/ },
  { name: 'indexNamesMaker', says: 'the entity index points at the record of the ask that made the entity', pattern: /the entity index (of|names)/ },
  { name: 'reapplyCreatesNothing', says: 'applying a manifest again after it succeeded creates nothing and reports every entity exists', pattern: /^re-applying the manifest of/ },
  { name: 'manifestResultAgrees', says: 'an apply’s result per entity agrees with Graph and the audit trail (created ⇒ its own ask made it; exists/differs ⇒ not made by it; failed/notAttempted ⇒ it made nothing; a failure says why)', pattern: /^manifest request \d+ .*(reported |manifest apply answered)/ },
  { name: 'bulkResultAgrees', says: 'a bulk item’s result agrees with its record and with Graph', pattern: /reported \S+ (created|alreadyMember|\w+ \(nothing sent\))|without a result per member/ },
  {
    name: 'jobEnds',
    says: 'every accepted job ends once faults stop; a bulk job’s message is never poisoned; its status URL answers; a schema registration ends (also after its message was poisoned, its status URL followed past the abandon age), succeeded only if Graph completed its operation, failed with a reason',
    pattern: /never ended|poison queue|status URL (was never answered|answered)|job record .* still|registration \S+ ended (failed without a reason|succeeded, but)/,
  },
  { name: 'runsEnd', says: 'a reconciliation run ends, as a request does (every storage call bounded)', pattern: /reconciliation run of step \d+ did not end/ },
  { name: 'crashTakenOnce', says: 'the simulation takes a crash at its one point (a stage boundary, a storage call or a Graph attempt)', pattern: /reached a second crash point/ },
  { name: 'scheduleEnds', says: 'a schedule ends (everything it started is bounded)', pattern: /schedule did not finish/ },
];

/** The invariant a violation breaks (its first match), or `unnamed`. */
export function invariantOf(violation: string): string {
  const text = violation.replace(/^after reconciliation: /, '');
  return invariants.find((invariant) => invariant.pattern.test(text))?.name ?? 'unnamed';
}
