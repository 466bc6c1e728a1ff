import type { Health } from '../lifecycle/health.ts';
import type { LiveTelemetry } from '../telemetry/live-telemetry.ts';
import type { UpstreamStatus } from '../upstreams/upstream-types.ts';
import { MetricsWindow, type OperationStats } from './metrics-window.ts';
import type { CallView, SpanRing } from './span-ring.ts';

/** Where a snapshot's parts come from: Lookout's own structures, read when a page is open. */
export interface LiveSources {
  readonly telemetry: LiveTelemetry | undefined;
  /** The head sampler's state (TelemetryRuntime.sampling). */
  readonly sampling: () => unknown;
  readonly upstreams: () => readonly UpstreamStatus[];
  readonly health: Health;
  readonly spans: SpanRing;
}

export interface SamplingKeyView {
  readonly key: string;
  /** `target N/s`, `ratio p`, `always` or `never`. */
  readonly mode: string;
  readonly probability: number;
  readonly ratePerSecond: number;
  /** Traces sampled per second over the last 10 s. */
  readonly keptPerSecond: number;
}

export interface UpstreamView extends UpstreamStatus {
  /** `2025` for the session-based protocol versions, `2026` for the per-request one. */
  readonly era: string | undefined;
  /** The readiness check's verdict for it (what /health/ready reports). */
  readonly readiness: { readonly status: string; readonly required: boolean | undefined } | undefined;
}

export interface LiveSnapshot {
  readonly atMs: number;
  readonly telemetry: boolean;
  readonly health: { readonly status: string; readonly phase: string };
  readonly windowSeconds: number;
  readonly operations: readonly OperationStats[];
  readonly upstreams: readonly UpstreamView[];
  readonly sampling: { readonly sampler: string; readonly keys: readonly SamplingKeyView[] };
  readonly calls: readonly CallView[];
}

interface SamplerState {
  sampler?: string;
  keys?: { key: string; mode: string; probability: number; ratePerSecond: number; sampled: number }[];
}

const recentCallsShown = 100;
const samplerWindowMs = 10_000;

function eraOf(protocolVersion: string | undefined): string | undefined {
  if (protocolVersion === undefined) return undefined;
  return protocolVersion < '2026-07-28' ? '2025' : '2026';
}

/** Builds what the page shows, each tick, from the sources; keeps just enough history for rates. */
export class Snapshots {
  readonly #sources: LiveSources;
  readonly #metrics: MetricsWindow;
  readonly #windowSeconds: number;
  /** The sampler's counts of kept traces per key, over the last window of snapshots. */
  #sampled: { readonly atMs: number; readonly counts: ReadonlyMap<string, number> }[] = [];

  constructor(sources: LiveSources, windowSeconds: number) {
    this.#sources = sources;
    this.#windowSeconds = windowSeconds;
    this.#metrics = new MetricsWindow(windowSeconds);
  }

  reset(): void {
    this.#metrics.reset();
    this.#sampled = [];
  }

  async next(atMs = Date.now()): Promise<LiveSnapshot> {
    const { telemetry, health, spans } = this.#sources;
    const operations = telemetry ? this.#metrics.add(await telemetry.collectMetrics(), atMs) : [];
    const ready = health.ready();
    return {
      atMs,
      telemetry: telemetry !== undefined,
      health: { status: ready.status, phase: ready.phase },
      windowSeconds: this.#windowSeconds,
      operations,
      upstreams: this.#sources.upstreams().map((u) => {
        const check = ready.checks[`upstream:${u.name}`];
        return {
          ...u,
          era: eraOf(u.protocolVersion),
          readiness: check && { status: check.status, required: check.required },
        };
      }),
      sampling: this.#sampling(atMs),
      calls: spans.recentCalls(recentCallsShown),
    };
  }

  /** Kept traces per second over the last 10 s (the sampler's default window). */
  #sampling(atMs: number): LiveSnapshot['sampling'] {
    const state = (this.#sources.sampling() ?? {}) as SamplerState;
    const keys = state.keys ?? [];
    this.#sampled.push({ atMs, counts: new Map(keys.map((k) => [k.key, k.sampled])) });
    while ((this.#sampled[0]?.atMs ?? atMs) < atMs - samplerWindowMs) this.#sampled.shift();
    const oldest = this.#sampled[0];
    const elapsedMs = oldest ? atMs - oldest.atMs : 0;
    return {
      sampler: state.sampler ?? 'unknown',
      keys: keys.map((k) => ({
        key: k.key,
        mode: k.mode,
        probability: k.probability,
        ratePerSecond: k.ratePerSecond,
        keptPerSecond:
          elapsedMs > 0 ? ((k.sampled - (oldest?.counts.get(k.key) ?? 0)) * 1000) / elapsedMs : 0,
      })),
    };
  }
}
