import { type Context, TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace';
import { AttachableSpanProcessor } from '../attachable-processor.ts';
import { attr } from '../conventions.ts';
import { type ProvisionalRoots, provisionalAttribute } from './provisional.ts';
import { withThreshold } from './threshold.ts';

/**
 * Wraps the exporting span processor: spans of a provisional HTTP root (see provisional.ts) are held
 * until the MCP request inside decided, then passed on or dropped together. Every other span passes
 * straight through.
 */
export class DeferredRootProcessor extends AttachableSpanProcessor {
  readonly #roots: ProvisionalRoots;
  /** Decides for a root no MCP request decided for (a refused or notification-only POST). */
  readonly #decideUndecided: (root: ReadableSpan) => boolean;

  readonly #keepOutcome: (span: ReadableSpan) => boolean;

  constructor(
    roots: ProvisionalRoots,
    decideUndecided: (root: ReadableSpan) => boolean,
    /** Whether an MCP request's outcome (an error, a slow call) keeps its exchange despite a drop decision. */
    keepOutcome: (span: ReadableSpan) => boolean = () => false,
  ) {
    super();
    this.#roots = roots;
    this.#decideUndecided = decideUndecided;
    this.#keepOutcome = keepOutcome;
  }

  override onStart(span: Span, parentContext: Context): void {
    const { spanId } = span.spanContext();
    if (span.attributes[provisionalAttribute] === true) {
      this.#roots.addRoot(spanId);
    } else if (span.parentSpanContext && !span.parentSpanContext.isRemote) {
      this.#roots.addMember(spanId, span.parentSpanContext.spanId);
    }
    this.inner.onStart(span, parentContext);
  }

  override onEnd(span: ReadableSpan): void {
    const { spanId } = span.spanContext();
    const rootId = this.#roots.rootOf(spanId);
    const state = rootId === undefined ? undefined : this.#roots.get(rootId);
    if (rootId === undefined || !state) {
      this.inner.onEnd(span);
      return;
    }
    if (rootId !== spanId) {
      if (
        state.decision === 'drop' &&
        span.attributes[attr.mcpMethodName] !== undefined &&
        this.#keepOutcome(span)
      ) {
        // Kept for what happened, not by chance: counted as sampled with probability 1.
        state.decision = 'keep';
        state.threshold = 0n;
        for (const child of state.buffered.splice(0)) this.inner.onEnd(this.#stamp(child, 0n));
      }
      if (state.decision === undefined) state.buffered.push(span);
      else if (state.decision === 'keep') this.inner.onEnd(this.#stamp(span, state.threshold));
      this.#roots.memberEnded(spanId);
      return;
    }
    if (state.decision === undefined) state.decision = this.#decideUndecided(span) ? 'keep' : 'drop';
    const held = state.buffered.splice(0);
    if (state.decision === 'keep') {
      for (const child of held) this.inner.onEnd(this.#stamp(child, state.threshold));
      this.inner.onEnd(this.#stamp(span, state.threshold));
    }
    this.#roots.rootEnded(rootId);
  }

  /**
   * The provisional spans started before the threshold was known get the decision's. In place: the
   * span has ended, and a wrapper per span (`Object.create`) turned every read of the exporter's
   * serializer into a prototype-chain lookup, a large share of a request's CPU time (docs/performance.md).
   */
  #stamp(span: ReadableSpan, threshold: bigint | undefined): ReadableSpan {
    if (threshold === undefined) return span;
    const spanContext = span.spanContext();
    spanContext.traceState = withThreshold(spanContext.traceState, threshold);
    // A kept span is exported as sampled, also one that was only recorded until its outcome kept it.
    spanContext.traceFlags |= TraceFlags.SAMPLED;
    return span;
  }
}
