import { maxBatchSteps } from '../graph/jsonBatch';
import { maxTransactionActions } from './transactionWriter';

/**
 * How long a bulk request is expected to take, to decide whether it is answered at once or with
 * 202 and run from the queue: its rounds of batches (as many at once as allowed) at the time a
 * batch has been taking on this instance, and its audit transactions (two actions per item for the
 * intents, about three for the settlements) at the time they have been taking. Until this
 * instance has seen any, it assumes a slow Graph (2 s a batch) and a slow table (100 ms).
 */

const initial = { batchMs: 2_000, transactionMs: 100 };
const weight = 0.2;

export class LatencyEstimate {
  batchMs = initial.batchMs;
  transactionMs = initial.transactionMs;

  observeBatch(ms: number): void {
    this.batchMs += weight * (ms - this.batchMs);
  }

  observeTransaction(ms: number): void {
    this.transactionMs += weight * (ms - this.transactionMs);
  }

  /** Expected duration of a bulk request of `items` items with `inFlight` batches at once. */
  estimateMs(items: number, inFlight: number): number {
    const batches = Math.ceil(items / maxBatchSteps);
    const rounds = Math.ceil(batches / Math.max(1, inFlight));
    const transactions = Math.ceil((2 * items) / maxTransactionActions) + Math.ceil((3 * items) / maxTransactionActions) + 2;
    return Math.round(rounds * this.batchMs + transactions * this.transactionMs);
  }
}

/** This instance's figures (one per process, like the Graph client). */
export const instanceLatency = new LatencyEstimate();
