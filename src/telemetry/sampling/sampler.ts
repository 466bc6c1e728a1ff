import {
  type Attributes,
  type Context,
  isSpanContextValid,
  type Link,
  type Meter,
  type SpanKind,
  TraceFlags,
  type TraceState,
  trace,
} from '@opentelemetry/api';
import { type Sampler, SamplingDecision, type SamplingResult } from '@opentelemetry/sdk-trace';
import { attr, values } from '../conventions.ts';
import { decisionIn } from './decided.ts';
import { SlidingRate } from './rates.ts';
import {
  isSampled,
  randomnessOf,
  type SplitThreshold,
  splitThreshold,
  thresholdFor,
  traceIdMeets,
  withThreshold,
} from './threshold.ts';

export type SampleMode = 'always' | 'never' | { ratio: number } | { targetPerSecond: number };

export interface SamplingRule {
  readonly method?: string | undefined;
  readonly tool?: string | undefined;
  readonly route?: string | undefined;
  /** `sse`: the standalone GET stream of the MCP endpoint; `json`: POSTs to it. */
  readonly transport?: 'sse' | 'json' | undefined;
  readonly sample: SampleMode;
}

export interface SamplingSettings {
  /** Sampled traces per second to aim for, per key, unless a rule says otherwise. */
  readonly targetPerSecond: number;
  /** Sampled traces per second, all keys together, at most. */
  readonly globalCeilingPerSecond: number;
  /** The probability never goes below this for adaptive keys. */
  readonly floorProbability: number;
  /** Samples a key may take in one bucket beyond its target before its probability is recomputed at once. */
  readonly burst: number;
  readonly windowSeconds: number;
  /** Keys tracked at most; any further key is counted as `_OTHER`. */
  readonly maxKeys: number;
  readonly rules: readonly SamplingRule[];
  readonly mcpPath: string;
}

interface Subject {
  readonly key: string;
  readonly method?: string | undefined;
  readonly tool?: string | undefined;
  readonly route?: string | undefined;
  readonly transport?: 'sse' | 'json' | undefined;
}

interface KeyState {
  readonly key: string;
  readonly mode: SampleMode;
  readonly rate: SlidingRate;
  probability: number;
  /** The threshold of `probability`, computed again only when the probability has moved. */
  threshold: SplitThreshold;
  thresholdProbability: number;
  sampled: number;
  dropped: number;
  /** Sampled in the current bucket, for the burst check. */
  bucketSampled: number;
  bucketIndex: number;
}

export interface KeyStatus {
  readonly key: string;
  readonly mode: string;
  readonly ratePerSecond: number;
  readonly probability: number;
  readonly sampled: number;
  readonly dropped: number;
}

const bucketsPerWindow = 10;
const notSampled: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

function matches(rule: SamplingRule, subject: Subject): boolean {
  return (
    (rule.method === undefined || rule.method === subject.method) &&
    (rule.tool === undefined || rule.tool === subject.tool) &&
    (rule.route === undefined || rule.route === subject.route) &&
    (rule.transport === undefined || rule.transport === subject.transport)
  );
}

function modeName(mode: SampleMode): string {
  if (typeof mode === 'string') return mode;
  return 'ratio' in mode ? `ratio ${mode.ratio}` : `target ${mode.targetPerSecond}/s`;
}

/**
 * A parent-based head sampler that, for traces it starts, holds a target number of sampled traces per
 * second per key (MCP method + tool, or HTTP route) under a global ceiling, with consistent
 * probability decisions (`ot=th` in tracestate). Rare keys are sampled at 100 %.
 */
export class AdaptiveSampler implements Sampler {
  readonly #settings: SamplingSettings;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();
  /** The key state of each MCP (method, target) pair decided so far, by method, then target. */
  readonly #requestStates = new Map<string, Map<string | undefined, KeyState>>();
  readonly #bucketMs: number;
  readonly #exchangeSubject: Subject;
  #nextRecompute = 0;
  #sampledTotal = 0;
  #droppedTotal = 0;

  constructor(settings: SamplingSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
    this.#bucketMs = (settings.windowSeconds * 1000) / bucketsPerWindow;
    this.#exchangeSubject = { key: `POST ${settings.mcpPath}`, route: settings.mcpPath, transport: 'json' };
  }

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    _spanKind: SpanKind,
    attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    // A span of an exchange decided before it was made (see exchange-sampling.ts).
    const decided = decisionIn(context);
    if (decided) return decided;
    const parent = trace.getSpanContext(context);
    if (parent && isSpanContextValid(parent)) {
      return {
        decision:
          parent.traceFlags & TraceFlags.SAMPLED
            ? SamplingDecision.RECORD_AND_SAMPLED
            : SamplingDecision.NOT_RECORD,
      };
    }
    const method = attributes[attr.mcpMethodName];
    if (typeof method === 'string') {
      const tool = attributes[attr.genAiToolName] ?? attributes[attr.genAiPromptName];
      return this.decideRequest(method, typeof tool === 'string' ? tool : undefined, traceId);
    }
    const httpMethod = attributes[attr.httpRequestMethod];
    const path = attributes[attr.urlPath];
    if (typeof httpMethod === 'string' && typeof path === 'string') {
      const transport = path === this.#settings.mcpPath ? (httpMethod === 'GET' ? 'sse' : 'json') : undefined;
      return this.#decide({ key: `${httpMethod} ${path}`, route: path, transport }, traceId, undefined);
    }
    return this.#decide({ key: spanName }, traceId, undefined);
  }

  /** Decides for an MCP request by its method and tool (or prompt), before any span of it is made. */
  decideRequest(method: string, target: string | undefined, traceId: string): SamplingResult {
    const now = this.#now();
    return this.#decideFor(this.#requestState(method, target, now), now, traceId, undefined);
  }

  /** A request's key state, found without building its key once the (method, target) pair has its own. */
  #requestState(method: string, target: string | undefined, now: number): KeyState {
    let byTarget = this.#requestStates.get(method);
    const known = byTarget?.get(target);
    if (known) return known;
    const subject = this.#mcpSubject(method, target);
    const state = this.#stateFor(subject, now);
    // A pair counted under `_OTHER` is not remembered: the table stays as small as the key table.
    if (state.key === subject.key) {
      if (!byTarget) {
        byTarget = new Map();
        this.#requestStates.set(method, byTarget);
      }
      byTarget.set(target, state);
    }
    return state;
  }

  /** Decides for an exchange of the MCP endpoint in which no MCP request was decided (refused, or only notifications). */
  decideExchange(traceId: string): SamplingResult {
    return this.#decide(this.#exchangeSubject, traceId, undefined);
  }

  #mcpSubject(method: string, target: string | undefined): Subject {
    return {
      key: target === undefined ? method : `${method} ${target}`,
      method,
      tool: target,
      route: this.#settings.mcpPath,
      transport: 'json',
    };
  }

  /** Decides for a subject with the consistent-probability rule, and counts it. */
  #decide(subject: Subject, traceId: string, traceState: TraceState | undefined): SamplingResult {
    const now = this.#now();
    return this.#decideFor(this.#stateFor(subject, now), now, traceId, traceState);
  }

  #decideFor(
    state: KeyState,
    now: number,
    traceId: string,
    traceState: TraceState | undefined,
  ): SamplingResult {
    state.rate.add(now);
    if (now >= this.#nextRecompute) this.#recompute(now);
    const bucket = Math.floor(now / this.#bucketMs);
    if (bucket !== state.bucketIndex) {
      state.bucketIndex = bucket;
      state.bucketSampled = 0;
    }
    if (state.thresholdProbability !== state.probability) {
      state.threshold = splitThreshold(thresholdFor(state.probability));
      state.thresholdProbability = state.probability;
    }
    const threshold = state.threshold.value;
    const sampled =
      traceState === undefined
        ? traceIdMeets(traceId, state.threshold)
        : isSampled(randomnessOf(traceId, traceState), threshold);
    if (sampled) {
      state.sampled++;
      this.#sampledTotal++;
      state.bucketSampled++;
      if (typeof state.mode === 'object' && 'targetPerSecond' in state.mode) this.#checkBurst(state, now);
      return {
        decision: SamplingDecision.RECORD_AND_SAMPLED,
        traceState: withThreshold(traceState, threshold),
      };
    }
    state.dropped++;
    this.#droppedTotal++;
    return notSampled;
  }

  #stateFor(subject: Subject, now: number): KeyState {
    let state = this.#keys.get(subject.key);
    if (state) return state;
    const overflow = this.#keys.size >= this.#settings.maxKeys;
    const key = overflow ? values.other : subject.key;
    state = this.#keys.get(key);
    if (state) return state;
    const rule = overflow ? undefined : this.#settings.rules.find((r) => matches(r, subject));
    const mode: SampleMode = rule?.sample ?? { targetPerSecond: this.#settings.targetPerSecond };
    const probability = this.#fixedProbability(mode) ?? 1;
    state = {
      key,
      mode,
      rate: new SlidingRate(this.#settings.windowSeconds, bucketsPerWindow, now),
      probability,
      threshold: splitThreshold(thresholdFor(probability)),
      thresholdProbability: probability,
      sampled: 0,
      dropped: 0,
      bucketSampled: 0,
      bucketIndex: Math.floor(now / this.#bucketMs),
    };
    this.#keys.set(key, state);
    return state;
  }

  #fixedProbability(mode: SampleMode): number | undefined {
    if (mode === 'always') return 1;
    if (mode === 'never') return 0;
    return 'ratio' in mode ? mode.ratio : undefined;
  }

  /** A key sampling faster than its target plus the burst allowance gets its probability cut at once. */
  #checkBurst(state: KeyState, now: number): void {
    const target = (state.mode as { targetPerSecond: number }).targetPerSecond;
    const allowance = (target * this.#bucketMs) / 1000 + this.#settings.burst;
    if (state.bucketSampled <= allowance) return;
    const { count, elapsedMs } = state.rate.current(now);
    const instantRate = (count * 1000) / elapsedMs;
    state.probability = Math.min(
      state.probability,
      Math.max(this.#settings.floorProbability, target / instantRate),
    );
  }

  /** Once a bucket: each adaptive key's probability from its rate, then all scaled under the ceiling. */
  #recompute(now: number): void {
    this.#nextRecompute = now + this.#bucketMs;
    const { floorProbability, globalCeilingPerSecond } = this.#settings;
    let expected = 0;
    const adaptive: { state: KeyState; rate: number }[] = [];
    for (const state of this.#keys.values()) {
      const rate = state.rate.perSecond(now);
      const fixed = this.#fixedProbability(state.mode);
      if (fixed !== undefined) {
        state.probability = fixed;
        continue;
      }
      const target = (state.mode as { targetPerSecond: number }).targetPerSecond;
      state.probability = rate <= target ? 1 : Math.max(floorProbability, target / rate);
      expected += state.probability * rate;
      adaptive.push({ state, rate });
    }
    if (expected > globalCeilingPerSecond) {
      const scale = globalCeilingPerSecond / expected;
      for (const { state } of adaptive)
        state.probability = Math.max(floorProbability, state.probability * scale);
    }
  }

  snapshot(): KeyStatus[] {
    const now = this.#now();
    return [...this.#keys.values()].map((s) => ({
      key: s.key,
      mode: modeName(s.mode),
      ratePerSecond: Math.round(s.rate.perSecond(now) * 100) / 100,
      probability: s.probability,
      sampled: s.sampled,
      dropped: s.dropped,
    }));
  }

  /** `lookout.sampler.probability` per key and `lookout.sampler.decisions` by outcome. */
  instrument(meter: Meter): void {
    meter
      .createObservableGauge('lookout.sampler.probability', {
        description: 'Current head-sampling probability per sampling key.',
        unit: '1',
      })
      .addCallback((result) => {
        for (const s of this.#keys.values()) result.observe(s.probability, { 'lookout.sampler.key': s.key });
      });
    meter
      .createObservableCounter('lookout.sampler.decisions', {
        description: 'Head-sampling decisions made for traces Lookout starts.',
        unit: '{decision}',
      })
      .addCallback((result) => {
        result.observe(this.#sampledTotal, { 'lookout.sampler.decision': 'sampled' });
        result.observe(this.#droppedTotal, { 'lookout.sampler.decision': 'dropped' });
      });
  }

  toString(): string {
    return `AdaptiveSampler{target=${this.#settings.targetPerSecond}/s per key, ceiling=${this.#settings.globalCeilingPerSecond}/s}`;
  }
}
