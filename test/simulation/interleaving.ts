/**
 * The order in which a schedule's storage and Graph calls completed, recorded as it runs, and
 * enforced when a failure is replayed: each call is held until every call the recording has before
 * it has completed, so the interleaving that broke a guarantee (a settlement landing between two
 * reads of another request, say) happens again. A call is named by its origin (the request, job
 * run or reconciliation run), its kind and its number among that origin's calls of the kind, which
 * a replay of the same schedule gives it again. A call the recording does not have, or one whose
 * predecessors never come (the replay took another path), waits at most `patienceMs`.
 * A job run's origin carries its job's id (`job 5 <id>`), which the facade makes afresh in every
 * run: calls are matched by the job's order of first appearance instead (`job 5 <job 1>`), in the
 * recording and in the replay alike, so a replay follows the recording through job runs too.
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

  /** The recording, its job ids replaced by their order of first appearance. */
  private readonly replay?: readonly string[];
  /** This run's job ids, in order of first appearance. */
  private readonly liveJobs: string[] = [];

  constructor(
    replay?: readonly string[],
    private readonly patienceMs = 1_000,
  ) {
    if (replay) {
      const recordedJobs: string[] = [];
      this.replay = replay.map((name) => withJobOrdinal(name, recordedJobs));
    }
    this.position = new Map((this.replay ?? []).map((id, index) => [id, index]));
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
    const matched = withJobOrdinal(name, this.liveJobs);
    await this.turn(matched);
    try {
      return await work();
    } finally {
      this.completed.push(name);
      this.done.add(matched);
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

/** A call's name with its job id (if any) replaced by that job's order of first appearance in `seen`. */
function withJobOrdinal(name: string, seen: string[]): string {
  return name.replace(/^(job \d+) ([^|]+)\|/, (_whole, run: string, jobId: string) => {
    if (!seen.includes(jobId)) seen.push(jobId);
    return `${run} <job ${seen.indexOf(jobId) + 1}>|`;
  });
}
