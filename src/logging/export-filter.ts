import type { LookoutConfig } from '../config/schema.ts';
import type { LogRecord } from './ring.ts';

/** Whether a record is also handed to the OpenTelemetry logs API (exported as an OTLP log record). */
export type LogExportFilter = (record: LogRecord) => boolean;

const sampledFlag = 0x01;

/**
 * `telemetry.logs.export: sampled` prices log records like traces: a record written inside a call goes
 * out when the call's trace is sampled, when it is a warning or an error, or when it is the access line
 * of a call kept for its outcome (`keepErrors`, `keepSlowerThanSeconds`, as for its spans). Records
 * written outside any call (start-up, shutdown, upstream state) always go out. The stdout line and the
 * ring keep every record either way. `all` exports every record: undefined, no filter.
 */
export function logExportFilter(telemetry: LookoutConfig['telemetry']): LogExportFilter | undefined {
  if (telemetry.logs.export === 'all') return undefined;
  const { keepErrors, keepSlowerThanSeconds } = telemetry.sampling;
  const slowMs = keepSlowerThanSeconds * 1000;
  return (record) => {
    const flags = record.trace_flags;
    if (typeof flags !== 'string') return true;
    if (Number.parseInt(flags, 16) & sampledFlag) return true;
    if (record.level === 'error' || record.level === 'warn') return true;
    const { outcome, duration_ms: durationMs } = record;
    if (keepErrors && (outcome === 'error' || outcome === 'tool_error')) return true;
    return slowMs > 0 && typeof durationMs === 'number' && durationMs >= slowMs;
  };
}
