import { randomUUID } from 'node:crypto';
import { DiagLogLevel, diag, logs, metrics } from '@opentelemetry/api';
import { logs as legacyLogsApi } from '@opentelemetry/api-logs';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { LookoutConfig } from '../config/schema.ts';
import { AttachableLogRecordProcessor, AttachableSpanProcessor } from './attachable-processor.ts';
import { lookoutScope } from './conventions.ts';
import { diagLogger, ExportAccounting } from './export-accounting.ts';
import { logExport, metricReaders, otlpExporters, spanExport } from './exporters.ts';
import { createInstrumentations } from './instrumentations.ts';
import { collectNow, KeptSpans, OnDemandMetricReader } from './live-telemetry.ts';
import { lookoutMeter } from './lookout-scope.ts';
import { readOtelEnv } from './otel-env.ts';
import { OwnHistograms } from './own-histograms.ts';
import { servePrometheus } from './prometheus-server.ts';
import type { TelemetryRuntime } from './runtime.ts';
import { ExchangeSampling, GivenIds } from './sampling/exchange-sampling.ts';
import { AdaptiveSampler } from './sampling/sampler.ts';
import { standardSampler } from './sampling/standard.ts';
import { SdkCounts } from './sdk-counts.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Builds and starts the NodeSDK from Lookout's config and the standard variables (see otel-env.ts). */
export async function startSdk(config: LookoutConfig, env: Env, version: string): Promise<TelemetryRuntime> {
  const settings = readOtelEnv(env, config);
  const accounting = new ExportAccounting();
  diag.setLogger(diagLogger(accounting), DiagLogLevel.WARN);

  const otlp = await otlpExporters(settings, accounting);
  // The durations recorded on every call are aggregated by Lookout and read by each reader (own-histograms.ts).
  const scope = lookoutScope(version);
  const histograms = new OwnHistograms(scope);
  const { readers, prometheus } = metricReaders(settings, otlp.metrics, histograms);
  // The live view reads the metrics through the Prometheus reader when there is one: a reader of its
  // own would record every measurement of an SDK instrument once more.
  const liveReader =
    prometheus ??
    new OnDemandMetricReader({ metricProducers: [histograms.producer(AggregationTemporality.CUMULATIVE)] });
  if (!prometheus) readers.push(liveReader);
  // Lookout's adaptive sampler, unless the operator chose a standard one with OTEL_TRACES_SAMPLER.
  const sampler = settings.sampler
    ? undefined
    : new AdaptiveSampler({ ...config.telemetry.sampling, mcpPath: config.mcp.path });
  // With it, the MCP endpoint's exchanges are decided before their spans are made (exchange-sampling.ts).
  const ids = new GivenIds();
  const exchangeSampling = sampler
    ? new ExchangeSampling(sampler, ids, config.telemetry.sampling, scope)
    : undefined;
  const chosenSampler =
    sampler ?? (settings.sampler && standardSampler(settings.sampler.name, settings.sampler.arg));

  // The exporting processors are built once the SDK has started (see attachable-processor.ts).
  const exporting = new AttachableSpanProcessor();
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
    idGenerator: ids,
    ...(chosenSampler && { sampler: counts ? counts.countingSampler(chosenSampler) : chosenSampler }),
    // Spans are always made (their ids go on log lines); they leave the process only with an exporter.
    spanProcessors: counts ? [counts.spanProcessor, exporting] : [exporting],
    logRecordProcessors: [...(counts ? [counts.logProcessor] : []), ...(exportsLogs ? [exportingLogs] : [])],
    metricReaders: readers,
  });
  sdk.start();
  // winston-transport reads the logger provider from @opentelemetry/api-logs' global, not from
  // @opentelemetry/api's where the SDK registers it; without this, records are dropped silently.
  legacyLogsApi.setGlobalLoggerProvider(logs.getLoggerProvider() as never);
  const meterProvider = metrics.getMeterProvider();
  const meter = lookoutMeter(scope, meterProvider);
  accounting.startCounting(meter);
  if (sampler) sampler.instrument(meter);
  counts?.observe(meter);
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
        ? { sampler: sampler.toString(), keys: sampler.snapshot() }
        : { sampler: `OTEL_TRACES_SAMPLER=${settings.sampler?.name}` },
    metricsHandler: endpoint?.handler,
    exchangeSampling,
    histograms: histograms.create,
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
