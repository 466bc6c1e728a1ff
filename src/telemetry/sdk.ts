import { randomUUID } from 'node:crypto';
import { DiagLogLevel, diag, logs, metrics } from '@opentelemetry/api';
import { logs as legacyLogsApi } from '@opentelemetry/api-logs';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { LookoutConfig } from '../config/schema.ts';
import { AttachableLogRecordProcessor, AttachableSpanProcessor } from './attachable-processor.ts';
import { attr, instrumentationScope, metricNames, operationDurationBuckets } from './conventions.ts';
import { diagLogger, ExportAccounting } from './export-accounting.ts';
import { logExport, metricReaders, otlpExporters, spanExport } from './exporters.ts';
import { createInstrumentations } from './instrumentations.ts';
import { collectNow, KeptSpans, OnDemandMetricReader } from './live-telemetry.ts';
import { readOtelEnv } from './otel-env.ts';
import { servePrometheus } from './prometheus-server.ts';
import type { TelemetryRuntime } from './runtime.ts';
import { DeferredRootProcessor } from './sampling/deferred-export.ts';
import { ProvisionalRoots } from './sampling/provisional.ts';
import { AdaptiveSampler } from './sampling/sampler.ts';
import { standardSampler } from './sampling/standard.ts';
import { SdkCounts } from './sdk-counts.ts';

type Env = Readonly<Record<string, string | undefined>>;

function histogramView(instrumentName: string): ViewOptions {
  return {
    instrumentName,
    aggregation: {
      type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
      options: { boundaries: [...operationDurationBuckets] },
    },
  };
}

/** Builds and starts the NodeSDK from Lookout's config and the standard variables (see otel-env.ts). */
export async function startSdk(config: LookoutConfig, env: Env, version: string): Promise<TelemetryRuntime> {
  const settings = readOtelEnv(env, config);
  const accounting = new ExportAccounting();
  diag.setLogger(diagLogger(accounting), DiagLogLevel.WARN);

  const otlp = await otlpExporters(settings, accounting);
  const { readers, prometheus } = metricReaders(settings, otlp.metrics);
  // The live view reads the metrics through the Prometheus reader when there is one: a reader of its
  // own would record every measurement of an instrument without a view once more.
  const liveReader = prometheus ?? new OnDemandMetricReader();
  if (!prometheus) readers.push(liveReader);
  // Lookout's adaptive sampler, unless the operator chose a standard one with OTEL_TRACES_SAMPLER.
  const roots = new ProvisionalRoots();
  const sampler = settings.sampler
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
  const chosenSampler =
    sampler ?? (settings.sampler && standardSampler(settings.sampler.name, settings.sampler.arg));

  // The exporting processors are built once the SDK has started (see attachable-processor.ts).
  const exporting = deferred ?? new AttachableSpanProcessor();
  const kept = new KeptSpans();
  exporting.attach(kept);
  const exportingLogs = new AttachableLogRecordProcessor();
  const exportsLogs = settings.exporters.logs.size > 0;

  // The SDK's counts of spans and log records (otel.sdk.span.*, otel.sdk.log.created), an increment
  // each, unless OTEL_NODE_EXPERIMENTAL_SDK_METRICS=true asks the SDK to record them itself.
  const counts = settings.sdkRecordsItsCounts ? undefined : new SdkCounts();
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
    spanLimits: settings.spanLimits,
    ...(chosenSampler && { sampler: counts ? counts.countingSampler(chosenSampler) : chosenSampler }),
    // Spans are always made (their ids go on log lines); they leave the process only with an exporter.
    spanProcessors: counts ? [counts.spanProcessor, exporting] : [exporting],
    logRecordProcessors: [...(counts ? [counts.logProcessor] : []), ...(exportsLogs ? [exportingLogs] : [])],
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
  const meterProvider = metrics.getMeterProvider();
  if (sampler) sampler.instrument(metrics.getMeter(instrumentationScope));
  counts?.observe(metrics.getMeter(instrumentationScope));
  const spans = spanExport(settings, otlp.traces, meterProvider);
  if (spans) kept.exporting.attach(spans);
  const records = logExport(settings, otlp.logs, meterProvider);
  if (records) exportingLogs.attach(records);

  const endpoint = prometheus
    ? servePrometheus(prometheus, settings.prometheus, (error) =>
        accounting.warn('prometheus endpoint failed', { error: error.message }),
      )
    : undefined;

  return {
    enabled: true,
    otlpLogs: exportsLogs,
    sampling: () =>
      sampler
        ? { sampler: sampler.toString(), pendingExchanges: roots.pending, keys: sampler.snapshot() }
        : { sampler: `OTEL_TRACES_SAMPLER=${settings.sampler?.name}` },
    metricsHandler: endpoint?.handler,
    live: { collectMetrics: () => collectNow(liveReader), observeKeptSpans: (p) => kept.observe(p) },
    // Port 0 gives no port to announce before the server listens, and nothing waits for it to.
    metricsPort:
      endpoint && !endpoint.handler && settings.prometheus.port !== 0 ? settings.prometheus.port : undefined,
    attachLogger: (logger) => accounting.attach(logger),
    async shutdown() {
      endpoint?.close();
      await sdk
        .shutdown()
        .catch((error: Error) => accounting.warn('telemetry shutdown incomplete', { error: error.message }));
    },
  };
}
