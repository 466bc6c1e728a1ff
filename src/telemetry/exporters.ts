import type { MeterProvider } from '@opentelemetry/api';
import { OTLPLogExporter as OTLPJsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OTLPProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as OTLPJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  BatchLogRecordProcessor,
  ConsoleLogRecordExporter,
  type LogRecordExporter,
  type LogRecordProcessor,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  ConsoleMetricExporter,
  InstrumentType,
  type MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { countItems, countMetricSeries, type ExportAccounting } from './export-accounting.ts';
import { logProcessorOf, spanProcessorOf } from './fan-out.ts';
import type { OtelSettings } from './otel-env.ts';
import type { OwnHistograms } from './own-histograms.ts';

/** The OTLP exporter of each signal that has one, counted by the accounting. */
export interface OtlpExporters {
  readonly traces: SpanExporter | undefined;
  readonly metrics: PushMetricExporter | undefined;
  readonly logs: LogRecordExporter | undefined;
}

/**
 * The OTLP exporters, each reading its endpoint, headers, timeout and compression from the standard
 * variables itself. The gRPC ones (and gRPC itself) are loaded only when a signal uses gRPC.
 */
export async function otlpExporters(
  settings: OtelSettings,
  accounting: ExportAccounting,
): Promise<OtlpExporters> {
  const { exporters, protocols } = settings;
  let traces: SpanExporter | undefined;
  if (exporters.traces.has('otlp')) {
    const exporter =
      protocols.traces === 'grpc'
        ? new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter()
        : protocols.traces === 'http/json'
          ? new OTLPJsonTraceExporter()
          : new OTLPProtoTraceExporter();
    traces = accounting.wrap(exporter, 'traces', countItems);
  }
  let metrics: PushMetricExporter | undefined;
  if (exporters.metrics.has('otlp')) {
    const exporter =
      protocols.metrics === 'grpc'
        ? new (await import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter()
        : protocols.metrics === 'http/json'
          ? new OTLPJsonMetricExporter()
          : new OTLPProtoMetricExporter();
    metrics = accounting.wrap(exporter, 'metrics', countMetricSeries);
  }
  let logs: LogRecordExporter | undefined;
  if (exporters.logs.has('otlp')) {
    const exporter =
      protocols.logs === 'grpc'
        ? new (await import('@opentelemetry/exporter-logs-otlp-grpc')).OTLPLogExporter()
        : protocols.logs === 'http/json'
          ? new OTLPJsonLogExporter()
          : new OTLPProtoLogExporter();
    logs = accounting.wrap(exporter, 'logs', countItems);
  }
  return { traces, metrics, logs };
}

/**
 * The metric readers of `OTEL_METRICS_EXPORTER` (or Lookout's default), handed to the SDK before it
 * starts; the Prometheus one is served by prometheus-server.ts.
 */
export function metricReaders(
  settings: OtelSettings,
  otlp: PushMetricExporter | undefined,
  histograms: OwnHistograms,
): { readers: MetricReader[]; prometheus: PrometheusExporter | undefined } {
  const chosen = settings.exporters.metrics;
  const { intervalMillis, timeoutMillis } = settings.metricExport;
  const periodic = (exporter: PushMetricExporter) =>
    new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: intervalMillis,
      exportTimeoutMillis: timeoutMillis,
      metricProducers: [
        histograms.producer(
          exporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ??
            AggregationTemporality.CUMULATIVE,
        ),
      ],
    });
  const readers: MetricReader[] = [];
  const prometheus = chosen.has('prometheus')
    ? new PrometheusExporter({
        preventServerStart: true,
        metricProducers: [histograms.producer(AggregationTemporality.CUMULATIVE)],
      })
    : undefined;
  if (prometheus) readers.push(prometheus);
  if (otlp) readers.push(periodic(otlp));
  if (chosen.has('console')) readers.push(periodic(new ConsoleMetricExporter()));
  return { readers, prometheus };
}

/**
 * The exporting span processors of `OTEL_TRACES_EXPORTER` (or Lookout's default), built once the SDK
 * has started: their queue metrics need its meter provider. OTLP goes through a batch, the console
 * exporter writes each span as it ends, as the SDK does it.
 */
export function spanExport(
  settings: OtelSettings,
  otlp: SpanExporter | undefined,
  meterProvider: MeterProvider,
): SpanProcessor | undefined {
  const processors: SpanProcessor[] = [];
  if (otlp)
    processors.push(
      new BatchSpanProcessor({ exporter: otlp, selfObsMeterProvider: meterProvider, ...settings.spanBatch }),
    );
  if (settings.exporters.traces.has('console'))
    processors.push(
      new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter(), selfObsMeterProvider: meterProvider }),
    );
  return spanProcessorOf(processors);
}

/** The exporting log record processors of `OTEL_LOGS_EXPORTER` (or Lookout's default), as for spans. */
export function logExport(
  settings: OtelSettings,
  otlp: LogRecordExporter | undefined,
  meterProvider: MeterProvider,
): LogRecordProcessor | undefined {
  const processors: LogRecordProcessor[] = [];
  if (otlp)
    processors.push(
      new BatchLogRecordProcessor({
        exporter: otlp,
        selfObsMeterProvider: meterProvider,
        ...settings.logBatch,
      }),
    );
  if (settings.exporters.logs.has('console'))
    processors.push(
      new SimpleLogRecordProcessor({
        exporter: new ConsoleLogRecordExporter(),
        selfObsMeterProvider: meterProvider,
      }),
    );
  return logProcessorOf(processors);
}
