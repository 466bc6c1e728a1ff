import { trace } from '@opentelemetry/api';
import { MESSAGE } from 'triple-beam';
import winston from 'winston';
import type { LookoutConfig } from '../config/schema.ts';
import { isSecretKeyName, mask, redactSecrets } from '../redaction/secrets.ts';
import type { LogExportFilter } from './export-filter.ts';
import { LogRing } from './ring.ts';
import { LogSink, type RenderLine } from './sink.ts';
import { contextOf } from './written-in.ts';

export type Logger = winston.Logger;

export interface Logging {
  readonly logger: Logger;
  /** Recent records, for GET /logs and the lookout.logs.query tool. */
  readonly ring: LogRing;
}

/** W3C trace flags as two hex digits, for each of their 256 values: built once, not per line. */
const traceFlagTexts = Array.from({ length: 256 }, (_, flags) => flags.toString(16).padStart(2, '0'));

/**
 * The ISO 8601 time of a record, formatted once per millisecond and shared by the records written in
 * it: a line's text is the same, and formatting a date is a noticeable share of an access line's cost.
 */
let stampedAt = Number.NaN;
let stamp = '';
const timestamp = winston.format((info) => {
  if (!info.timestamp) {
    const now = Date.now();
    if (now !== stampedAt) {
      stampedAt = now;
      stamp = new Date(now).toISOString();
    }
    info.timestamp = stamp;
  }
  return info;
});

/** Stamps the span's ids on every record written in a span's context (inside a request). */
const traceContext = winston.format((info) => {
  const named = contextOf(info);
  const span = named ? trace.getSpan(named) : trace.getActiveSpan();
  if (span) {
    const { traceId, spanId, traceFlags } = span.spanContext();
    info.trace_id = traceId;
    info.span_id = spanId;
    info.trace_flags = traceFlagTexts[traceFlags];
  }
  return info;
});

/** Masks the values of secret-named keys (authorization, cookie, token, password, api key, …) in metadata. */
const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (isSecretKeyName(key)) {
      if (value !== undefined && value !== '') info[key] = mask;
    } else if (typeof value === 'object' && value !== null) {
      info[key] = redactSecrets(value);
    }
  }
  return info;
});

const pretty = winston.format.combine(
  winston.format.colorize(),
  winston.format.printf(({ timestamp, level, message, ...meta }) => {
    const rest = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
    return `${String(timestamp)} ${level} ${String(message)}${rest}`;
  }),
);

/** The colour format renders a copy: colorize rewrites `level`, which the ring and OTLP must not see. */
const prettyLine: RenderLine = (record) => {
  const rendered = pretty.transform({ ...record }) as Record<symbol, unknown> | false;
  return rendered ? String(rendered[MESSAGE]) : '';
};

export interface LoggingOptions {
  readonly stream?: NodeJS.WritableStream;
  /** Hand records to the OpenTelemetry logs API too (when log export is on). */
  readonly exportToOtel?: boolean;
  /** Which records are handed to it (see export-filter.ts); every record when absent. */
  readonly exportFilter?: LogExportFilter | undefined;
}

/**
 * JSON lines on stdout (a readable colour format on a terminal unless told otherwise), every record
 * stamped with the active trace ids and stripped of secrets, kept in a ring of recent records and, when
 * asked, exported as OTLP logs.
 */
export function createLogging(config: Pick<LookoutConfig, 'log'>, options: LoggingOptions = {}): Logging {
  const stream = options.stream ?? process.stdout;
  const isTty = (stream as { isTTY?: boolean }).isTTY === true;
  const usePretty = config.log.format === 'pretty' || (config.log.format === 'auto' && isTty);
  const ring = new LogRing(config.log.ringBufferSize);
  const logger = winston.createLogger({
    level: config.log.level,
    format: winston.format.combine(timestamp(), traceContext(), redact()),
    transports: [
      new LogSink({
        stream,
        renderForTerminal: usePretty ? prettyLine : undefined,
        ring,
        exportToOtel: options.exportToOtel ?? false,
        exportFilter: options.exportFilter,
      }),
    ],
  });
  return { logger, ring };
}
