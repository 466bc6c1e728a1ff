import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Several exporting span processors behind one (`OTEL_TRACES_EXPORTER=otlp,console`). */
class SpanFanOut implements SpanProcessor {
  readonly #processors: readonly SpanProcessor[];

  constructor(processors: readonly SpanProcessor[]) {
    this.#processors = processors;
  }

  onStart(span: Span, parentContext: Context): void {
    for (const processor of this.#processors) processor.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    for (const processor of this.#processors) processor.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.shutdown()));
  }
}

class LogFanOut implements LogRecordProcessor {
  readonly #processors: readonly LogRecordProcessor[];

  constructor(processors: readonly LogRecordProcessor[]) {
    this.#processors = processors;
  }

  onEmit(logRecord: ReadWriteLogRecord, context?: Context): void {
    for (const processor of this.#processors) processor.onEmit(logRecord, context);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.shutdown()));
  }
}

/** The one processor, or a fan-out when there are several. */
export function spanProcessorOf(processors: readonly SpanProcessor[]): SpanProcessor | undefined {
  return processors.length > 1 ? new SpanFanOut(processors) : processors[0];
}

export function logProcessorOf(processors: readonly LogRecordProcessor[]): LogRecordProcessor | undefined {
  return processors.length > 1 ? new LogFanOut(processors) : processors[0];
}
