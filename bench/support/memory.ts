/**
 * Whether the facade's resident memory grows under a steady load: RSS sampled against the number
 * of requests answered, judged over the last 60% of the run (the first 40% is warm-up: the JIT,
 * caches filling, V8's heap finding its size).
 */

export interface RssSample {
  /** Requests answered when the sample was taken. */
  requests: number;
  rssBytes: number;
}

export interface RssAnalysis {
  samples: number;
  maxRssBytes: number;
  /** Where the judged window starts and ends, in requests. */
  window: { fromRequests: number; toRequests: number };
  /** Least-squares slope of RSS against requests over the window. */
  slopeBytesPerRequest: number;
  /** The slope times the window's length: how much the line rises over it. */
  trendGrowthBytes: number;
  /** Mean RSS of the window's last tenth minus that of its first tenth. */
  firstToLastBytes: number;
  /** The growth either measure must exceed to count: the larger of 8 MiB and 5% of the window's mean RSS. */
  thresholdBytes: number;
  /** Both measures exceed the threshold. */
  growing: boolean;
}

export const judgedFraction = 0.6;

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

export function analyseRss(samples: readonly RssSample[], totalRequests: number): RssAnalysis {
  const fromRequests = totalRequests * (1 - judgedFraction);
  const window = samples.filter((sample) => sample.requests >= fromRequests);
  const maxRssBytes = Math.max(0, ...samples.map((sample) => sample.rssBytes));
  if (window.length < 2) {
    throw new Error(`only ${window.length} RSS samples in the last ${judgedFraction * 100}% of the run: run more requests`);
  }
  const xs = window.map((sample) => sample.requests);
  const ys = window.map((sample) => sample.rssBytes);
  const meanX = mean(xs);
  const meanY = mean(ys);
  let covariance = 0;
  let variance = 0;
  for (let index = 0; index < window.length; index += 1) {
    covariance += (xs[index]! - meanX) * (ys[index]! - meanY);
    variance += (xs[index]! - meanX) ** 2;
  }
  const slopeBytesPerRequest = variance > 0 ? covariance / variance : 0;
  const toRequests = Math.max(...xs);
  const span = toRequests - fromRequests;
  const tenth = span / 10;
  const first = window.filter((sample) => sample.requests <= fromRequests + tenth).map((sample) => sample.rssBytes);
  const last = window.filter((sample) => sample.requests >= toRequests - tenth).map((sample) => sample.rssBytes);
  const firstToLastBytes = first.length > 0 && last.length > 0 ? mean(last) - mean(first) : 0;
  const trendGrowthBytes = slopeBytesPerRequest * span;
  const thresholdBytes = Math.max(8 * 1024 * 1024, 0.05 * meanY);
  return {
    samples: samples.length,
    maxRssBytes,
    window: { fromRequests: Math.round(fromRequests), toRequests },
    slopeBytesPerRequest,
    trendGrowthBytes,
    firstToLastBytes,
    thresholdBytes,
    growing: trendGrowthBytes > thresholdBytes && firstToLastBytes > thresholdBytes,
  };
}
