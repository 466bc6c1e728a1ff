import { context } from '@opentelemetry/api';
import { OpenTelemetryTransportV3 } from '@opentelemetry/winston-transport';
import safeStringify from 'safe-stable-stringify';
import Transport from 'winston-transport';
import type { LogExportFilter } from './export-filter.ts';
import type { LogRecord, LogRing } from './ring.ts';
import { contextOf } from './written-in.ts';

/** Turns a record into an output line (without the newline). */
export type RenderLine = (record: LogRecord) => string;

/**
 * Plain JSON, time, level and message first (winston puts the metadata first); records that
 * `JSON.stringify` refuses (a cycle, a BigInt) go through safe-stable-stringify.
 */
export const jsonLine: RenderLine = (record) => {
  const { timestamp, level, message, ...meta } = record;
  const ordered = { timestamp, level, message, ...meta };
  try {
    return JSON.stringify(ordered);
  } catch {
    const line = safeStringify(ordered, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
    return line ?? '';
  }
};

export interface LogSinkOptions {
  readonly stream: NodeJS.WritableStream;
  /** A line for a person at a terminal, written instead of the JSON line (which the ring keeps anyway). */
  readonly renderForTerminal?: RenderLine | undefined;
  readonly ring: LogRing;
  /** Also hand records to the OpenTelemetry logs API (log export is on). */
  readonly exportToOtel: boolean;
  /** Which records are handed to it; every record when absent. */
  readonly exportFilter?: LogExportFilter | undefined;
}

/** Output that is written at most this much later than asked: at the end of the event loop's turn. */
const flushLimitChars = 64 * 1024;

/** Sinks holding lines not yet written, flushed synchronously if the process exits first. */
const unflushed = new Set<LogSink>();
let exitHookInstalled = false;

/**
 * Lookout's one winston transport: writes the line, keeps the record in the ring and hands it to the
 * OpenTelemetry logs API. One transport rather than three: winston pipes every record through a stream
 * per transport, and with three (stdout, ring, OTLP) that plumbing cost more than the logging itself.
 * Lines are written once per event-loop turn (or every 64 kB), not one write per line: under load a
 * turn handles many requests, and a system call per access line is a real share of a request's CPU time.
 */
export class LogSink extends Transport {
  readonly #stream: NodeJS.WritableStream;
  readonly #renderForTerminal: RenderLine | undefined;
  readonly #ring: LogRing;
  readonly #otel: OpenTelemetryTransportV3 | undefined;
  readonly #exportFilter: LogExportFilter | undefined;
  #pending = '';
  /** The output is gone (its reader closed the pipe): lines still reach the ring and OTLP, not it. */
  #outputLost = false;

  constructor(options: LogSinkOptions) {
    super();
    this.#stream = options.stream;
    // Unhandled, a write error (EPIPE when a log collector goes away) would end the whole server.
    this.#stream.on('error', (error: NodeJS.ErrnoException) => {
      if (this.#outputLost) return;
      this.#outputLost = true;
      this.#pending = '';
      process.stderr.write(
        `lookout: log output lost (${error.code ?? error.message}): lines still reach GET /logs, the live view and OTLP export\n`,
      );
    });
    this.#renderForTerminal = options.renderForTerminal;
    this.#ring = options.ring;
    this.#otel = options.exportToOtel ? new OpenTelemetryTransportV3() : undefined;
    this.#exportFilter = options.exportFilter;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const sink of unflushed) sink.flush();
      });
    }
  }

  override log(record: LogRecord, callback: () => void): void {
    const named = contextOf(record);
    const json = jsonLine(record);
    this.#ring.add(json);
    if (this.#otel && (this.#exportFilter === undefined || this.#exportFilter(record))) {
      // The OTLP record takes its trace ids from the active context.
      if (named) context.with(named, this.#exportToOtel, undefined, record);
      else this.#exportToOtel(record);
    }
    if (this.#pending === '') {
      unflushed.add(this);
      setImmediate(this.flush);
    }
    this.#pending += `${this.#renderForTerminal?.(record) ?? json}\n`;
    if (this.#pending.length >= flushLimitChars) this.flush();
    callback();
  }

  readonly #exportToOtel = (record: LogRecord): void => {
    this.#otel?.log(record, ignore);
  };

  /** Writes the lines held so far. */
  readonly flush = (): void => {
    if (this.#pending === '') return;
    const lines = this.#pending;
    this.#pending = '';
    unflushed.delete(this);
    if (!this.#outputLost) this.#stream.write(lines);
  };
}

function ignore(): void {}
