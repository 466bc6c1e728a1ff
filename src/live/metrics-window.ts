import { DataPointType, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { attr, metricNames } from '../telemetry/conventions.ts';

/** One method (and tool or prompt) of `mcp.server.operation.duration`, as /metrics exposes it. */
interface Totals {
  readonly method: string;
  readonly target: string | undefined;
  count: number;
  errors: number;
  boundaries: number[];
  /** Per bucket, not cumulative; one more than the boundaries (the last is +Inf). */
  buckets: number[];
}

interface Sample {
  readonly atMs: number;
  readonly keys: ReadonlyMap<string, Totals>;
}

/** Per method and tool over the recent window: what the page plots. */
export interface OperationStats {
  readonly key: string;
  readonly method: string;
  readonly target: string | undefined;
  /** Calls per second since the previous sample. */
  readonly ratePerSecond: number;
  /** Over the window: share of calls with an `error.type`. */
  readonly errorShare: number;
  readonly calls: number;
  /** Seconds, over the window, interpolated in the histogram's buckets as Prometheus' histogram_quantile. */
  readonly p50: number | undefined;
  readonly p95: number | undefined;
  readonly p99: number | undefined;
}

/** The histogram's cumulative totals per method and target, errors apart. */
export function operationTotals(resourceMetrics: ResourceMetrics): Map<string, Totals> {
  const totals = new Map<string, Totals>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== metricNames.serverOperationDuration) continue;
      if (metric.dataPointType !== DataPointType.HISTOGRAM) continue;
      for (const point of metric.dataPoints) {
        const value = point.value as Histogram;
        const method = String(point.attributes[attr.mcpMethodName] ?? '');
        const rawTarget = point.attributes[attr.genAiToolName] ?? point.attributes[attr.genAiPromptName];
        const target = rawTarget === undefined ? undefined : String(rawTarget);
        const key = target === undefined ? method : `${method} ${target}`;
        let entry = totals.get(key);
        if (!entry) {
          entry = {
            method,
            target,
            count: 0,
            errors: 0,
            boundaries: value.buckets.boundaries,
            buckets: new Array(value.buckets.counts.length).fill(0),
          };
          totals.set(key, entry);
        }
        entry.count += value.count;
        if (point.attributes[attr.errorType] !== undefined) entry.errors += value.count;
        value.buckets.counts.forEach((n, i) => {
          entry.buckets[i] = (entry.buckets[i] ?? 0) + n;
        });
      }
    }
  }
  return totals;
}

/** The q-quantile of bucket counts, linear within the bucket (histogram_quantile's rule). */
export function quantile(
  q: number,
  boundaries: readonly number[],
  buckets: readonly number[],
): number | undefined {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] ?? 0;
    if (seen + n >= rank && n > 0) {
      // The +Inf bucket has no upper bound: its lower one is the best estimate.
      if (i >= boundaries.length) return boundaries[boundaries.length - 1];
      const lower = i === 0 ? 0 : (boundaries[i - 1] ?? 0);
      const upper = boundaries[i] ?? lower;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return boundaries[boundaries.length - 1];
}

/**
 * Samples of the cumulative histogram, taken while a page is open; rates and quantiles come from the
 * differences between them, so they match what a Prometheus `rate()` over /metrics would say.
 */
export class MetricsWindow {
  readonly #windowMs: number;
  #samples: Sample[] = [];

  constructor(windowSeconds: number) {
    this.#windowMs = windowSeconds * 1000;
  }

  /** Forgets the samples: the next page starts a fresh window rather than one with a hole in it. */
  reset(): void {
    this.#samples = [];
  }

  add(resourceMetrics: ResourceMetrics, atMs: number): OperationStats[] {
    const totals = operationTotals(resourceMetrics);
    const previous = this.#samples[this.#samples.length - 1];
    this.#samples.push({ atMs, keys: totals });
    while ((this.#samples[0]?.atMs ?? atMs) < atMs - this.#windowMs) this.#samples.shift();
    const oldest = this.#samples[0] as Sample;
    const stats: OperationStats[] = [];
    for (const [key, now] of totals) {
      const before = oldest === this.#samples[this.#samples.length - 1] ? undefined : oldest.keys.get(key);
      const last = previous?.keys.get(key);
      const calls = now.count - (before?.count ?? 0);
      const buckets = now.buckets.map((n, i) => n - (before?.buckets[i] ?? 0));
      const intervalMs = previous ? atMs - previous.atMs : 0;
      stats.push({
        key,
        method: now.method,
        target: now.target,
        ratePerSecond: intervalMs > 0 ? ((now.count - (last?.count ?? 0)) * 1000) / intervalMs : 0,
        errorShare: calls > 0 ? (now.errors - (before?.errors ?? 0)) / calls : 0,
        calls,
        p50: quantile(0.5, now.boundaries, buckets),
        p95: quantile(0.95, now.boundaries, buckets),
        p99: quantile(0.99, now.boundaries, buckets),
      });
    }
    return stats.sort((a, b) => a.key.localeCompare(b.key));
  }
}
