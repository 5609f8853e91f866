import { describe, expect, it } from 'vitest';
import { Interleaving } from '../simulation/interleaving';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two origins' calls racing: `first` finishes after `firstMs`, `second` after `secondMs`. */
async function race(interleaving: Interleaving, firstMs: number, secondMs: number): Promise<string[]> {
  const finished: string[] = [];
  await Promise.all([
    interleaving.call(interleaving.nameOf('request 0', 'table GET'), async () => {
      await sleep(firstMs);
      finished.push('request 0');
    }),
    interleaving.call(interleaving.nameOf('request 1', 'table POST'), async () => {
      await sleep(secondMs);
      finished.push('request 1');
    }),
  ]);
  return finished;
}

describe('the simulation replays the interleaving it recorded', () => {
  it('records calls in the order they completed, named by origin, kind and number', async () => {
    const recording = new Interleaving();
    expect(await race(recording, 30, 1)).toEqual(['request 1', 'request 0']);
    expect(recording.completed).toEqual(['request 1|table POST#0', 'request 0|table GET#0']);
  });

  it('holds a call until the calls recorded before it have completed, whatever the timing', async () => {
    const replay = new Interleaving(['request 1|table POST#0', 'request 0|table GET#0']);
    // Left alone, request 0 would finish first; held, it starts only after request 1 completed.
    expect(await race(replay, 1, 30)).toEqual(['request 1', 'request 0']);
    expect(replay.completed).toEqual(['request 1|table POST#0', 'request 0|table GET#0']);
    expect(replay.diverged).toBe(0);
  });

  it('lets a call go after its patience when the calls before it never come (the replay left the recording)', async () => {
    const replay = new Interleaving(['request 9|graph POST#0', 'request 0|table GET#0'], 50);
    const started = Date.now();
    await replay.call(replay.nameOf('request 0', 'table GET'), async () => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(replay.diverged).toBe(1);
  });
  it("follows a recorded job run although the replay's job has another id (the facade makes ids afresh)", async () => {
    const replay = new Interleaving(['job 5 1111_recorded|table GET#0', 'request 0|table GET#0'], 5_000);
    const finished: string[] = [];
    await Promise.all([
      replay.call(replay.nameOf('request 0', 'table GET'), async () => {
        finished.push('request 0');
      }),
      replay.call(replay.nameOf('job 5 2222_live', 'table GET'), async () => {
        await sleep(30);
        finished.push('job 5');
      }),
    ]);
    expect(finished).toEqual(['job 5', 'request 0']);
    expect(replay.completed).toEqual(['job 5 2222_live|table GET#0', 'request 0|table GET#0']);
    expect(replay.diverged).toBe(0);
  });
});
