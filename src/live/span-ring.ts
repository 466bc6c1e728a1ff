import { type HrTime, SpanKind } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { attr } from '../telemetry/conventions.ts';

/** A span as the live view sends it to the page. */
export interface SpanView {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: string;
  readonly scope: string;
  /** Milliseconds since the epoch. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: 'unset' | 'ok' | 'error';
  readonly statusMessage: string | undefined;
  /** As recorded: arguments and results are on spans only when recording them is on, and redacted then. */
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** One MCP request served, for the list of recent calls. */
export interface CallView {
  readonly traceId: string;
  readonly spanId: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly client: string;
  readonly method: string;
  readonly target: string | undefined;
  /** `ok`, or the span's `error.type` (a JSON-RPC code or `tool_error`), or `cancelled`. */
  readonly outcome: string;
}

const toMs = (time: HrTime) => time[0] * 1000 + time[1] / 1e6;
const statusNames = ['unset', 'ok', 'error'] as const;

function viewOf(span: ReadableSpan): SpanView {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    kind: SpanKind[span.kind],
    scope: span.instrumentationScope.name,
    startMs: toMs(span.startTime),
    durationMs: toMs(span.duration),
    status: statusNames[span.status.code] ?? 'unset',
    statusMessage: span.status.message,
    attributes: span.attributes,
  };
}

function stringAttribute(span: ReadableSpan, key: string): string | undefined {
  const value = span.attributes[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The most recent kept spans, oldest overwritten first. Fed by the SDK behind the sampling decision
 * (telemetry/live-telemetry.ts) while a page is open: a span costs one slot write; everything else
 * happens when a page asks.
 */
export class SpanRing implements SpanProcessor {
  readonly #spans: (ReadableSpan | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#spans = new Array(capacity);
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#spans.length === 0) return;
    this.#spans[this.#next] = span;
    this.#next = (this.#next + 1) % this.#spans.length;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.clear();
    return Promise.resolve();
  }

  clear(): void {
    this.#spans.fill(undefined);
    this.#next = 0;
  }

  /** Newest first. */
  *#newestFirst(): Generator<ReadableSpan> {
    const size = this.#spans.length;
    for (let i = 1; i <= size; i++) {
      const span = this.#spans[(this.#next - i + size) % size];
      if (span) yield span;
    }
  }

  /** Every kept span of a trace, in start order. */
  trace(traceId: string): SpanView[] {
    const spans: SpanView[] = [];
    for (const span of this.#newestFirst())
      if (span.spanContext().traceId === traceId) spans.push(viewOf(span));
    return spans.sort((a, b) => a.startMs - b.startMs);
  }

  /**
   * The MCP requests served (`mcp.server` spans), newest first. The client is the address of the HTTP
   * exchange that carried the request, from the trace's HTTP server span when it was kept too.
   */
  recentCalls(limit: number): CallView[] {
    const calls: { span: ReadableSpan; view: Omit<CallView, 'client'> }[] = [];
    const clients = new Map<string, string>();
    for (const span of this.#newestFirst()) {
      if (span.kind !== SpanKind.SERVER) continue;
      const traceId = span.spanContext().traceId;
      const method = stringAttribute(span, attr.mcpMethodName);
      if (method === undefined) {
        const address =
          stringAttribute(span, attr.clientAddress) ?? stringAttribute(span, attr.networkPeerAddress);
        if (address !== undefined) clients.set(traceId, address);
        continue;
      }
      if (calls.length >= limit) continue;
      const errorType = stringAttribute(span, attr.errorType);
      calls.push({
        span,
        view: {
          traceId,
          spanId: span.spanContext().spanId,
          startMs: toMs(span.startTime),
          durationMs: toMs(span.duration),
          method,
          target: stringAttribute(span, attr.genAiToolName) ?? stringAttribute(span, attr.genAiPromptName),
          outcome: errorType ?? stringAttribute(span, attr.lookoutOutcome) ?? 'ok',
        },
      });
    }
    return calls.map(({ span, view }) => {
      const subject = stringAttribute(span, attr.lookoutSubjectHash);
      const address = clients.get(view.traceId);
      return { ...view, client: [address, subject && `subject ${subject}`].filter(Boolean).join(' · ') };
    });
  }
}
