/**
 * The order in which a schedule's storage and Graph calls completed, recorded as it runs, and
 * enforced when a failure is replayed: each call is held until every call the recording has before
 * it has completed, so the interleaving that broke a guarantee (a settlement landing between two
 * reads of another request, say) happens again. A call is named by its origin (the request, job
 * run or reconciliation run), its kind and its number among that origin's calls of the kind, which
 * a replay of the same schedule gives it again. A call the recording does not have, or one whose
 * predecessors never come (the replay took another path), waits at most `patienceMs`.
 */
export class Interleaving {
  /** Calls in the order they completed. */
  readonly completed: string[] = [];
  private readonly counters = new Map<string, number>();
  private readonly done = new Set<string>();
  private readonly waiting = new Set<() => void>();
  private readonly position: Map<string, number>;
  /** Calls held past their patience: the replay did not follow the recording there. */
  diverged = 0;

  constructor(
    private readonly replay?: readonly string[],
    private readonly patienceMs = 1_000,
  ) {
    this.position = new Map((replay ?? []).map((id, index) => [id, index]));
  }

  /** The next call's name for an origin and kind. */
  nameOf(origin: string, kind: string): string {
    const key = `${origin}|${kind}`;
    const number = this.counters.get(key) ?? 0;
    this.counters.set(key, number + 1);
    return `${key}#${number}`;
  }

  /** Runs one call in its turn (when replaying), and notes its completion. */
  async call<T>(name: string, work: () => Promise<T>): Promise<T> {
    await this.turn(name);
    try {
      return await work();
    } finally {
      this.completed.push(name);
      this.done.add(name);
      for (const wake of [...this.waiting]) wake();
    }
  }

  private ready(name: string): boolean {
    const at = this.position.get(name);
    if (at === undefined || !this.replay) return true;
    for (let index = 0; index < at; index += 1) if (!this.done.has(this.replay[index]!)) return false;
    return true;
  }

  private async turn(name: string): Promise<void> {
    if (!this.replay || this.ready(name)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.diverged += 1;
        finish();
      }, this.patienceMs);
      const check = () => {
        if (this.ready(name)) finish();
      };
      const finish = () => {
        clearTimeout(timer);
        this.waiting.delete(check);
        resolve();
      };
      this.waiting.add(check);
    });
  }
}
