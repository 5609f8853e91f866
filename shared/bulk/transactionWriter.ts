import type { TransactionAction } from '@azure/data-tables';
import type { AuditStore, Settlement } from '../audit/auditStore';
import { writeSettling } from '../audit/settlement';
import { isStatus } from '../storage/table';

/** Table Storage's limit of actions in one entity group transaction. */
export const maxTransactionActions = 100;

/**
 * Transactions of one request out at once: two keep the table busy while the next is prepared
 * (measured on Azurite: 40 transactions of 100 actions in 0.9–1.6 s two at a time, 1.6–2.0 s one
 * at a time), well under a partition's 2,000 entities a second in Azure.
 */
export const parallelTransactions = 2;

const isConflict = (error: unknown) => isStatus(error, 409) || isStatus(error, 412) || isStatus(error, 404);

interface Unit {
  settlement: Settlement;
  actions: TransactionAction[];
}

/**
 * Writes the settlements of many creates of one partition as few entity group transactions as
 * it can: each settlement whole (its record, attempt row, index row and the earlier records it
 * settles), as many as fit in 100 actions, a couple of transactions at a time, while the work goes on.
 * A transaction whose conditional part no longer holds (someone else settled an earlier record,
 * the index row exists) fails whole: its settlements are then written one by one
 * (`AuditStore.settle`, which writes what still holds). A store that keeps failing leaves the
 * records `pending`, for reconciliation or a later request (the answer to the caller stands).
 */
export class SettlementWriter {
  private readonly units: Unit[] = [];
  private queued = 0;
  private readonly writing = new Set<Promise<void>>();
  private closing = false;

  constructor(
    private readonly audit: AuditStore,
    private readonly now: () => Date,
    private readonly onFailure: (reason: string, settlements: number) => void,
  ) {}

  add(settlement: Settlement): void {
    const actions = this.audit.settlementActions(settlement, this.now());
    this.units.push({ settlement, actions });
    this.queued += actions.length;
    this.pump();
  }

  /** Writes what is left; resolves when every settlement added has been written (or given up). */
  async close(): Promise<void> {
    this.closing = true;
    this.pump();
    while (this.writing.size > 0) await Promise.all([...this.writing]);
  }

  /** Starts full transactions (any, once closing) while fewer than `parallelTransactions` are out. */
  private pump(): void {
    while (this.writing.size < parallelTransactions && this.units.length > 0 && (this.closing || this.queued >= maxTransactionActions)) {
      const batch: Unit[] = [];
      let size = 0;
      while (this.units.length > 0 && (batch.length === 0 || size + this.units[0]!.actions.length <= maxTransactionActions)) {
        const unit = this.units.shift()!;
        batch.push(unit);
        size += unit.actions.length;
      }
      this.queued -= size;
      const written: Promise<void> = this.submit(batch).finally(() => {
        this.writing.delete(written);
        this.pump();
      });
      this.writing.add(written);
    }
  }

  private async submit(batch: Unit[]): Promise<void> {
    if (batch.length === 1 || batch.reduce((size, unit) => size + unit.actions.length, 0) > maxTransactionActions) {
      await this.oneByOne(batch);
      return;
    }
    try {
      await writeSettling(() => this.audit.submit(batch.flatMap((unit) => unit.actions)), isConflict);
      return;
    } catch (error) {
      if (!isConflict(error)) {
        this.onFailure(error instanceof Error ? error.message : String(error), batch.length);
        return;
      }
    }
    await this.oneByOne(batch);
  }

  /** Each settlement alone, written again while the store refuses it, as a single create's is. */
  private async oneByOne(batch: Unit[]): Promise<void> {
    for (const unit of batch) {
      try {
        await writeSettling(() => this.audit.settle(unit.settlement, this.now()));
      } catch (error) {
        this.onFailure(error instanceof Error ? error.message : String(error), 1);
      }
    }
  }
}
