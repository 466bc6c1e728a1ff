import type { LookoutConfig } from '../config/schema.ts';

/**
 * The standard OpenTelemetry variables that decide what Lookout builds, read once at start-up. What
 * the SDK reads itself is left to it: each OTLP exporter's endpoint, headers, timeout and compression,
 * `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (the env resource detector), the span and log
 * record limits, `OTEL_PROPAGATORS`. Values the SDK would warn about and ignore stop telemetry here
 * with a message naming the variable: a setting that silently does nothing is worse.
 */

type Env = Readonly<Record<string, string | undefined>>;

export const signals = ['traces', 'metrics', 'logs'] as const;
export type Signal = (typeof signals)[number];

export type ExporterName = 'otlp' | 'console' | 'prometheus';
export type OtlpProtocol = 'http/json' | 'http/protobuf' | 'grpc';

export interface BatchSettings {
  readonly maxQueueSize: number | undefined;
  readonly scheduledDelayMillis: number | undefined;
  readonly exportTimeoutMillis: number | undefined;
  readonly maxExportBatchSize: number;
}

export interface OtelSettings {
  /** The exporters of each signal; empty when the signal is not exported. */
  readonly exporters: Readonly<Record<Signal, ReadonlySet<ExporterName>>>;
  readonly protocols: Readonly<Record<Signal, OtlpProtocol>>;
  /** How often pushed metrics (OTLP, console) are collected and exported, and how long one export may take. */
  readonly metricExport: { readonly intervalMillis: number; readonly timeoutMillis: number };
  readonly spanBatch: BatchSettings;
  readonly logBatch: BatchSettings;
  /** Where /metrics is served: a port of its own, or the main port when `port` is undefined. */
  readonly prometheus: { readonly host: string; readonly port: number | undefined };
  /** `OTEL_TRACES_SAMPLER` and its argument, when a standard sampler replaces Lookout's. */
  readonly sampler: { readonly name: string; readonly arg: number | undefined } | undefined;
  /**
   * The span limits the specification names but NodeSDK does not read (it reads the rest of
   * `OTEL_SPAN_*_LIMIT` and `OTEL_ATTRIBUTE_*_LIMIT` itself); only those set, so as not to mask its own.
   */
  readonly spanLimits: { attributePerEventCountLimit?: number; attributePerLinkCountLimit?: number };
  /** `OTEL_NODE_EXPERIMENTAL_SDK_METRICS=true`: the SDK records its own span and log counts. */
  readonly sdkRecordsItsCounts: boolean;
}

const exporterChoices: Readonly<Record<Signal, readonly string[]>> = {
  traces: ['otlp', 'console', 'none'],
  metrics: ['otlp', 'console', 'prometheus', 'none'],
  logs: ['otlp', 'console', 'none'],
};

/**
 * Spans or log records per OTLP export when `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` / `OTEL_BLRP_…` is unset
 * (the SDK's default is 512). A batch is serialized in one synchronous step and requests that arrive
 * meanwhile wait, so smaller batches shorten the tail at load. The price: one export is in flight per
 * signal, so a collector far away (tens of ms per round trip) may need larger batches to keep up.
 */
const defaultExportBatchSize = 128;
/** The specification's default export timeout for metrics. */
const defaultMetricExportTimeoutMillis = 30_000;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function positiveNumber(env: Env, name: string): number | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return value;
}

function port(env: Env, name: string): number | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new Error(`${name}=${raw}: expected a port number 0-65535`);
  return value;
}

/** `OTEL_EXPORTER_OTLP_{SIGNAL}_…`, else `OTEL_EXPORTER_OTLP_…`. */
function perSignal(env: Env, signal: Signal, suffix: string): string | undefined {
  return (
    text(env, `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_${suffix}`) ??
    text(env, `OTEL_EXPORTER_OTLP_${suffix}`)
  );
}

function protocolOf(env: Env, signal: Signal): OtlpProtocol {
  const protocol = perSignal(env, signal, 'PROTOCOL') ?? 'http/protobuf';
  if (protocol === 'http/json' || protocol === 'http/protobuf' || protocol === 'grpc') return protocol;
  throw new Error(
    `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported; use http/protobuf, http/json or grpc`,
  );
}

/**
 * `OTEL_{SIGNAL}_EXPORTER` when set. Unset, OTLP is on only when an endpoint is set for the signal (the
 * specification's default is OTLP to localhost, but `npm start` must need no collector), and metrics
 * are also served to Prometheus unless `telemetry.prometheus` is false.
 */
function exportersOf(env: Env, signal: Signal, prometheusByDefault: boolean): Set<ExporterName> {
  const name = `OTEL_${signal.toUpperCase()}_EXPORTER`;
  const raw = text(env, name);
  if (raw === undefined) {
    const chosen = new Set<ExporterName>();
    if (perSignal(env, signal, 'ENDPOINT')) chosen.add('otlp');
    if (signal === 'metrics' && prometheusByDefault) chosen.add('prometheus');
    return chosen;
  }
  const listed = raw
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '');
  for (const item of listed) {
    if (!exporterChoices[signal].includes(item))
      throw new Error(
        `${name}=${raw}: "${item}" is not supported; use ${exporterChoices[signal].join(', ')}`,
      );
  }
  if (listed.includes('none')) return new Set();
  return new Set(listed as ExporterName[]);
}

function batchOf(env: Env, prefix: 'OTEL_BSP' | 'OTEL_BLRP'): BatchSettings {
  return {
    maxQueueSize: positiveNumber(env, `${prefix}_MAX_QUEUE_SIZE`),
    scheduledDelayMillis: positiveNumber(env, `${prefix}_SCHEDULE_DELAY`),
    exportTimeoutMillis: positiveNumber(env, `${prefix}_EXPORT_TIMEOUT`),
    maxExportBatchSize: positiveNumber(env, `${prefix}_MAX_EXPORT_BATCH_SIZE`) ?? defaultExportBatchSize,
  };
}

function samplerOf(env: Env): OtelSettings['sampler'] {
  const name = text(env, 'OTEL_TRACES_SAMPLER');
  if (name === undefined) return undefined;
  const raw = text(env, 'OTEL_TRACES_SAMPLER_ARG');
  const arg = raw === undefined ? undefined : Number(raw);
  if (arg !== undefined && !(arg >= 0 && arg <= 1))
    throw new Error(`OTEL_TRACES_SAMPLER_ARG=${raw}: expected a ratio between 0 and 1`);
  return { name, arg };
}

function spanLimitsOf(env: Env): OtelSettings['spanLimits'] {
  const perEvent = positiveNumber(env, 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT');
  const perLink = positiveNumber(env, 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT');
  return {
    ...(perEvent !== undefined && { attributePerEventCountLimit: perEvent }),
    ...(perLink !== undefined && { attributePerLinkCountLimit: perLink }),
  };
}

/**
 * Reads the standard variables, with Lookout's own options as the fallback where both name the same
 * setting: a standard variable that is set wins (see docs/telemetry-configuration.md).
 */
export function readOtelEnv(env: Env, config: LookoutConfig): OtelSettings {
  const { telemetry } = config;
  const intervalMillis =
    positiveNumber(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? telemetry.otlpMetricsIntervalSeconds * 1000;
  const timeoutMillis = Math.min(
    positiveNumber(env, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? defaultMetricExportTimeoutMillis,
    intervalMillis,
  );
  const exporters = {
    traces: exportersOf(env, 'traces', false),
    metrics: exportersOf(env, 'metrics', telemetry.prometheus),
    logs: exportersOf(env, 'logs', false),
  };
  const protocol = (signal: Signal) =>
    exporters[signal].has('otlp') ? protocolOf(env, signal) : 'http/protobuf';
  return {
    exporters,
    protocols: { traces: protocol('traces'), metrics: protocol('metrics'), logs: protocol('logs') },
    metricExport: { intervalMillis, timeoutMillis },
    spanBatch: batchOf(env, 'OTEL_BSP'),
    logBatch: batchOf(env, 'OTEL_BLRP'),
    prometheus: {
      host: text(env, 'OTEL_EXPORTER_PROMETHEUS_HOST') ?? config.host,
      port: port(env, 'OTEL_EXPORTER_PROMETHEUS_PORT') ?? telemetry.metricsPort,
    },
    sampler: samplerOf(env),
    spanLimits: spanLimitsOf(env),
    sdkRecordsItsCounts: text(env, 'OTEL_NODE_EXPERIMENTAL_SDK_METRICS')?.toLowerCase() === 'true',
  };
}
