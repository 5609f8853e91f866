import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A long simulation split over processes side by side: worker i runs its share of the schedules
 * from `seed + i` (each a whole simulation of its own: Azurite, emulator, floors), prefixes what it
 * prints with its number, and ends with its one-line result. The run fails if any worker fails.
 */
export async function runWorkers(options: { runs: number; workers: number; atOnce: number; seed: number; noShrink: boolean }): Promise<number> {
  const { runs, workers, seed } = options;
  const share = Math.ceil(runs / workers);
  const atOnce = Math.min(workers, options.atOnce);
  const started = Date.now();
  process.stdout.write(`simulating ${share * workers} fault schedules in ${workers} workers of ${share} (${atOnce} at once), from seeds ${seed} to ${seed + workers - 1}\n`);
  const outcomes: { code: number; result: WorkerResult | undefined }[] = [];
  // Stopped (a signal): the running workers are stopped with it, and no other starts.
  const running = new Set<ChildProcess>();
  let stopped = false;
  const stop = () => {
    stopped = true;
    for (const child of running) child.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < workers && !stopped; index = next++) {
      outcomes[index] = await runWorker(index, ['--import', 'tsx', 'test/simulation/cli.ts', '--runs', String(share), '--seed', String(seed + index), '--json', ...(options.noShrink ? ['--no-shrink'] : [])], running);
    }
  };
  await Promise.all(Array.from({ length: atOnce }, lane));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (stopped) {
    process.stdout.write('stopped before every worker ran\n');
    return 1;
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`\n${'worker'.padEnd(7)} ${'seed'.padEnd(11)} ${'schedules'.padEnd(10)} ${'seconds'.padEnd(8)} result\n`);
  for (const [index, outcome] of outcomes.entries()) {
    const result = outcome.result;
    const verdict = !result
      ? `no result (exit ${outcome.code})`
      : result.failed
        ? `FAILED at schedule ${result.firstFailureAt ?? '?'}: ${(result.brokenInvariants ?? []).join(', ')}`
        : result.belowFloor.length > 0
          ? `below floor: ${result.belowFloor.join('; ')}`
          : 'every guarantee held';
    process.stdout.write(`${String(index).padEnd(7)} ${String(seed + index).padEnd(11)} ${String(result?.executed ?? '-').padEnd(10)} ${String(result?.seconds ?? '-').padEnd(8)} ${verdict}\n`);
  }
  const failed = outcomes.filter((outcome) => outcome.code !== 0);
  const executed = outcomes.reduce((total, outcome) => total + (outcome.result?.executed ?? 0), 0);
  process.stdout.write(
    failed.length === 0
      ? `${executed} schedules in ${workers} workers from seed ${seed}: every guarantee held (${seconds} s)\n`
      : `${failed.length} of ${workers} workers failed (${seconds} s): see their lines above for the shrunk schedule and how to replay it\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

interface WorkerResult {
  executed: number;
  failed: boolean;
  firstFailureAt?: number;
  brokenInvariants?: string[];
  belowFloor: string[];
  seconds: number;
}

function runWorker(index: number, args: string[], running: Set<ChildProcess>): Promise<{ code: number; result: WorkerResult | undefined }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let result: WorkerResult | undefined;
    const prefix = `[${index}] `;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice('RESULT '.length)) as WorkerResult;
        else process.stdout.write(`${prefix}${line}\n`);
      });
    }
    child.on('close', (code) => {
      running.delete(child);
      resolve({ code: code ?? 1, result });
    });
  });
}
