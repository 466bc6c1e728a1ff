import { findMessageId, idSearchBytes, type OversizedMessage } from './oversized.ts';

/**
 * Splits a child's stdout into newline-delimited messages, none longer than `limit` bytes. A longer
 * line is not buffered: its bytes are counted and dropped, keeping only its first and last bytes to
 * find which request it answers. (The SDK's own reader, on such a line, closes the whole transport.)
 */
export class MessageLines {
  readonly #limit: number;
  readonly #onLine: (line: string) => void;
  readonly #onOversized: (message: OversizedMessage) => void;
  #chunks: Buffer[] = [];
  #size = 0;
  #head: Buffer | undefined;
  #tail = Buffer.alloc(0);

  constructor(
    limit: number,
    onLine: (line: string) => void,
    onOversized: (message: OversizedMessage) => void,
  ) {
    this.#limit = limit;
    this.#onLine = onLine;
    this.#onOversized = onOversized;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(10, start);
      if (newline === -1) {
        this.#take(chunk.subarray(start));
        return;
      }
      if (this.#size === 0 && newline - start <= this.#limit) {
        // A whole line within one chunk, the usual case: decoded from the chunk, nothing gathered.
        this.#deliver(chunk.toString('utf8', start, newline));
      } else {
        this.#take(chunk.subarray(start, newline));
        this.#endLine();
      }
      start = newline + 1;
    }
  }

  #take(part: Buffer): void {
    if (part.length === 0) return;
    this.#size += part.length;
    if (this.#head === undefined && this.#size <= this.#limit) {
      this.#chunks.push(part);
      return;
    }
    if (this.#head === undefined) {
      const start = Buffer.concat([...this.#chunks, part]);
      // Copies: a view would keep the whole line's memory alive.
      this.#head = Buffer.from(start.subarray(0, idSearchBytes));
      this.#tail = Buffer.from(start.subarray(-idSearchBytes));
      this.#chunks = [];
      return;
    }
    this.#tail = Buffer.from(
      Buffer.concat([this.#tail, part.subarray(-idSearchBytes)]).subarray(-idSearchBytes),
    );
  }

  #endLine(): void {
    const head = this.#head;
    const size = this.#size;
    const line = head === undefined ? Buffer.concat(this.#chunks).toString('utf8') : '';
    this.#chunks = [];
    this.#size = 0;
    this.#head = undefined;
    if (head !== undefined) {
      const id = findMessageId(head.toString('utf8'), this.#tail.toString('utf8'));
      this.#tail = Buffer.alloc(0);
      this.#onOversized({ bytes: size, limit: this.#limit, id });
      return;
    }
    this.#deliver(line);
  }

  /** Hands on a line without its trailing CR, unless it is blank. */
  #deliver(line: string): void {
    const trimmed = line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
    if (trimmed.trim()) this.#onLine(trimmed);
  }
}
