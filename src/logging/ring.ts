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

/**
 * Keeps the most recent log records in memory, oldest overwritten first, for /logs and
 * lookout.logs.query. Each is kept as its JSON line, the one stdout gets: a young-generation collection
 * copies one flat string per recent record instead of an object and each of its strings, and nothing
 * a record referred to (winston's symbol keys hold the call's own arguments) stays alive with it.
 */
export class LogRing {
  readonly #lines: (string | undefined)[];
  #next = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#lines = new Array(capacity);
  }

  /** Keeps a record, as its JSON line. */
  add(line: string): void {
    if (this.#lines.length === 0 || line === '') return;
    this.#lines[this.#next] = line;
    this.#next = (this.#next + 1) % this.#lines.length;
    this.#count = Math.min(this.#count + 1, this.#lines.length);
  }

  /** Matching records, newest first. */
  query(query: LogQuery = {}): LogRecord[] {
    const maxSeverity =
      query.level === undefined
        ? Number.POSITIVE_INFINITY
        : (severity[query.level] ?? Number.POSITIVE_INFINITY);
    const limit = query.limit ?? 100;
    const out: LogRecord[] = [];
    const size = this.#lines.length;
    for (let i = 1; i <= this.#count && out.length < limit; i++) {
      const line = this.#lines[(this.#next - i + size) % size];
      if (line === undefined) continue;
      const record = JSON.parse(line) as LogRecord;
      if ((severity[record.level] ?? 0) > maxSeverity) continue;
      if (query.traceId !== undefined && record.trace_id !== query.traceId) continue;
      out.push(record);
    }
    return out;
  }
}

export const logLevelNames = Object.keys(severity);
