import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import {
  NoopSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

/**
 * Stands in for an exporting batch processor until the SDK has started: only then does the SDK's meter
 * provider exist, which a batch processor needs for its own metrics (items dropped from a full queue,
 * items processed, the queue's size). NodeSDK takes its processors before that. Spans end and log
 * records are emitted only after start-up.
 */
export class AttachableSpanProcessor implements SpanProcessor {
  protected inner: SpanProcessor = new NoopSpanProcessor();

  attach(inner: SpanProcessor): void {
    this.inner = inner;
  }

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** The same stand-in for the log record batch processor, whose drop counts need the meter provider too. */
export class AttachableLogRecordProcessor implements LogRecordProcessor {
  #inner: LogRecordProcessor | undefined;

  attach(inner: LogRecordProcessor): void {
    this.#inner = inner;
  }

  onEmit(logRecord: ReadWriteLogRecord, context?: Context): void {
    this.#inner?.onEmit(logRecord, context);
  }

  async forceFlush(): Promise<void> {
    await this.#inner?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.#inner?.shutdown();
  }
}
