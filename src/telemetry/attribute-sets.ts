import type { Attributes } from '@opentelemetry/api';

/** One part of a combination an attribute set is kept for. */
export type AttributePart = string | number | undefined;
type Part = AttributePart;

/** Distinct sets kept at most; combinations past it are built per call instead of kept. */
const defaultLimit = 4096;

/**
 * Metric attribute sets built once per combination of four parts (say protocol version, method, tool
 * and error type) and reused: otherwise every metric point builds an object only for the SDK to hash
 * it. The parts are of bounded cardinality (known names, `_OTHER`, status codes); the limit keeps a
 * flood of distinct values (error codes relayed from an upstream) from growing memory.
 */
export class AttributeSets {
  readonly #root = new Map<Part, Map<Part, Map<Part, Map<Part, Attributes>>>>();
  readonly #build: (a: Part, b: Part, c: Part, d: Part) => Attributes;
  readonly #limit: number;
  #size = 0;

  constructor(build: (a: Part, b: Part, c: Part, d: Part) => Attributes, limit = defaultLimit) {
    this.#build = build;
    this.#limit = limit;
  }

  get(a: Part, b: Part, c: Part, d: Part): Attributes {
    const byA = this.#root.get(a);
    const byB = byA?.get(b);
    const byC = byB?.get(c);
    const found = byC?.get(d);
    if (found) return found;
    const built = Object.freeze(this.#build(a, b, c, d));
    if (this.#size >= this.#limit) return built;
    this.#size++;
    let levelA = byA;
    if (!levelA) {
      levelA = new Map();
      this.#root.set(a, levelA);
    }
    let levelB = byB;
    if (!levelB) {
      levelB = new Map();
      levelA.set(b, levelB);
    }
    let levelC = byC;
    if (!levelC) {
      levelC = new Map();
      levelB.set(c, levelC);
    }
    levelC.set(d, built);
    return built;
  }
}
