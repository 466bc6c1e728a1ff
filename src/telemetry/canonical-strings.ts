import { mcpSpanName } from './conventions.ts';

/** Distinct strings kept at most; past it a value is used as the request carried it. */
const defaultLimit = 4096;

/**
 * One shared, interned copy of each recurring value of bounded cardinality (a known method, a known
 * tool, a supported protocol version, a span name made of them), so that every span, metric point and
 * log record carries the same string instead of pieces of each request's body or a name concatenated
 * per call. The OTLP serializer writes strings character by character; fed the per-request strings, it
 * settled in some processes into code about twice as slow per span (docs/performance.md).
 */
export class CanonicalStrings {
  readonly #copies = new Map<string, string>();
  readonly #spanNames = new Map<string, Map<string, string>>();
  readonly #limit: number;

  constructor(limit = defaultLimit) {
    this.#limit = limit;
  }

  /** The shared copy of `value`; only for values of bounded cardinality. */
  of(value: string): string {
    const known = this.#copies.get(value);
    if (known !== undefined) return known;
    if (this.#copies.size >= this.#limit) return value;
    // The engine interns property keys: the key read back is its one flat copy of the string.
    const copy = Object.keys({ [value]: 0 })[0] ?? value;
    this.#copies.set(copy, copy);
    return copy;
  }

  /** The span name of (method, target), made once; both must be of bounded cardinality. */
  spanName(method: string, target: string): string {
    let byTarget = this.#spanNames.get(method);
    const known = byTarget?.get(target);
    if (known !== undefined) return known;
    const name = this.of(mcpSpanName(method, target));
    if (this.#copies.size >= this.#limit) return name;
    if (!byTarget) {
      byTarget = new Map();
      this.#spanNames.set(method, byTarget);
    }
    byTarget.set(target, name);
    return name;
  }
}
