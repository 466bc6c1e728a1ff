import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Context, ROOT_CONTEXT, type Span, TraceFlags, type Tracer, trace } from '@opentelemetry/api';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { type Sampler, SamplingDecision, TracerProvider } from '@opentelemetry/sdk-trace';
import { metricNames } from '../../src/telemetry/conventions.ts';
import { SdkCounts } from '../../src/telemetry/sdk-counts.ts';

/** Decides by span name, so that every sampling result and parent origin occurs. */
const byName: Sampler = {
  shouldSample: (_context, _traceId, name) => ({
    decision: name.startsWith('drop')
      ? SamplingDecision.NOT_RECORD
      : name.startsWith('record')
        ? SamplingDecision.RECORD
        : SamplingDecision.RECORD_AND_SAMPLED,
  }),
};

const sdkCountNames: ReadonlySet<string> = new Set([
  metricNames.sdkSpanStarted,
  metricNames.sdkSpanLive,
  metricNames.sdkLogCreated,
]);

function meterProvider() {
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({ readers: [reader] });
  /** Each series of the SDK's span and log counts as `name {attributes}` → value. */
  const read = async () => {
    const { resourceMetrics } = await reader.collect();
    const series = new Map<string, number>();
    for (const scope of resourceMetrics.scopeMetrics)
      for (const metric of scope.metrics) {
        const name = metric.descriptor.name;
        if (!sdkCountNames.has(name)) continue;
        for (const point of metric.dataPoints)
          series.set(`${name} ${JSON.stringify(point.attributes)}`, point.value as number);
      }
    return series;
  };
  return { provider, read };
}

/** Roots, local and remote children with every sampling result; some spans ended, some still live. */
function workload(tracer: Tracer): Span[] {
  const remote: Context = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
  const open: Span[] = [];
  for (let i = 0; i < 3; i++) {
    for (const name of ['sampled', 'record', 'drop']) {
      const root = tracer.startSpan(`${name} root`, {}, ROOT_CONTEXT);
      const local = tracer.startSpan(`${name} child`, {}, trace.setSpan(ROOT_CONTEXT, root));
      const fromRemote = tracer.startSpan(`${name} remote`, {}, remote);
      local.end();
      if (i === 0) open.push(root, fromRemote);
      else {
        root.end();
        fromRemote.end();
      }
    }
  }
  return open;
}

const withoutZeros = (series: Map<string, number>) => new Map([...series].filter(([, value]) => value !== 0));

describe('SdkCounts', () => {
  it('counts started and live spans exactly as the SDK does, series for series', async () => {
    const sdk = meterProvider();
    const sdkTracer = new TracerProvider({
      sampler: byName,
      meterProvider: sdk.provider,
    }).getTracer('test');
    const lookout = meterProvider();
    const counts = new SdkCounts();
    counts.observe(lookout.provider.getMeter('lookout'));
    const lookoutTracer = new TracerProvider({
      sampler: counts.countingSampler(byName),
      spanProcessors: [counts.spanProcessor],
    }).getTracer('test');

    workload(sdkTracer);
    workload(lookoutTracer);

    const expected = await sdk.read();
    const actual = await lookout.read();
    assert.equal(
      expected.get(
        `${metricNames.sdkSpanStarted} {"otel.span.parent.origin":"remote","otel.span.sampling_result":"DROP"}`,
      ),
      3,
    );
    assert.equal(
      expected.get(`${metricNames.sdkSpanLive} {"otel.span.sampling_result":"RECORD_AND_SAMPLE"}`),
      2,
    );
    assert.deepEqual(withoutZeros(actual), withoutZeros(expected));
  });

  it('reports live spans at 0 before any span, so the series exist from start-up', async () => {
    const lookout = meterProvider();
    new SdkCounts().observe(lookout.provider.getMeter('lookout'));
    const series = await lookout.read();
    assert.equal(series.get(`${metricNames.sdkSpanLive} {"otel.span.sampling_result":"RECORD_ONLY"}`), 0);
    assert.equal(
      series.get(`${metricNames.sdkSpanLive} {"otel.span.sampling_result":"RECORD_AND_SAMPLE"}`),
      0,
    );
  });

  it('counts log records as the SDK does', async () => {
    const sdk = meterProvider();
    const sdkLogger = new LoggerProvider({
      meterProvider: sdk.provider,
      processors: [new SdkCounts().logProcessor],
    }).getLogger('test');
    const lookout = meterProvider();
    const counts = new SdkCounts();
    counts.observe(lookout.provider.getMeter('lookout'));
    const lookoutLogger = new LoggerProvider({ processors: [counts.logProcessor] }).getLogger('test');
    for (let i = 0; i < 5; i++) {
      sdkLogger.emit({ body: `line ${i}` });
      lookoutLogger.emit({ body: `line ${i}` });
    }
    const expected = await sdk.read();
    assert.equal(expected.get(`${metricNames.sdkLogCreated} {}`), 5);
    assert.deepEqual(withoutZeros(await lookout.read()), withoutZeros(expected));
  });
});
