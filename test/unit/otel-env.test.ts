import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.ts';
import { readOtelEnv } from '../../src/telemetry/otel-env.ts';

const config = (telemetry: Record<string, unknown> = {}) => configSchema.parse({ telemetry });

describe('the standard variables against Lookout options', () => {
  it('unset: Lookout defaults (Prometheus, OTLP only with an endpoint, 15 s, batches of 128)', () => {
    const settings = readOtelEnv({}, config());
    assert.deepEqual([...settings.exporters.metrics], ['prometheus']);
    assert.equal(settings.exporters.traces.size + settings.exporters.logs.size, 0);
    assert.deepEqual(settings.metricExport, { intervalMillis: 15_000, timeoutMillis: 15_000 });
    assert.equal(settings.spanBatch.maxExportBatchSize, 128);
    assert.deepEqual(settings.prometheus, { host: '127.0.0.1', port: undefined });
  });

  it('an endpoint for one signal turns OTLP on for that signal only', () => {
    const settings = readOtelEnv({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://c:4318/v1/logs' }, config());
    assert.deepEqual([...settings.exporters.logs], ['otlp']);
    assert.equal(settings.exporters.traces.size, 0);
    assert.deepEqual([...settings.exporters.metrics], ['prometheus']);
  });

  it('a standard variable wins over the Lookout option naming the same setting', () => {
    const settings = readOtelEnv(
      {
        OTEL_METRIC_EXPORT_INTERVAL: '5000',
        OTEL_METRIC_EXPORT_TIMEOUT: '60000',
        OTEL_EXPORTER_PROMETHEUS_PORT: '9464',
        OTEL_METRICS_EXPORTER: 'otlp, prometheus',
      },
      config({ otlpMetricsIntervalSeconds: 60, metricsPort: 9100, prometheus: false }),
    );
    assert.deepEqual(settings.metricExport, { intervalMillis: 5000, timeoutMillis: 5000 }, 'timeout clamped');
    assert.equal(settings.prometheus.port, 9464);
    assert.deepEqual([...settings.exporters.metrics].sort(), ['otlp', 'prometheus']);
  });

  it('the Lookout option applies when the standard variable is unset', () => {
    const settings = readOtelEnv({}, config({ otlpMetricsIntervalSeconds: 60, metricsPort: 9100 }));
    assert.equal(settings.metricExport.intervalMillis, 60_000);
    assert.equal(settings.metricExport.timeoutMillis, 30_000);
    assert.equal(settings.prometheus.port, 9100);
  });

  it('none switches a signal off; per-signal protocol wins', () => {
    const settings = readOtelEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
        OTEL_LOGS_EXPORTER: 'none',
      },
      config(),
    );
    assert.equal(settings.exporters.logs.size, 0);
    assert.equal(settings.protocols.traces, 'grpc');
    assert.equal(settings.protocols.metrics, 'http/json');
  });

  for (const [name, value] of [
    ['OTEL_TRACES_EXPORTER', 'zipkin'],
    ['OTEL_LOGS_EXPORTER', 'prometheus'],
    ['OTEL_METRIC_EXPORT_INTERVAL', 'soon'],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '-1'],
    ['OTEL_EXPORTER_PROMETHEUS_PORT', '70000'],
    ['OTEL_TRACES_SAMPLER_ARG', '2'],
  ] as const) {
    it(`${name}=${value} is refused with a message naming it`, () => {
      assert.throws(
        () => readOtelEnv({ [name]: value, OTEL_TRACES_SAMPLER: 'traceidratio' }, config()),
        new RegExp(name),
      );
    });
  }
});
