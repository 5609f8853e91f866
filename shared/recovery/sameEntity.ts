/**
 * Lists Graph fills in on its own: what was sent must be there, and Graph may add to it. A
 * connection's `configuration.authorizedAppIds` gains the creating app (docs/graph-facts.md §1).
 */
const listsGraphExtends = new Set(['configuration.authorizedAppIds']);

/**
 * Does the entity Graph holds carry what was sent? Every property sent is there with the same
 * value; Graph adds its own (`state`, `@odata.context`, ids it fills in), which do not count. Lists
 * of plain values are compared as sets (Graph need not keep their order), lists of objects in order.
 */
export function holdsWhatWasSent(sent: unknown, held: unknown, path = ''): boolean {
  if (Array.isArray(sent)) {
    if (!Array.isArray(held)) return false;
    if (sent.every((item) => typeof item !== 'object' || item === null)) {
      if (!listsGraphExtends.has(path) && sent.length !== held.length) return false;
      const remaining = [...held];
      return sent.every((item) => {
        const index = remaining.indexOf(item);
        if (index < 0) return false;
        remaining.splice(index, 1);
        return true;
      });
    }
    return sent.length === held.length && sent.every((item, index) => holdsWhatWasSent(item, held[index], path));
  }
  if (typeof sent === 'object' && sent !== null) {
    if (typeof held !== 'object' || held === null) return false;
    return Object.entries(sent).every(([key, value]) =>
      holdsWhatWasSent(value, (held as Record<string, unknown>)[key], path ? `${path}.${key}` : key),
    );
  }
  return sent === held;
}

/** A body with its id in lower case (the rest as it is). */
const idCaseFolded = (value: unknown): unknown => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { id } = value as { id?: unknown };
  return typeof id === 'string' ? { ...value, id: id.toLowerCase() } : value;
};

/**
 * What an entity read back says of a body that was sent: it `holds` it; it holds it only with the
 * id's letter case apart (`possibly`: an id spelled another way, which Graph may count as the same
 * one — docs/graph-facts.md §10 — so nobody can tell); or it does `not`.
 */
export function comparedWithSent(sent: unknown, held: unknown): 'holds' | 'possibly' | 'not' {
  if (holdsWhatWasSent(sent, held)) return 'holds';
  return holdsWhatWasSent(idCaseFolded(sent), idCaseFolded(held)) ? 'possibly' : 'not';
}
