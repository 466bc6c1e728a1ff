import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { type Counter, type DiagLogger, DiagLogLevel, diag, logs, metrics } from '@opentelemetry/api';
import { logs as legacyLogsApi } from '@opentelemetry/api-logs';
import {
  type ExportResult,
  ExportResultCode,
  getNumberFromEnv,
  hrTimeToMilliseconds,
} from '@opentelemetry/core';
import { OTLPLogExporter as OTLPJsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OTLPProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as OTLPJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import {
  AggregationType,
  type MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { LookoutConfig } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import { AttachableLogRecordProcessor, AttachableSpanProcessor } from './attachable-processor.ts';
import { attr, instrumentationScope, metricNames, operationDurationBuckets, units } from './conventions.ts';
import { createInstrumentations } from './instrumentations.ts';
import { collectNow, KeptSpans, OnDemandMetricReader } from './live-telemetry.ts';
import type { TelemetryRuntime } from './runtime.ts';
import { DeferredRootProcessor } from './sampling/deferred-export.ts';
import { ProvisionalRoots } from './sampling/provisional.ts';
import { AdaptiveSampler } from './sampling/sampler.ts';
import { SdkCounts } from './sdk-counts.ts';

type Env = Readonly<Record<string, string | undefined>>;
const signals = ['traces', 'metrics', 'logs'] as const;
type Signal = (typeof signals)[number];

const warningIntervalMs = 30_000;

function signalEnv(env: Env, signal: Signal, suffix: string): string | undefined {
  return env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_${suffix}`] ?? env[`OTEL_EXPORTER_OTLP_${suffix}`];
}

/** A signal goes out over OTLP when an endpoint is set for it and its exporter is not `none`. */
function otlpEnabled(env: Env, signal: Signal): boolean {
  const exporter = env[`OTEL_${signal.toUpperCase()}_EXPORTER`]?.trim().toLowerCase();
  if (exporter === 'none') return false;
  return Boolean(signalEnv(env, signal, 'ENDPOINT'));
}

function protocolOf(env: Env, signal: Signal): 'http/json' | 'http/protobuf' {
  const protocol = signalEnv(env, signal, 'PROTOCOL')?.trim() || 'http/protobuf';
  if (protocol === 'http/json' || protocol === 'http/protobuf') return protocol;
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported; use http/protobuf or http/json`);
}

/** Counts what an exporter could not deliver, and warns about it at most every 30 s per signal. */
class ExportAccounting {
  #logger: Logger | undefined;
  #failures: Counter | undefined;
  #exported: Counter | undefined;
  readonly #lastWarning = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();

  attach(logger: Logger): void {
    this.#logger = logger;
  }

  /** Counters come from the SDK's meter provider, so they exist only once it has started. */
  startCounting(): void {
    const meter = metrics.getMeter(instrumentationScope);
    this.#failures = meter.createCounter(metricNames.telemetryExportFailures, {
      description: 'Spans, metric series and log records that an OTLP export failed to deliver.',
      unit: units.items,
    });
    this.#exported = meter.createCounter(metricNames.telemetryExportedItems, {
      description: 'Spans, metric series and log records delivered over OTLP.',
      unit: units.items,
    });
    // Series that exist at 0 from start-up make `rate()` and "no failures" alerts work before the first export.
    for (const signal of signals) {
      this.#failures.add(0, { [attr.lookoutExportSignal]: signal });
      this.#exported.add(0, { [attr.lookoutExportSignal]: signal });
    }
  }

  wrap<T extends { export(items: never, done: (result: ExportResult) => void): void }>(
    exporter: T,
    signal: Signal,
    count: (items: never) => number,
  ): T {
    const original = exporter.export.bind(exporter);
    exporter.export = ((items: never, done: (result: ExportResult) => void) =>
      original(items, (result) => {
        const n = count(items);
        if (result.code === ExportResultCode.SUCCESS) {
          this.#exported?.add(n, { [attr.lookoutExportSignal]: signal });
        } else {
          this.#failures?.add(n, { [attr.lookoutExportSignal]: signal });
          this.warn(`telemetry export failed: ${signal}`, { items: n, error: result.error?.message });
        }
        done(result);
      })) as T['export'];
    return exporter;
  }

  /** A warning, at most one per 30 s for each message; the ones held back are counted in the next. */
  warn(message: string, meta: Record<string, unknown> = {}): void {
    const now = Date.now();
    const last = this.#lastWarning.get(message) ?? 0;
    if (now - last < warningIntervalMs) {
      this.#suppressed.set(message, (this.#suppressed.get(message) ?? 0) + 1);
      return;
    }
    const suppressed = this.#suppressed.get(message) ?? 0;
    this.#lastWarning.set(message, now);
    this.#suppressed.delete(message);
    const line = { ...meta, ...(suppressed > 0 && { suppressed }) };
    if (this.#logger) this.#logger.warn(message, line);
    else process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...line })}\n`);
  }
}

/** Routes the SDK's own warnings and errors (drops, failed exports) to Lookout's log, rate-limited. */
function diagLogger(accounting: ExportAccounting): DiagLogger {
  const forward = (message: string, ...args: unknown[]) => {
    const detail = [
      message,
      ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))),
    ]
      .join(' ')
      .slice(0, 500);
    accounting.warn(`opentelemetry: ${message.slice(0, 80)}`, { detail });
  };
  return { error: forward, warn: forward, info: () => {}, debug: () => {}, verbose: () => {} };
}

/** Spans and log records are exported as arrays: each element is one item. */
const countItems = ((items: unknown[]) => items.length) as (items: never) => number;

function countMetricSeries(resourceMetrics: {
  scopeMetrics: { metrics: { dataPoints: unknown[] }[] }[];
}): number {
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) n += metric.dataPoints.length;
  return n;
}

/**
 * Spans or log records per OTLP export when `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` / `OTEL_BLRP_…` is unset
 * (the SDK's default is 512). A batch is serialized in one synchronous step, about 2 ms per 128 spans
 * here, and requests that arrive meanwhile wait: at half load smaller batches took the p90 from
 * ≈ 7.5 to ≈ 3.2 ms. The price: one export is in flight per signal, so a collector far away (tens of
 * ms per round trip) may need larger batches to keep up.
 */
const defaultExportBatchSize = 128;

/** A batch processor's queue and timing, from the standard variables (`OTEL_BSP_*` or `OTEL_BLRP_*`). */
function batchOptionsFromEnv(prefix: 'OTEL_BSP' | 'OTEL_BLRP') {
  return {
    maxQueueSize: getNumberFromEnv(`${prefix}_MAX_QUEUE_SIZE`),
    scheduledDelayMillis: getNumberFromEnv(`${prefix}_SCHEDULE_DELAY`),
    exportTimeoutMillis: getNumberFromEnv(`${prefix}_EXPORT_TIMEOUT`),
    maxExportBatchSize: getNumberFromEnv(`${prefix}_MAX_EXPORT_BATCH_SIZE`) ?? defaultExportBatchSize,
  };
}

/** The batch processors NodeSDK would build, given the SDK's meter provider for their drop counts. */
function spanBatchProcessorFromEnv(exporter: SpanExporter): BatchSpanProcessor {
  return new BatchSpanProcessor({
    exporter,
    selfObsMeterProvider: metrics.getMeterProvider(),
    ...batchOptionsFromEnv('OTEL_BSP'),
  });
}

function logBatchProcessorFromEnv(exporter: LogRecordExporter): BatchLogRecordProcessor {
  return new BatchLogRecordProcessor({
    exporter,
    selfObsMeterProvider: metrics.getMeterProvider(),
    ...batchOptionsFromEnv('OTEL_BLRP'),
  });
}

function histogramView(instrumentName: string): ViewOptions {
  return {
    instrumentName,
    aggregation: {
      type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
      options: { boundaries: [...operationDurationBuckets] },
    },
  };
}

export async function startSdk(config: LookoutConfig, env: Env, version: string): Promise<TelemetryRuntime> {
  const accounting = new ExportAccounting();
  diag.setLogger(diagLogger(accounting), DiagLogLevel.WARN);

  const traces = otlpEnabled(env, 'traces');
  const pushMetrics = otlpEnabled(env, 'metrics');
  const otlpLogs = otlpEnabled(env, 'logs');

  const readers: MetricReader[] = [];
  const prometheus = config.telemetry.prometheus
    ? new PrometheusExporter({ preventServerStart: true })
    : undefined;
  if (prometheus) readers.push(prometheus);
  // The live view reads the metrics through the Prometheus reader when there is one: a reader of its
  // own would record every measurement of an instrument without a view once more.
  const liveReader = prometheus ?? new OnDemandMetricReader();
  if (!prometheus) readers.push(liveReader);
  if (pushMetrics) {
    const exporter: PushMetricExporter =
      protocolOf(env, 'metrics') === 'http/json'
        ? new OTLPJsonMetricExporter()
        : new OTLPProtoMetricExporter();
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: accounting.wrap(exporter, 'metrics', countMetricSeries as (items: never) => number),
        exportIntervalMillis: config.telemetry.otlpMetricsIntervalSeconds * 1000,
      }),
    );
  }
  // Lookout's adaptive sampler, unless the operator chose a standard one with OTEL_TRACES_SAMPLER.
  const roots = new ProvisionalRoots();
  const sampler = env.OTEL_TRACES_SAMPLER
    ? undefined
    : new AdaptiveSampler({ ...config.telemetry.sampling, mcpPath: config.mcp.path }, roots);
  const { keepErrors, keepSlowerThanSeconds } = config.telemetry.sampling;
  const deferred = sampler
    ? new DeferredRootProcessor(
        roots,
        (root) => sampler.decideExchange(root.spanContext().traceId),
        (span) =>
          (keepErrors && span.attributes[attr.errorType] !== undefined) ||
          (keepSlowerThanSeconds > 0 && hrTimeToMilliseconds(span.duration) >= keepSlowerThanSeconds * 1000),
      )
    : undefined;

  let traceExporter: SpanExporter | undefined;
  if (traces) {
    const exporter: SpanExporter =
      protocolOf(env, 'traces') === 'http/json' ? new OTLPJsonTraceExporter() : new OTLPProtoTraceExporter();
    traceExporter = accounting.wrap(exporter, 'traces', countItems);
  }
  let logExporter: LogRecordExporter | undefined;
  if (otlpLogs) {
    const exporter: LogRecordExporter =
      protocolOf(env, 'logs') === 'http/json' ? new OTLPJsonLogExporter() : new OTLPProtoLogExporter();
    logExporter = accounting.wrap(exporter, 'logs', countItems);
  }

  // The batch processors are built by Lookout rather than NodeSDK, with Lookout's batch size, whichever
  // sampler runs; they are attached once the SDK has started (see attachable-processor.ts).
  const exporting = deferred ?? new AttachableSpanProcessor();
  const kept = new KeptSpans();
  exporting.attach(kept);
  const exportingLogs = new AttachableLogRecordProcessor();

  // The SDK's counts of spans and log records (otel.sdk.span.*, otel.sdk.log.created): Lookout keeps
  // them itself, at an increment each, when its sampler runs; with one from OTEL_TRACES_SAMPLER, which
  // Lookout cannot wrap, the SDK records them. The batch processors' queue metrics come either way.
  const counts = sampler ? new SdkCounts() : undefined;
  if (counts) process.env.OTEL_NODE_EXPERIMENTAL_SDK_METRICS = 'false';
  else process.env.OTEL_NODE_EXPERIMENTAL_SDK_METRICS ??= 'true';
  const instrumentations = await createInstrumentations(env);

  const sdk = new NodeSDK({
    // Defaults first: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override them.
    resource: defaultResource().merge(
      resourceFromAttributes({
        'service.name': 'lookout',
        'service.version': version,
        'service.instance.id': randomUUID(),
        'deployment.environment.name': config.telemetry.environment,
      }),
    ),
    instrumentations,
    ...(sampler && counts ? { sampler: counts.countingSampler(sampler) } : {}),
    // Spans are always made (their ids go on log lines); they leave the process only with an exporter.
    spanProcessors: counts ? [counts.spanProcessor, exporting] : [exporting],
    logRecordProcessors: [...(counts ? [counts.logProcessor] : []), ...(logExporter ? [exportingLogs] : [])],
    metricReaders: readers,
    views: [
      histogramView(metricNames.serverOperationDuration),
      histogramView(metricNames.clientOperationDuration),
      histogramView(metricNames.httpServerRequestDuration),
    ],
  });
  sdk.start();
  // winston-transport reads the logger provider from @opentelemetry/api-logs' global, not from
  // @opentelemetry/api's where the SDK registers it; without this, records are dropped silently.
  legacyLogsApi.setGlobalLoggerProvider(logs.getLoggerProvider() as never);
  accounting.startCounting();
  if (sampler) sampler.instrument(metrics.getMeter(instrumentationScope));
  counts?.observe(metrics.getMeter(instrumentationScope));
  if (traceExporter) kept.exporting.attach(spanBatchProcessorFromEnv(traceExporter));
  if (logExporter) exportingLogs.attach(logBatchProcessorFromEnv(logExporter));

  let metricsHandler: TelemetryRuntime['metricsHandler'];
  let metricsServer: ReturnType<typeof createServer> | undefined;
  if (prometheus) {
    const handler = prometheus.getMetricsRequestHandler.bind(prometheus);
    if (config.telemetry.metricsPort === undefined) {
      metricsHandler = handler;
    } else {
      metricsServer = createServer((req, res) => {
        if (req.url?.split('?')[0] === '/metrics') handler(req, res);
        else res.writeHead(404).end();
      });
      metricsServer.listen(config.telemetry.metricsPort, config.host);
    }
  }

  return {
    enabled: true,
    otlpLogs,
    sampling: () =>
      sampler
        ? { sampler: sampler.toString(), pendingExchanges: roots.pending, keys: sampler.snapshot() }
        : { sampler: `OTEL_TRACES_SAMPLER=${env.OTEL_TRACES_SAMPLER}` },
    metricsHandler,
    live: { collectMetrics: () => collectNow(liveReader), observeKeptSpans: (p) => kept.observe(p) },
    attachLogger: (logger) => accounting.attach(logger),
    async shutdown() {
      metricsServer?.close();
      await sdk
        .shutdown()
        .catch((error: Error) => accounting.warn('telemetry shutdown incomplete', { error: error.message }));
    },
  };
}
