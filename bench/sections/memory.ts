/**
 * Memory under a long run: the resident set (VmRSS) of a fresh facade process sampled four times
 * a second against the requests answered so far; the largest, and whether it grows over the last
 * 60% of the run (bench/support/memory.ts). Rows older than 10 s are trimmed from the facade's
 * audit table as the run goes, so Azurite's cost per create stays flat (bench/support/janitor.ts).
 */
import { uniqueGroup } from '../support/environment';
import { startJanitor } from '../support/janitor';
import { load, requireAllCreated } from '../support/load';
import { analyseRss, judgedFraction, type RssAnalysis, type RssSample } from '../support/memory';
import { rssBytes } from '../support/proc';
import { defineSection, goal, mib, thousands, verdict } from '../support/section';

export interface MemoryResult {
  requests: number;
  /** Creates per second over the first and the last tenth of the run: whether the stack slows down as its tables fill. */
  createsPerSecond: { firstTenth: number; lastTenth: number };
  connections: number;
  graphLatencyMs: number;
  startRssBytes: number;
  analysis: RssAnalysis;
}

/** 200 MB, as the goal is stated (decimal megabytes). */
export const rssGoalBytes = 200 * 1000 * 1000;
const sampleEveryMs = 250;
/** Shorter runs end while V8's heap is still finding its size (quick runs). */
const shortestJudgedRun = 20_000;

export const memorySection = defineSection<MemoryResult>({
  key: 'memory',
  title: 'Memory: facade RSS over a long run',
  async run(context) {
    const { options } = context;
    const environment = await context.environment();
    const graphLatencyMs = 0;
    const facade = await context.facade('memory', graphLatencyMs);
    try {
      const startRssBytes = rssBytes(facade.pid);
      const samples: RssSample[] = [{ requests: 0, rssBytes: startRssBytes }];
      let answered = 0;
      const startedAt = performance.now();
      const timeline: { requests: number; ms: number }[] = [];
      const sampler = setInterval(() => {
        samples.push({ requests: answered, rssBytes: rssBytes(facade.pid) });
        timeline.push({ requests: answered, ms: performance.now() - startedAt });
      }, sampleEveryMs);
      context.log(`memory: ${thousands(options.memoryRequests)} creates, ${options.memoryConnections} connections`);
      const janitor = startJanitor({ connectionString: environment.azurite.connectionString, tableName: facade.tableName, keepMs: 10_000 });
      try {
        requireAllCreated(
          'facade',
          await load({
            url: facade.createUrl,
            token: environment.standIns.callerToken,
            body: uniqueGroup,
            connections: options.memoryConnections,
            amount: options.memoryRequests,
            onAnswer: (count) => (answered = count),
          }),
        );
      } finally {
        clearInterval(sampler);
        await janitor.stop();
      }
      samples.push({ requests: answered, rssBytes: rssBytes(facade.pid) });
      timeline.push({ requests: answered, ms: performance.now() - startedAt });
      const rateBetween = (from: number, to: number) => {
        const first = timeline.find((point) => point.requests >= from) ?? timeline[0]!;
        const last = [...timeline].reverse().find((point) => point.requests <= to) ?? timeline.at(-1)!;
        return last.ms > first.ms ? ((last.requests - first.requests) * 1000) / (last.ms - first.ms) : Number.NaN;
      };
      const createsPerSecond = { firstTenth: rateBetween(0, answered / 10), lastTenth: rateBetween(answered * 0.9, answered) };
      return { requests: answered, createsPerSecond, connections: options.memoryConnections, graphLatencyMs, startRssBytes, analysis: analyseRss(samples, answered) };
    } finally {
      await context.stopFacade('memory');
    }
  },
  rows(result) {
    const { analysis } = result;
    const underGoal = analysis.maxRssBytes <= rssGoalBytes;
    const perThousand = analysis.slopeBytesPerRequest * 1000;
    return [
      {
        figure: `facade RSS, ${thousands(result.requests)} creates (${result.connections} callers)`,
        value: `max ${mib(analysis.maxRssBytes)}`,
        against: `${mib(result.startRssBytes)} when started; ${thousands(result.createsPerSecond.firstTenth)} creates/s over the first tenth, ${thousands(result.createsPerSecond.lastTenth)} over the last`,
        goal: `≤ 200 MB (${mib(rssGoalBytes)}): ${verdict(underGoal)}`,
        met: underGoal,
      },
      {
        figure: `facade RSS growth over the last ${judgedFraction * 100}% of the run`,
        value: `${analysis.growing ? 'growing' : 'no growth'}: trend ${mib(analysis.trendGrowthBytes)} (${(perThousand / 1024).toFixed(1)} KiB per 1,000 creates), last tenth vs first ${mib(analysis.firstToLastBytes)}`,
        against: `growth counts past ${mib(analysis.thresholdBytes)} on both measures; ${analysis.samples} samples${
          result.requests < shortestJudgedRun ? `; a run under ${thousands(shortestJudgedRun)} creates ends while the heap still settles, so its verdict says little` : ''
        }`,
        goal: `no growth: ${verdict(!analysis.growing)}`,
        met: !analysis.growing,
      },
    ];
  },
  goals: (result) => [
    goal('maxRss', 'facade RSS ≤ 200 MB under load', result.analysis.maxRssBytes / 1e6, 'MB', result.analysis.maxRssBytes <= rssGoalBytes),
    goal('rssGrowth', `no RSS growth over the last ${judgedFraction * 100}% of the run`, result.analysis.trendGrowthBytes / 1e6, 'MB', !result.analysis.growing),
  ],
});
