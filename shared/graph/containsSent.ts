/**
 * Every property we sent is in what Graph holds (Graph adds its own, such as `state`). Arrays of
 * plain values are compared as sets: Graph need not keep their order.
 */
export function containsSent(sent: unknown, held: unknown): boolean {
  if (Array.isArray(sent)) {
    if (!Array.isArray(held) || sent.length !== held.length) return false;
    if (sent.every((item) => typeof item !== 'object' || item === null)) {
      const remaining = [...held];
      return sent.every((item) => {
        const index = remaining.indexOf(item);
        if (index < 0) return false;
        remaining.splice(index, 1);
        return true;
      });
    }
    return sent.every((item, index) => containsSent(item, held[index]));
  }
  if (typeof sent === 'object' && sent !== null) {
    if (typeof held !== 'object' || held === null) return false;
    return Object.entries(sent).every(([key, value]) => containsSent(value, (held as Record<string, unknown>)[key]));
  }
  return sent === held;
}
