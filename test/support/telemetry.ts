import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

/**
 * Global OpenTelemetry providers that keep every span and metric in memory, for tests of what Lookout
 * records: `install()` in `before`, `uninstall()` in `after`. Metrics are read on demand
 * (`reader.collect()` or `forceFlush()`), never on a timer.
 */
export class InMemoryTelemetry {
  readonly spans = new InMemorySpanExporter();
  readonly metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  readonly reader = new PeriodicExportingMetricReader({
    exporter: this.metricExporter,
    exportIntervalMillis: 3_600_000,
  });

  install(): void {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(
      new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: this.spans })] }),
    );
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [this.reader] }));
  }

  uninstall(): void {
    trace.disable();
    metrics.disable();
    context.disable();
    propagation.disable();
  }
}
