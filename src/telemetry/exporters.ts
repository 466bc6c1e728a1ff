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
  type LogRecordProcessor,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  ConsoleMetricExporter,
  type MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { countItems, countMetricSeries, type ExportAccounting } from './export-accounting.ts';
import { logProcessorOf, spanProcessorOf } from './fan-out.ts';
import type { OtelSettings } from './otel-env.ts';

/**
 * The metric readers of `OTEL_METRICS_EXPORTER` (or Lookout's default), handed to the SDK before it
 * starts; the Prometheus one is served by prometheus-server.ts.
 */
export function metricReaders(
  settings: OtelSettings,
  accounting: ExportAccounting,
): { readers: MetricReader[]; prometheus: PrometheusExporter | undefined } {
  const chosen = settings.exporters.metrics;
  const { intervalMillis, timeoutMillis } = settings.metricExport;
  const periodic = (exporter: PushMetricExporter) =>
    new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: intervalMillis,
      exportTimeoutMillis: timeoutMillis,
    });
  const readers: MetricReader[] = [];
  const prometheus = chosen.has('prometheus')
    ? new PrometheusExporter({ preventServerStart: true })
    : undefined;
  if (prometheus) readers.push(prometheus);
  if (chosen.has('otlp')) {
    const exporter =
      settings.protocols.metrics === 'http/json'
        ? new OTLPJsonMetricExporter()
        : new OTLPProtoMetricExporter();
    readers.push(periodic(accounting.wrap(exporter, 'metrics', countMetricSeries)));
  }
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
  accounting: ExportAccounting,
  meterProvider: MeterProvider,
): SpanProcessor | undefined {
  const chosen = settings.exporters.traces;
  const processors: SpanProcessor[] = [];
  if (chosen.has('otlp')) {
    const exporter =
      settings.protocols.traces === 'http/json' ? new OTLPJsonTraceExporter() : new OTLPProtoTraceExporter();
    processors.push(
      new BatchSpanProcessor({
        exporter: accounting.wrap(exporter, 'traces', countItems),
        selfObsMeterProvider: meterProvider,
        ...settings.spanBatch,
      }),
    );
  }
  if (chosen.has('console'))
    processors.push(
      new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter(), selfObsMeterProvider: meterProvider }),
    );
  return spanProcessorOf(processors);
}

/** The exporting log record processors of `OTEL_LOGS_EXPORTER` (or Lookout's default), as for spans. */
export function logExport(
  settings: OtelSettings,
  accounting: ExportAccounting,
  meterProvider: MeterProvider,
): LogRecordProcessor | undefined {
  const chosen = settings.exporters.logs;
  const processors: LogRecordProcessor[] = [];
  if (chosen.has('otlp')) {
    const exporter =
      settings.protocols.logs === 'http/json' ? new OTLPJsonLogExporter() : new OTLPProtoLogExporter();
    processors.push(
      new BatchLogRecordProcessor({
        exporter: accounting.wrap(exporter, 'logs', countItems),
        selfObsMeterProvider: meterProvider,
        ...settings.logBatch,
      }),
    );
  }
  if (chosen.has('console'))
    processors.push(
      new SimpleLogRecordProcessor({
        exporter: new ConsoleLogRecordExporter(),
        selfObsMeterProvider: meterProvider,
      }),
    );
  return logProcessorOf(processors);
}
