import type { Tracer } from '@opentelemetry/api';
import { type IdGenerator, SamplingDecision, type SamplingResult } from '@opentelemetry/sdk-trace';
import type { LookoutScope } from '../conventions.ts';
import { lookoutTracer } from '../lookout-scope.ts';
import { RandomIds } from '../random-ids.ts';
import type { AdaptiveSampler } from './sampler.ts';
import { withThreshold } from './threshold.ts';

/**
 * Random ids (random-ids.ts), except for a span made with ids given beforehand: an exchange's ids are drawn
 * when it arrives (its log lines and the traceparent it passes on carry them), and its spans are
 * recorded only once the decision keeps it, with those same ids.
 */
export class GivenIds implements IdGenerator {
  readonly #random = new RandomIds();
  #traceId: string | undefined;
  #spanId: string | undefined;

  generateTraceId(): string {
    const given = this.#traceId;
    if (given === undefined) return this.#random.traceId();
    this.#traceId = undefined;
    return given;
  }

  generateSpanId(): string {
    const given = this.#spanId;
    if (given === undefined) return this.#random.spanId();
    this.#spanId = undefined;
    return given;
  }

  /** Ids for the next span started; `settle()` right after it, as a span with a parent takes no trace id. */
  give(traceId: string | undefined, spanId: string): void {
    this.#traceId = traceId;
    this.#spanId = spanId;
  }

  settle(): void {
    this.#traceId = undefined;
    this.#spanId = undefined;
  }
}

export interface KeepPolicy {
  /** An MCP request that fails is kept whatever the head decision said. */
  readonly keepErrors: boolean;
  /** An MCP request at least this slow is kept; 0 keeps none for its duration. */
  readonly keepSlowerThanSeconds: number;
}

/**
 * Sampling decided before any span is made. The MCP endpoint's exchanges start no span on arrival:
 * the MCP request's method and tool decide (the adaptive sampler's per-key decision), and only then is
 * the HTTP server span made, from its true start time, and the MCP span inside it. An unsampled call
 * records nothing but its ids and start time; when it fails or is slow it is kept anyway, its spans
 * made after the fact with their true start and end times and the ids it already carried.
 */
export class ExchangeSampling {
  readonly ids: GivenIds;
  readonly #sampler: AdaptiveSampler;
  readonly #policy: KeepPolicy;
  readonly #scope: LookoutScope;
  #tracer: Tracer | undefined;

  /** A call kept for what happened, not by chance: sampled with probability 1 (`ot=th:0`). */
  readonly keptForOutcome: SamplingResult = {
    decision: SamplingDecision.RECORD_AND_SAMPLED,
    traceState: withThreshold(undefined, 0n),
  };

  constructor(sampler: AdaptiveSampler, ids: GivenIds, policy: KeepPolicy, scope: LookoutScope) {
    this.#scope = scope;
    this.#sampler = sampler;
    this.ids = ids;
    this.#policy = policy;
  }

  /** The SDK's tracer in Lookout's scope, which its MCP spans share: resolved once the SDK is registered. */
  get tracer(): Tracer {
    this.#tracer ??= lookoutTracer(this.#scope);
    return this.#tracer;
  }

  decideRequest(method: string, target: string | undefined, traceId: string): SamplingResult {
    return this.#sampler.decideRequest(method, target, traceId);
  }

  decideExchange(traceId: string): SamplingResult {
    return this.#sampler.decideExchange(traceId);
  }

  /** Whether an unsampled MCP request is kept for its outcome: an error, or slowness. */
  keepsOutcome(errorType: string | undefined, seconds: number): boolean {
    const { keepErrors, keepSlowerThanSeconds } = this.#policy;
    return (
      (keepErrors && errorType !== undefined) ||
      (keepSlowerThanSeconds > 0 && seconds >= keepSlowerThanSeconds)
    );
  }
}
