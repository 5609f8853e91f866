import type { AuditKey } from '../audit/auditRecord';
import type { Runtime } from '../runtime';
import { asyncWorkQueueName } from './queue';
import { isStatus } from './table';

/**
 * The lease of a queued job (a bulk request, a manifest apply): its record holds who runs it
 * (`leaseOwner`) until when (`leaseUntil`), every write conditional on the record's etag. A write
 * whose answer was lost may still have landed and moved the etag, so a 412 alone never says that
 * another run took the job: the row says who holds it. A job whose run stops is queued again unless
 * it is finished or another run holds a live lease, so a job never waits on a run that does not
 * exist; one nobody has held for long is queued again when its status is read.
 */

/** What a job's record says of its lease. */
export interface LeasedJob {
  status: string;
  leaseUntil: Date | string;
  leaseOwner?: string;
  requestedAt: Date | string;
  resumedAt?: Date | string;
}

/** Who holds a job now: this run (with the row's etag), a run whose lease is still running, nobody (the lease ran out), or nobody any more. */
export type JobHolder =
  | { kind: 'ours'; etag: string }
  | { kind: 'anotherRun'; leaseUntil: number }
  | { kind: 'nobody' }
  | { kind: 'finished' };

/** The states in which a job has nothing left to do. */
const finishedStatuses: ReadonlySet<string> = new Set(['completed', 'failed']);

export function jobHolderFrom(row: (LeasedJob & { etag: string }) | undefined, runId: string, now: number): JobHolder {
  if (!row || finishedStatuses.has(row.status)) return { kind: 'finished' };
  if (row.leaseOwner === runId) return { kind: 'ours', etag: row.etag };
  const leaseUntil = new Date(row.leaseUntil).getTime();
  return leaseUntil > now ? { kind: 'anotherRun', leaseUntil } : { kind: 'nobody' };
}

export async function jobHolderOf(runtime: Runtime, key: AuditKey, runId: string): Promise<JobHolder> {
  return jobHolderFrom(await runtime.audit.getRow<LeasedJob & AuditKey>(key), runId, runtime.clock.now());
}

/** The job's message again, after `delayMs` (the queue's visibility delay is at most an hour). */
export async function requeueJob(runtime: Runtime, message: object, delayMs: number): Promise<void> {
  await runtime.queues.send(asyncWorkQueueName, message, { visibilityDelaySeconds: Math.min(3_600, Math.max(0, Math.ceil(delayMs / 1_000))) });
}

export type JobLogger = (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;

/**
 * A run stops holding its job: its queue message is deleted (the function returns) only when the
 * job is finished or another run holds a live lease on it; otherwise the job is queued again, once
 * this run's lease (if it is still the holder) has ended. A row that cannot be read throws: the
 * message comes back.
 */
export async function leaveJob(runtime: Runtime, key: AuditKey, runId: string, message: object, leaseMs: number, what: string, log: JobLogger): Promise<void> {
  const holder = await jobHolderOf(runtime, key, runId);
  if (holder.kind === 'finished') return;
  if (holder.kind === 'anotherRun') {
    log('warn', `${what} lease lost to another run; it carries on`, { id: key.rowKey });
    return;
  }
  log('warn', `${what} stopped without another run holding it; queued again`, { id: key.rowKey });
  await requeueJob(runtime, message, holder.kind === 'ours' ? leaseMs : 0);
}

/**
 * Writes of one run to its job's record, one after another, each conditional on the etag the last
 * left: lease renewals and checkpoints alike. A 412 is looked up in the row: while the lease is still
 * this run's (its own unconfirmed write moved the etag) the write is tried again on the row's etag;
 * once another run holds the job, or it is finished, the run has `lost` it and writes nothing more.
 */
export class JobWriter {
  private queue: Promise<unknown> = Promise.resolve();
  lost = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly key: AuditKey,
    private readonly runId: string,
    public etag: string,
  ) {}

  /** Merges `changes` after the writes before it; throws when the job is lost or storage fails. */
  write(changes: Record<string, unknown> | (() => Record<string, unknown>)): Promise<void> {
    const written = this.queue.then(() => this.mergeHeld(typeof changes === 'function' ? changes() : changes));
    this.queue = written.catch(() => undefined);
    return written;
  }

  /** Waits for the writes under way. */
  async settled(): Promise<void> {
    await this.queue;
  }

  private async mergeHeld(changes: Record<string, unknown>): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (this.lost) throw new Error('the job’s lease was lost to another run');
      try {
        this.etag = await this.runtime.audit.mergeRow(this.key, changes, this.etag);
        return;
      } catch (error) {
        if (!isStatus(error, 412)) throw error;
        const holder = await jobHolderOf(this.runtime, this.key, this.runId);
        if (holder.kind !== 'ours') {
          this.lost = true;
          throw error;
        }
        this.etag = holder.etag;
      }
    }
    throw new Error('the job’s record kept changing under its own run');
  }
}

/**
 * A job nobody has held for this long (no live lease, no run started, no resume queued) is queued
 * again when its status is read: its message may be gone for good (moved to the poison queue while
 * storage was down). A second message is harmless: a run that finds the job held or finished does nothing.
 */
export const abandonedAfterMs = 5 * 60_000;

/** Not finished, and not held or queued for `abandonedAfterMs`: the last sign of life is its lease's end, its acceptance or its last resume. */
export function isAbandoned(record: LeasedJob, now: number): boolean {
  if (record.status !== 'accepted' && record.status !== 'running') return false;
  const lastSignOfLife = Math.max(new Date(record.leaseUntil).getTime(), new Date(record.requestedAt).getTime(), record.resumedAt ? new Date(record.resumedAt).getTime() : 0);
  return now - lastSignOfLife >= abandonedAfterMs;
}

/**
 * Queues a job again when no run has held it for `abandonedAfterMs`, once per such stretch
 * (conditional on the record as read, so concurrent polls send one message). Best effort: the
 * poll's answer does not depend on it. True when a message was sent.
 */
export async function resumeIfAbandoned(runtime: Runtime, record: LeasedJob & AuditKey & { etag: string }, message: object): Promise<boolean> {
  const now = runtime.clock.now();
  if (!runtime.queues.configured || !isAbandoned(record, now)) return false;
  try {
    await runtime.audit.mergeRow({ partitionKey: record.partitionKey, rowKey: record.rowKey }, { resumedAt: new Date(now) }, record.etag);
    await runtime.queues.send(asyncWorkQueueName, message);
    return true;
  } catch {
    // Another poll resumed it just now (412), or storage is failing: the next poll tries again.
    return false;
  }
}
