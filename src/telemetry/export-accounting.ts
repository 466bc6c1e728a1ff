import type { Counter, DiagLogger, Meter } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Logger } from '../logging/logger.ts';
import { attr, metricNames, units } from './conventions.ts';
import { type Signal, signals } from './otel-env.ts';

const warningIntervalMs = 30_000;

type Exporter = { export(items: never, done: (result: ExportResult) => void): void };

/** Spans and log records are exported as arrays: each element is one item. */
export const countItems = ((items: unknown[]) => items.length) as (items: never) => number;

/** A metrics export holds data points: each is one series. */
export const countMetricSeries = ((resourceMetrics: {
  scopeMetrics: { metrics: { dataPoints: unknown[] }[] }[];
}) => {
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) n += metric.dataPoints.length;
  return n;
}) as (items: never) => number;

/** Counts what an exporter delivered and what it could not, and warns about failures at most every 30 s. */
export class ExportAccounting {
  #logger: Logger | undefined;
  #failures: Counter | undefined;
  #exported: Counter | undefined;
  readonly #lastWarning = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();
  /** One attribute set per signal, built once: the counters are added to on every export. */
  readonly #signalAttributes = new Map(
    signals.map((signal) => [signal, { [attr.lookoutExportSignal]: signal }]),
  );

  attach(logger: Logger): void {
    this.#logger = logger;
  }

  /** Counters come from the SDK's meter provider, so they exist only once it has started. */
  startCounting(meter: Meter): void {
    this.#failures = meter.createCounter(metricNames.telemetryExportFailures, {
      description: 'Spans, metric series and log records that an OTLP export failed to deliver.',
      unit: units.items,
    });
    this.#exported = meter.createCounter(metricNames.telemetryExportedItems, {
      description: 'Spans, metric series and log records delivered over OTLP.',
      unit: units.items,
    });
    // Series that exist at 0 from start-up make `rate()` and "no failures" alerts work before the first export.
    for (const attributes of this.#signalAttributes.values()) {
      this.#failures.add(0, attributes);
      this.#exported.add(0, attributes);
    }
  }

  wrap<T extends Exporter>(exporter: T, signal: Signal, count: (items: never) => number): T {
    const original = exporter.export.bind(exporter);
    const attributes = this.#signalAttributes.get(signal);
    const failed = `telemetry export failed: ${signal}`;
    exporter.export = ((items: never, done: (result: ExportResult) => void) =>
      original(items, (result) => {
        const n = count(items);
        if (result.code === ExportResultCode.SUCCESS) {
          this.#exported?.add(n, attributes);
        } else {
          this.#failures?.add(n, attributes);
          this.warn(failed, { items: n, error: result.error?.message });
        }
        done(result);
      })) as T['export'];
    return exporter;
  }

  /** A warning, at most one per 30 s for each message; the ones held back are counted in the next. */
  warn(message: string, meta: Record<string, unknown> = {}): void {
    const now = Date.now();
    const last = this.#lastWarning.get(message) ?? 0;
    if (now - last < warningIntervalMs) {
      this.#suppressed.set(message, (this.#suppressed.get(message) ?? 0) + 1);
      return;
    }
    const suppressed = this.#suppressed.get(message) ?? 0;
    this.#lastWarning.set(message, now);
    this.#suppressed.delete(message);
    const line = { ...meta, ...(suppressed > 0 && { suppressed }) };
    if (this.#logger) this.#logger.warn(message, line);
    else process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...line })}\n`);
  }
}

/** Routes the SDK's own warnings and errors (drops, failed exports) to Lookout's log, rate-limited. */
export function diagLogger(accounting: ExportAccounting): DiagLogger {
  const forward = (message: string, ...args: unknown[]) => {
    const detail = [
      message,
      ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))),
    ]
      .join(' ')
      .slice(0, 500);
    accounting.warn(`opentelemetry: ${message.slice(0, 80)}`, { detail });
  };
  return { error: forward, warn: forward, info: () => {}, debug: () => {}, verbose: () => {} };
}
