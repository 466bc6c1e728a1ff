import { type Attributes, type Context, type Meter, TraceFlags, trace } from '@opentelemetry/api';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { attr, metricNames } from './conventions.ts';

const origins = ['none', 'local', 'remote'] as const;
/** Indexed by `SamplingDecision` (NOT_RECORD = 0, RECORD = 1, RECORD_AND_SAMPLED = 2). */
const samplingResults = ['DROP', 'RECORD_ONLY', 'RECORD_AND_SAMPLE'] as const;

const startedAttributes: Attributes[][] = origins.map((origin) =>
  samplingResults.map((result) => ({
    [attr.otelSpanParentOrigin]: origin,
    [attr.otelSpanSamplingResult]: result,
  })),
);
const liveAttributes: Attributes[] = samplingResults.map((result) => ({
  [attr.otelSpanSamplingResult]: result,
}));

function originIndex(parentContext: Context): number {
  const parent = trace.getSpanContext(parentContext);
  if (!parent) return 0;
  return parent.isRemote ? 2 : 1;
}

function decisionIndex(span: ReadableSpan): number {
  return span.spanContext().traceFlags & TraceFlags.SAMPLED
    ? SamplingDecision.RECORD_AND_SAMPLED
    : SamplingDecision.RECORD;
}

/**
 * The SDK's counts of its own spans and log records (`otel.sdk.span.started`, `otel.sdk.span.live`,
 * `otel.sdk.log.created`, named and attributed as the semantic conventions for SDK metrics say), kept
 * as plain numbers and read when metrics are collected. The SDK records them through the metrics API
 * per span start, span end and log record, each time hashing an attribute set and leaving garbage
 * (docs/performance.md has the measurement). Here each is an increment.
 */
export class SdkCounts {
  /** [parent origin][sampling decision] */
  readonly #started = origins.map(() => samplingResults.map(() => 0));
  /** [sampling decision]: DROP is never live. */
  readonly #live = samplingResults.map(() => 0);
  #logsCreated = 0;

  /** Wraps the sampler so that every decision, dropped spans included, is counted as a started span. */
  countingSampler(inner: Sampler): Sampler {
    const started = this.#started;
    return {
      shouldSample(context, traceId, spanName, spanKind, attributes, links): SamplingResult {
        const result = inner.shouldSample(context, traceId, spanName, spanKind, attributes, links);
        const row = started[originIndex(context)];
        if (row) row[result.decision] = (row[result.decision] ?? 0) + 1;
        return result;
      },
      toString: () => inner.toString(),
    };
  }

  /** Counts the spans that are recorded, from start to end. */
  readonly spanProcessor: SpanProcessor = {
    onStart: (span: Span) => this.#addLive(span, 1),
    onEnd: (span: ReadableSpan) => this.#addLive(span, -1),
    forceFlush: async () => {},
    shutdown: async () => {},
  };

  readonly logProcessor: LogRecordProcessor = {
    onEmit: () => {
      this.#logsCreated++;
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };

  #addLive(span: ReadableSpan, delta: number): void {
    const index = decisionIndex(span);
    this.#live[index] = (this.#live[index] ?? 0) + delta;
  }

  observe(meter: Meter): void {
    const started = meter.createObservableCounter(metricNames.sdkSpanStarted, {
      description: 'The number of created spans.',
      unit: '{span}',
    });
    const live = meter.createObservableUpDownCounter(metricNames.sdkSpanLive, {
      description: 'The number of currently live spans.',
      unit: '{span}',
    });
    const logs = meter.createObservableCounter(metricNames.sdkLogCreated, {
      description: 'The number of logs submitted to enabled SDK Loggers.',
      unit: '{log_record}',
    });
    meter.addBatchObservableCallback(
      (result) => {
        for (const [origin, row] of this.#started.entries())
          for (const [decision, count] of row.entries()) {
            const attributes = startedAttributes[origin]?.[decision];
            if (count > 0 && attributes) result.observe(started, count, attributes);
          }
        for (const [decision, count] of this.#live.entries()) {
          const attributes = liveAttributes[decision];
          if (decision !== SamplingDecision.NOT_RECORD && attributes) result.observe(live, count, attributes);
        }
        result.observe(logs, this.#logsCreated);
      },
      [started, live, logs],
    );
  }
}
