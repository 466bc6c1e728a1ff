import type { Context } from '@opentelemetry/api';

/** The key of a link that holds no value of its own: the first link over a context of another kind. */
const nothing: unique symbol = Symbol('lookout.context.nothing');

/**
 * A context as a chain of links, one (key, value) each, over a base context. The API's own context
 * copies its whole map and makes three closures for every value set; a request's contexts are set
 * a few values each and read little, so one small object per value costs less. Contexts made from
 * one (`trace.setSpan`, `setValue` of any library) are linked contexts too.
 */
export class LinkedContext implements Context {
  readonly #parent: Context;
  readonly #key: symbol;
  readonly #value: unknown;

  private constructor(parent: Context, key: symbol, value: unknown) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
  }

  /** A context with the values of `base`, whose descendants are linked contexts. */
  static over(base: Context): Context {
    return base instanceof LinkedContext ? base : new LinkedContext(base, nothing, undefined);
  }

  getValue(key: symbol): unknown {
    let link: Context = this;
    while (link instanceof LinkedContext) {
      if (link.#key === key) return link.#value;
      link = link.#parent;
    }
    return link.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new LinkedContext(this, key, value);
  }

  /** Unset from here on: reads as undefined, as a deleted key does in the API's context. */
  deleteValue(key: symbol): Context {
    return new LinkedContext(this, key, undefined);
  }
}
