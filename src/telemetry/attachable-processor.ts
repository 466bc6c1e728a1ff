import type { Context } from '@opentelemetry/api';
import {
  NoopSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

/**
 * Stands in for the exporting span processor until the SDK has started: only then does the SDK's meter
 * provider exist, which the batch processor needs for its own metrics (spans dropped from a full queue,
 * spans processed). NodeSDK takes its processors before that. Spans end only after start-up.
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
