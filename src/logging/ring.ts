export interface LogRecord {
  readonly level: string;
  readonly message: string;
  readonly timestamp?: string;
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly [key: string]: unknown;
}

export interface LogQuery {
  /** The least severe level to return (winston npm levels: error < warn < info < http < verbose < debug). */
  readonly level?: string;
  readonly traceId?: string;
  readonly limit?: number;
}

const severity: Record<string, number> = {
  error: 0,
  warn: 1,
  info: 2,
  http: 3,
  verbose: 4,
  debug: 5,
  silly: 6,
};

/** Keeps the most recent log records in memory, oldest overwritten first, for /logs and lookout.logs.query. */
export class LogRing {
  readonly #records: (LogRecord | undefined)[];
  #next = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#records = new Array(capacity);
  }

  add(record: LogRecord): void {
    if (this.#records.length === 0) return;
    // String keys only: winston's symbol keys hold the call's own arguments (its metadata object, and
    // through it what the caller hung on it), which a ring of recent records must not keep alive.
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(record)) copy[key] = record[key];
    this.#records[this.#next] = copy as LogRecord;
    this.#next = (this.#next + 1) % this.#records.length;
    this.#count = Math.min(this.#count + 1, this.#records.length);
  }

  /** Matching records, newest first. */
  query(query: LogQuery = {}): LogRecord[] {
    const maxSeverity =
      query.level === undefined
        ? Number.POSITIVE_INFINITY
        : (severity[query.level] ?? Number.POSITIVE_INFINITY);
    const limit = query.limit ?? 100;
    const out: LogRecord[] = [];
    const size = this.#records.length;
    for (let i = 1; i <= this.#count && out.length < limit; i++) {
      const record = this.#records[(this.#next - i + size) % size];
      if (!record) continue;
      if ((severity[record.level] ?? 0) > maxSeverity) continue;
      if (query.traceId !== undefined && record.trace_id !== query.traceId) continue;
      out.push(record);
    }
    return out;
  }
}

export const logLevelNames = Object.keys(severity);
