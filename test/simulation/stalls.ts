/**
 * What happens to a request (or a job run) whose instance stops at its crash point, as named
 * states with short transitions:
 * - `armed`: the crash point is not reached yet;
 * - `frozen`: reached; the caller sees nothing more (the instance died or stalled);
 * - `resumed`: a stall that resumes comes back when the schedule's clock next moves; its work must
 *   then end within a bound, as any request's does;
 * - `deadForGood`: it does not resume, or no time passed after it froze before the schedule's steps
 *   ended: the instance never came back, and the request is judged as abandoned.
 * A crash is one point: reaching a second one is a defect of the simulation, and throws.
 */
export type StallState = 'armed' | 'frozen' | 'resumed' | 'deadForGood';

/** How a resumed work ended: within its bound, or not. */
export type ResumedEnd = 'finished' | 'stuck';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class Stall {
  state: StallState = 'armed';
  /** A second crash point was reached (a defect of the simulation, reported as a violation). */
  secondPoint = false;
  /** When it resumed (real time), and how long its work may take from then. */
  private resumedAt = 0;
  private withinMs = 0;
  private release: (() => void) | undefined;
  private work: Promise<unknown> = Promise.resolve();
  private cameBack!: () => void;

  /** Resolves when the stall resumes (never, if it does not). */
  readonly resumed = new Promise<void>((resolve) => {
    this.cameBack = resolve;
  });

  constructor(
    readonly origin: string,
    readonly resumes: boolean,
  ) {}

  /** The work the stall holds (what a resume lets go on), known once it has started. */
  holds(work: Promise<unknown>): void {
    this.work = work;
  }

  /** At the crash point: resolves only when (and if) the stall resumes. */
  freeze(): Promise<void> {
    if (this.state !== 'armed') {
      this.secondPoint = true;
      throw new Error(`${this.origin} reached a second crash point (${this.state}): a crash is one point`);
    }
    this.state = 'frozen';
    return new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }

  /** Time passed: a frozen stall that resumes comes back; its work must end within `withinMs`. */
  resume(withinMs: number): boolean {
    if (this.state !== 'frozen' || !this.resumes) return false;
    this.state = 'resumed';
    this.resumedAt = Date.now();
    this.withinMs = withinMs;
    this.release?.();
    this.cameBack();
    return true;
  }

  /** How the resumed work ended: within its bound from the resume, or not (read when the schedule's steps are over). */
  ended(): Promise<ResumedEnd> {
    return Promise.race([
      this.work.then(
        () => 'finished' as const,
        () => 'finished' as const,
      ),
      sleep(Math.max(0, this.resumedAt + this.withinMs - Date.now())).then(() => 'stuck' as const),
    ]);
  }

  /** The schedule's steps are over: a stall still frozen never comes back. */
  abandon(): void {
    if (this.state === 'frozen') this.state = 'deadForGood';
  }
}

/** Every stall of one schedule. */
export class Stalls {
  private readonly all: Stall[] = [];

  add(origin: string, resumes: boolean): Stall {
    const stall = new Stall(origin, resumes);
    this.all.push(stall);
    return stall;
  }

  /** The schedule's clock moved: every frozen stall that resumes comes back. */
  timePassed(withinMs: number): Stall[] {
    return this.all.filter((stall) => stall.resume(withinMs));
  }

  /**
   * The schedule's steps are over: stalls still frozen are dead for good; waits for every resumed
   * work to end (each within its bound) and names what went wrong: a resumed work that did not
   * end, a crash taken at two points.
   */
  async settle(): Promise<string[]> {
    for (const stall of this.all) stall.abandon();
    const resumed = this.all.filter((stall) => stall.state === 'resumed');
    const ends = await Promise.all(resumed.map((stall) => stall.ended()));
    return [
      ...resumed.filter((_stall, index) => ends[index] === 'stuck').map((stall) => `${stall.origin} resumed after its instance stalled and never finished`),
      ...this.all.filter((stall) => stall.secondPoint).map((stall) => `${stall.origin} reached a second crash point: the simulation took one crash twice`),
    ];
  }
}
