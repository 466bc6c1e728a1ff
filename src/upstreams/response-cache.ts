import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { LRUCache } from 'lru-cache';
import type { UpstreamConfig } from '../config/schema.ts';

/** Why an entry left the cache: `size` to make room, `expired` past its TTL, `invalidated` by the upstream. */
export const evictionReasons = ['size', 'expired', 'invalidated'] as const;
export type EvictionReason = (typeof evictionReasons)[number];

/** Where the cache's hits, misses and evictions are counted. */
export interface CacheMetrics {
  lookup(upstream: string, method: string, hit: boolean): void;
  evicted(upstream: string, reason: EvictionReason): void;
}

/** Whose answer an entry is: the key of the connection (or subject) it may be served to. */
export type CacheScope = string;

interface Entry {
  readonly result: ReadResourceResult;
  /**
   * The connection that answered: the entry is served only while that connection is the one in use.
   * Weakly held, so that a closed connection's client is not kept alive by its answers.
   */
  readonly answeredBy: WeakRef<object>;
}

/** The `ttlMs` and `cacheScope` a 2026-07-28 upstream puts on a cacheable result, when valid. */
function hintOf(result: ReadResourceResult): { ttlMs?: number; shared?: boolean } {
  const { ttlMs, cacheScope } = result as { ttlMs?: unknown; cacheScope?: unknown };
  return {
    ...(Number.isSafeInteger(ttlMs) && (ttlMs as number) >= 0 && { ttlMs: ttlMs as number }),
    ...((cacheScope === 'public' || cacheScope === 'private') && { shared: cacheScope === 'public' }),
  };
}

/** An estimate of an entry's memory, from the sizes of its contents. */
function sizeOf(result: ReadResourceResult): number {
  let size = 64;
  for (const content of result.contents) {
    size += content.uri.length + 64;
    if ('text' in content && typeof content.text === 'string') size += content.text.length * 2;
    if ('blob' in content && typeof content.blob === 'string') size += content.blob.length;
  }
  return size;
}

const disposeReasons: Partial<Record<LRUCache.DisposeReason, EvictionReason>> = {
  evict: 'size',
  expire: 'expired',
  delete: 'invalidated',
};

/**
 * The `resources/read` answers of one upstream, bounded (`cache.maxEntries`, `cache.maxBytes`, least
 * recently used out first) and each kept for its TTL: the upstream's `ttlMs` when it gives one (0: not
 * kept), else `cache.ttlSeconds`. An entry belongs to the connection that answered and is served only to
 * callers of that connection, and only while it is open: isolated connections never see each other's
 * entries. On a connection shared by all clients, an answer the upstream marks `private` is kept per
 * subject (the caller's `privateScope`). `notifications/resources/updated` drops a URI's entries, a
 * `list_changed` all of them.
 */
export class ReadCache {
  readonly #upstream: string;
  readonly #ttlMs: number;
  readonly #metrics: CacheMetrics;
  readonly #entries: LRUCache<string, Entry> | undefined;
  /** Counts invalidations: an answer read while one happened may be stale, and is not kept. */
  #generation = 0;

  constructor(upstream: string, config: UpstreamConfig['cache'], metrics: CacheMetrics) {
    this.#upstream = upstream;
    this.#ttlMs = config.ttlSeconds * 1000;
    this.#metrics = metrics;
    this.#entries =
      config.maxEntries === 0
        ? undefined
        : new LRUCache<string, Entry>({
            max: config.maxEntries,
            maxSize: config.maxBytes,
            sizeCalculation: (entry) => sizeOf(entry.result),
            dispose: (_entry, _key, reason) => {
              const counted = disposeReasons[reason];
              if (counted) metrics.evicted(upstream, counted);
            },
          });
  }

  /**
   * The answer for `uri` from the cache, else from `read`, kept when its TTL allows. `scope` is whose
   * connection the caller uses, `privateScope` whose a private answer is on a shared connection;
   * `current` is that connection now (undefined when none is open).
   */
  async read(
    uri: string,
    scopes: { readonly scope: CacheScope; readonly privateScope: CacheScope | undefined },
    current: object | undefined,
    read: () => Promise<{ result: ReadResourceResult; answeredBy: object }>,
  ): Promise<ReadResourceResult> {
    const entries = this.#entries;
    if (entries === undefined) return (await read()).result;
    const keys = [scopes.scope, scopes.privateScope].flatMap((s) =>
      s === undefined ? [] : [`${s}\n${uri}`],
    );
    for (const key of keys) {
      const entry = entries.get(key);
      if (entry === undefined) continue;
      if (current !== undefined && entry.answeredBy.deref() === current) {
        this.#metrics.lookup(this.#upstream, 'resources/read', true);
        return entry.result;
      }
      entries.delete(key);
    }
    this.#metrics.lookup(this.#upstream, 'resources/read', false);
    const generation = this.#generation;
    const { result, answeredBy } = await read();
    if (generation !== this.#generation) return result;
    const hint = hintOf(result);
    const ttl = hint.ttlMs ?? this.#ttlMs;
    const key = hint.shared === false && scopes.privateScope !== undefined ? keys[1] : keys[0];
    if (ttl > 0 && key !== undefined) {
      entries.set(key, { result, answeredBy: new WeakRef(answeredBy) }, { ttl });
    }
    return result;
  }

  /** The upstream said the resource changed. */
  invalidate(uri: string): void {
    if (this.#entries === undefined) return;
    this.#generation++;
    for (const key of [...this.#entries.keys()]) if (key.endsWith(`\n${uri}`)) this.#entries.delete(key);
  }

  /** The upstream's lists changed (a resource may be gone), or its connection was replaced. */
  clear(): void {
    if (this.#entries === undefined) return;
    this.#generation++;
    this.#entries.clear();
  }
}
