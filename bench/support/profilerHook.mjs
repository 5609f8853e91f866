// Loaded into a facade process started for profiling (NODE_OPTIONS=--import=…): the first SIGUSR2
// starts V8's sampling CPU profiler through the inspector, the next one stops it and writes the
// profile to BENCH_PROFILE_FILE. Each step says so on stdout, which the benchmark reads.
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.BENCH_PROFILE_FILE;
const intervalMicroseconds = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 1000);
let session;

function post(method, params = {}) {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
}

async function toggle() {
  if (!session) {
    session = new Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: intervalMicroseconds });
    await post('Profiler.start');
    process.stdout.write('bench-profiler: started\n');
    return;
  }
  const { profile } = await post('Profiler.stop');
  session.disconnect();
  session = undefined;
  writeFileSync(`${file}.partial`, JSON.stringify(profile));
  renameSync(`${file}.partial`, file);
  process.stdout.write('bench-profiler: written\n');
}

if (file) {
  process.on('SIGUSR2', () => {
    toggle().catch((error) => process.stdout.write(`bench-profiler: failed: ${error?.message ?? error}\n`));
  });
}
