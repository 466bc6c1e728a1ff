import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type HistogramMetricData,
  MeterProvider,
  type MetricReader,
} from '@opentelemetry/sdk-metrics';
import { lookoutScope } from '../../src/telemetry/conventions.ts';
import { OnDemandMetricReader } from '../../src/telemetry/live-telemetry.ts';
import { OwnHistograms, sdkHistograms } from '../../src/telemetry/own-histograms.ts';

const spec = { description: 'A duration.', unit: 's', boundaries: [0.001, 0.01, 0.1, 1] };
const scope = lookoutScope('0.0.0-test');

type Recording = readonly [number, Attributes | undefined];

/** What a reader sees of the one histogram: points in a comparable form, sorted by attributes. */
async function points(reader: MetricReader) {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics) as HistogramMetricData[];
  const metric = metrics.find((m) => m.descriptor.name === 'test.duration');
  return {
    descriptor: metric && {
      name: metric.descriptor.name,
      description: metric.descriptor.description,
      unit: metric.descriptor.unit,
      temporality: metric.aggregationTemporality,
      dataPointType: metric.dataPointType,
    },
    points: (metric?.dataPoints ?? [])
      .map((p) => ({ attributes: { ...p.attributes }, value: p.value }))
      .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes))),
  };
}

/** The same recordings into the SDK's histogram and Lookout's own, each read by a reader of `temporality`. */
function pair(temporality: AggregationTemporality) {
  const selector = () => temporality;
  const sdkReader = new OnDemandMetricReader({ aggregationTemporalitySelector: selector });
  const sdk = sdkHistograms(new MeterProvider({ readers: [sdkReader] }).getMeter('test'))(
    'test.duration',
    spec,
  );
  const own = new OwnHistograms(scope);
  const ownReader = new OnDemandMetricReader({
    aggregationTemporalitySelector: selector,
    metricProducers: [own.producer(temporality)],
  });
  new MeterProvider({ readers: [ownReader] });
  const histogram = own.create('test.duration', spec);
  return {
    record(recordings: readonly Recording[]) {
      for (const [value, attributes] of recordings) {
        sdk.record(value, attributes);
        histogram.record(value, attributes);
      }
    },
    async assertSame(message: string) {
      const [fromSdk, fromOwn] = [await points(sdkReader), await points(ownReader)];
      assert.deepEqual(fromOwn, fromSdk, message);
      return fromOwn;
    },
  };
}

const frozen = Object.freeze({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo' });
const sameContentOtherOrder = { 'gen_ai.tool.name': 'echo', 'mcp.method.name': 'tools/call' };
const other = Object.freeze({ 'mcp.method.name': 'tools/list' });

const first: Recording[] = [
  [0.0004, frozen],
  [0.001, frozen], // on a boundary: counted in the bucket it bounds
  [0.05, sameContentOtherOrder], // the same series, from a set built per call
  [3, frozen], // past the last boundary
  [0.02, other],
  [0.5, undefined],
  [Number.NaN, frozen], // not recorded
  [-1, other], // not recorded
];

describe('own histograms', () => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    const name = temporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta';
    it(`give a ${name} reader what the SDK's histogram gives it, collection after collection`, async () => {
      const histograms = pair(temporality);
      assert.equal((await histograms.assertSame('nothing recorded: no metric')).descriptor, undefined);
      histograms.record(first);
      const once = await histograms.assertSame('after the first recordings');
      assert.equal(once.points.length, 3, 'three series: the frozen set, the other, none');
      assert.deepEqual(once.points.find((p) => p.attributes['gen_ai.tool.name'] === 'echo')?.value.buckets, {
        boundaries: spec.boundaries,
        counts: [2, 0, 1, 0, 1],
      });
      histograms.record([
        [0.003, frozen],
        [0.2, other],
      ]);
      await histograms.assertSame('after more recordings');
      await histograms.assertSame('after none');
    });
  }

  it('send series past the cardinality limit to the overflow series, as the SDK does', async () => {
    const histograms = pair(AggregationTemporality.CUMULATIVE);
    const sets = Array.from({ length: 2100 }, (_, i) => Object.freeze({ id: i }));
    histograms.record(sets.map((set) => [0.01, set] as const));
    histograms.record(sets.map((set) => [0.01, set] as const));
    const { points: seen } = await histograms.assertSame('over the limit');
    assert.equal(seen.length, 2000);
    assert.equal(seen.find((p) => p.attributes['otel.metric.overflow'] === true)?.value.count, 2 * 101);
  });

  it('refuse a producer made after the first histogram, whose readers would miss its slot', () => {
    const own = new OwnHistograms(scope);
    own.create('test.duration', spec);
    assert.throws(() => own.producer(AggregationTemporality.DELTA), /before the first histogram/);
  });
});
