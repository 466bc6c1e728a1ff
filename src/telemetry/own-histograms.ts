import { type Attributes, type Histogram, type HrTime, type Meter, ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type HistogramMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { LookoutScope } from './conventions.ts';

/** What a histogram of Lookout's per-call durations is made of. */
export interface HistogramSpec {
  readonly description: string;
  readonly unit: string;
  /** Explicit bucket boundaries, ascending. */
  readonly boundaries: readonly number[];
}

/** Makes the histograms Lookout records on every call: the SDK's, or Lookout's own (below). */
export type HistogramFactory = (name: string, spec: HistogramSpec) => Histogram;

/** The SDK's histograms, through a meter: what Lookout records into when it did not start the SDK itself. */
export function sdkHistograms(meter: Meter): HistogramFactory {
  return (name, { description, unit, boundaries }) =>
    meter.createHistogram(name, {
      description,
      unit,
      advice: { explicitBucketBoundaries: [...boundaries] },
    });
}

/** The SDK's default cardinality limit: past it, points go to one overflow series, as the SDK's do. */
const cardinalityLimit = 2000;
const overflowAttributes: Attributes = Object.freeze({ 'otel.metric.overflow': true });
const noAttributes: Attributes = Object.freeze({});

/** The SDK's identity of an attribute set: its entries sorted by key. */
function contentKey(attributes: Attributes): string {
  const keys = Object.keys(attributes).sort();
  return JSON.stringify(keys.map((key) => [key, attributes[key]]));
}

/** Counts, sum, min and max over one interval (or since the start, for cumulative readers). */
class Accumulation {
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  startTime: HrTime;

  constructor(buckets: number, startTime: HrTime) {
    this.counts = new Array<number>(buckets).fill(0);
    this.startTime = startTime;
  }
}

/** One attribute set's series: an accumulation per slot (the cumulative one, then one per delta reader). */
interface Series {
  readonly attributes: Attributes;
  readonly slots: Accumulation[];
}

/**
 * A histogram aggregated by Lookout rather than by the SDK, and read by the SDK's metric readers
 * through a `MetricProducer`. The SDK identifies a point's series by hashing its attribute set on
 * every recording (sorting the keys and serializing them); Lookout records its per-call durations with
 * attribute sets built once per combination and frozen (attribute-sets.ts), so the series is found by
 * the object itself, and a set seen for the first time, or not frozen, is identified as the SDK does.
 */
class OwnHistogram implements Histogram {
  readonly name: string;
  readonly spec: HistogramSpec;
  readonly #boundaries: readonly number[];
  readonly #slotCount: number;
  readonly #byObject = new WeakMap<Attributes, Series>();
  readonly #byContent = new Map<string, Series>();
  /** The series in the order they were first recorded. */
  readonly series: Series[] = [];

  constructor(name: string, spec: HistogramSpec, slotCount: number) {
    this.name = name;
    this.spec = spec;
    this.#boundaries = spec.boundaries;
    this.#slotCount = slotCount;
  }

  record(value: number, attributes: Attributes = noAttributes): void {
    // As the SDK's histograms: a value that is not a number, or negative, is not recorded.
    if (!(value >= 0)) return;
    const series = this.#byObject.get(attributes) ?? this.#seriesOf(attributes);
    const boundaries = this.#boundaries;
    let bucket = 0;
    while (bucket < boundaries.length && (boundaries[bucket] as number) < value) bucket++;
    for (const slot of series.slots) {
      slot.count++;
      slot.sum += value;
      if (value < slot.min) slot.min = value;
      if (value > slot.max) slot.max = value;
      (slot.counts[bucket] as number)++;
    }
  }

  #seriesOf(attributes: Attributes): Series {
    const key = contentKey(attributes);
    let series = this.#byContent.get(key);
    if (!series) {
      // As the SDK: the last series of the limit is the overflow one.
      if (this.#byContent.size >= cardinalityLimit - 1 && attributes !== overflowAttributes)
        return this.#seriesOf(overflowAttributes);
      const start = hrTime();
      const buckets = this.#boundaries.length + 1;
      series = {
        attributes: Object.freeze({ ...attributes }),
        slots: Array.from({ length: this.#slotCount }, () => new Accumulation(buckets, start)),
      };
      this.#byContent.set(key, series);
      this.series.push(series);
    }
    // Only a frozen set keeps its content: a mutable one could be changed after it is recorded.
    if (Object.isFrozen(attributes)) this.#byObject.set(attributes, series);
    return series;
  }

  /** The metric of one slot, as the SDK's readers expect it; undefined when nothing was recorded. */
  metricData(
    slot: number,
    temporality: AggregationTemporality,
    now: HrTime,
  ): HistogramMetricData | undefined {
    const delta = temporality === AggregationTemporality.DELTA;
    const buckets = this.#boundaries.length + 1;
    const dataPoints: HistogramMetricData['dataPoints'] = [];
    for (const series of this.series) {
      const accumulation = series.slots[slot] as Accumulation;
      if (accumulation.count === 0) continue;
      dataPoints.push({
        attributes: series.attributes,
        startTime: accumulation.startTime,
        endTime: now,
        value: {
          buckets: { boundaries: [...this.#boundaries], counts: [...accumulation.counts] },
          count: accumulation.count,
          sum: accumulation.sum,
          min: accumulation.min,
          max: accumulation.max,
        },
      });
      if (delta) series.slots[slot] = new Accumulation(buckets, now);
    }
    if (dataPoints.length === 0) return undefined;
    return {
      descriptor: {
        name: this.name,
        description: this.spec.description,
        unit: this.spec.unit,
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality: temporality,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }
}

/**
 * Lookout's own histograms for the durations it records on every call, one producer per metric
 * reader. Cumulative readers share one accumulation per series; each delta reader has its own, reset
 * when it collects. The readers' temporalities are given before any histogram is made.
 */
export class OwnHistograms {
  readonly #scope: LookoutScope;
  readonly #histograms: OwnHistogram[] = [];
  /** Slot 0 is the cumulative readers'; slot i > 0 the i-th delta reader's. */
  #slotCount = 1;

  constructor(scope: LookoutScope) {
    this.#scope = scope;
  }

  /** The producer to give a reader of this temporality (its `metricProducers`). */
  producer(temporality: AggregationTemporality): MetricProducer {
    if (this.#histograms.length > 0)
      throw new Error('metric producers must be made before the first histogram');
    const slot = temporality === AggregationTemporality.DELTA ? this.#slotCount++ : 0;
    return { collect: () => Promise.resolve(this.#collect(slot, temporality)) };
  }

  readonly create: HistogramFactory = (name, spec) => {
    const histogram = new OwnHistogram(name, spec, this.#slotCount);
    this.#histograms.push(histogram);
    return histogram;
  };

  #collect(slot: number, temporality: AggregationTemporality): CollectionResult {
    const now = hrTime();
    const metrics = this.#histograms
      .map((histogram) => histogram.metricData(slot, temporality, now))
      .filter((metric) => metric !== undefined);
    return {
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: metrics.length > 0 ? [{ scope: this.#scope, metrics }] : [],
      },
      errors: [],
    };
  }
}
