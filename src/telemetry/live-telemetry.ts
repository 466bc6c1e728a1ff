import { type Context, TraceFlags } from '@opentelemetry/api';
import { MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { AttachableSpanProcessor } from './attachable-processor.ts';

/** What the running SDK offers the live view: the metrics when asked, and the spans sampling kept. */
export interface LiveTelemetry {
  /** The SDK's metrics as they are now (cumulative), read through a reader of their own. */
  collectMetrics(): Promise<ResourceMetrics>;
  /** From now on, each span that is kept (sampled, or kept for its outcome) also goes to `processor`; undefined stops that. */
  observeKeptSpans(processor: SpanProcessor | undefined): void;
}

/** The metrics as a reader sees them now: cumulative, so reading them does not disturb other readers' scrapes. */
export async function collectNow(reader: MetricReader): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length > 0) throw errors[0];
  return resourceMetrics;
}

/** A pull reader nobody schedules, for when Prometheus (itself a pull reader) is off. */
export class OnDemandMetricReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Stands where the exporting batch processor stood, behind the sampling decision (deferred-export.ts):
 * the spans it sees are the ones sampling keeps. They go to the exporter, when there is one, and to an
 * observer once one is attached. Only sampled spans reach the observer; the batch processor checks that
 * for itself.
 */
export class KeptSpans implements SpanProcessor {
  readonly exporting = new AttachableSpanProcessor();
  #observer: SpanProcessor | undefined;

  observe(observer: SpanProcessor | undefined): void {
    this.#observer = observer;
  }

  onStart(span: Span, parentContext: Context): void {
    this.exporting.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    this.exporting.onEnd(span);
    if (this.#observer && (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0)
      this.#observer.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await this.exporting.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.exporting.shutdown();
  }
}
