import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logging/logger.ts';
import type { LiveTelemetry } from './live-telemetry.ts';
import type { HistogramFactory } from './own-histograms.ts';
import type { ExchangeSampling } from './sampling/exchange-sampling.ts';

/** What the telemetry bootstrap hands the service: the Prometheus handler, a logger hook, and shutdown. */
export interface TelemetryRuntime {
  readonly enabled: boolean;
  /** Serves the Prometheus text exposition, when metrics are served on the main port. */
  readonly metricsHandler?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** The port `/metrics` is served on when it has a port of its own (`telemetry.metricsPort`). */
  readonly metricsPort?: number | undefined;
  /** Whether log records are exported (OTLP or console): the log sink then hands them to the logs API. */
  readonly otlpLogs: boolean;
  /** Lookout's own histograms for its per-call durations, read by the SDK's metric readers; absent without the SDK. */
  readonly histograms?: HistogramFactory | undefined;
  /** Sampling decided before spans are made, under Lookout's adaptive sampler; unset under a standard one. */
  readonly exchangeSampling?: ExchangeSampling | undefined;
  /** The head sampler's state per key, for the lookout.telemetry.status tool. */
  sampling(): unknown;
  /** From now on, telemetry's own warnings (export failures, drops) go to this logger, rate-limited. */
  attachLogger(logger: Logger): void;
  /** On-demand metrics and the kept spans, for the live view; absent without the SDK. */
  readonly live?: LiveTelemetry | undefined;
  /** Flushes and stops every exporter; never rejects. */
  shutdown(): Promise<void>;
}
