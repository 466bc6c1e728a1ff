import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once: 256 calls' worth of ids (a trace id and two span ids each). */
const batchBytes = 8192;

/**
 * Trace and span ids cut from one hex string of random bytes, drawn a batch at a time from the
 * system's CSPRNG. The SDK's generator draws each id with `Math.random` into a buffer and hex-encodes
 * it on its own; ids cut from a batch made a measurable difference per call (docs/performance.md).
 * An id of all zeros is invalid (W3C Trace Context) and is drawn again.
 */
export class RandomIds {
  readonly #bytes = Buffer.allocUnsafe(batchBytes);
  readonly #fill: (bytes: Buffer) => void;
  #hex = '';
  /** The next unused byte of the batch; past the end until the first batch is drawn. */
  #position = batchBytes;

  /** `fill` writes random bytes into the buffer it is given; the system's CSPRNG unless a test says otherwise. */
  constructor(fill: (bytes: Buffer) => void = randomFillSync) {
    this.#fill = fill;
  }

  traceId(): string {
    return this.#next(16);
  }

  spanId(): string {
    return this.#next(8);
  }

  /** The next `bytes` random bytes as hex; an all-zero run (invalid as an id) is skipped. */
  #next(bytes: number): string {
    let start = this.#position;
    if (start + bytes > batchBytes) {
      this.#fill(this.#bytes);
      this.#hex = this.#bytes.toString('hex');
      start = 0;
    }
    this.#position = start + bytes;
    if (this.#isZero(start, bytes)) return this.#next(bytes);
    return this.#hex.slice(start * 2, (start + bytes) * 2);
  }

  #isZero(start: number, bytes: number): boolean {
    for (let i = start; i < start + bytes; i++) if (this.#bytes[i] !== 0) return false;
    return true;
  }
}
