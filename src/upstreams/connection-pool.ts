import type { Client } from '@modelcontextprotocol/client';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { LookoutError } from '../errors/catalog.ts';
import type { Callers } from './caller-relay.ts';
import type { LogRelay } from './log-relay.ts';
import type { OwnResources } from './own-resources.ts';
import type { ResourceListen, Subscribers } from './subscriptions.ts';

/** A connection to an upstream and what is relayed over it. */
export interface Connection {
  readonly client: Client;
  readonly callers: Callers;
  readonly logs: LogRelay;
  readonly subscribers: Subscribers;
  /** On a 2026-07-28 connection: the listen stream that follows the subscribed resources. */
  readonly resourceListen?: ResourceListen;
  /** Isolated connections: the resources it gained, by the client they were made for. */
  ownResources?: OwnResources;
}

interface Slot {
  readonly opening: Promise<Connection>;
  connection: Connection | undefined;
  lastUsed: number;
}

/**
 * The isolated connections of one upstream, one per key (a downstream session or an auth subject),
 * each opened on first use. At most `max` are kept; one idle for `idleMs` is closed, and to make room
 * the least recently used one with no call running is closed. When all are busy, a new key is refused.
 */
export class ConnectionPool {
  readonly #slots = new Map<string, Slot>();
  /** Closings under way: a stopping Lookout waits for them, or their processes would outlive it. */
  readonly #closing = new Set<Promise<void>>();
  readonly #max: number;
  readonly #idleMs: number;
  readonly #upstream: string;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: {
    upstream: string;
    max: number;
    idleSeconds: number;
  }) {
    this.#upstream = options.upstream;
    this.#max = options.max;
    this.#idleMs = options.idleSeconds * 1000;
    this.#sweeper = context.with(ROOT_CONTEXT, () =>
      setInterval(() => this.#sweep(), Math.min(this.#idleMs / 2, 30_000)),
    );
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The key's connection, opened with `open` if it has none. */
  get(key: string, open: () => Promise<Connection>): Promise<Connection> {
    const slot = this.#slots.get(key);
    if (slot) {
      slot.lastUsed = Date.now();
      return slot.opening;
    }
    if (this.#slots.size >= this.#max && !this.#evictOne()) {
      return Promise.reject(
        new LookoutError('UPSTREAM_BUSY', `${this.#upstream}: all ${this.#max} isolated connections busy`, {
          upstream: this.#upstream,
        }),
      );
    }
    const opening = open();
    const created: Slot = { opening, connection: undefined, lastUsed: Date.now() };
    this.#slots.set(key, created);
    opening.then(
      (connection) => {
        created.connection = connection;
      },
      () => {
        if (this.#slots.get(key) === created) this.#slots.delete(key);
      },
    );
    return opening;
  }

  /**
   * A connection that ended (its process exited, its session is gone) is forgotten: the next call opens
   * a new one. Returns whether it was still kept, i.e. whether its end came from the upstream's side.
   */
  ended(connection: Connection): boolean {
    const key = this.#keyOf(connection);
    if (key !== undefined) this.#slots.delete(key);
    return key !== undefined;
  }

  /** Closes a connection and forgets it at once (one found hung): the next call opens a new one. */
  discard(connection: Connection): Promise<void> {
    const key = this.#keyOf(connection);
    return key === undefined ? Promise.resolve() : this.#close(key);
  }

  #keyOf(connection: Connection): string | undefined {
    for (const [key, slot] of this.#slots) if (slot.connection === connection) return key;
    return undefined;
  }

  /** The key's connection if it has one (waiting while it opens); none is opened. */
  async peek(key: string): Promise<Connection | undefined> {
    return this.#slots.get(key)?.opening.catch(() => undefined);
  }

  /** The key's connection when it is open now, without waiting, opening one or counting a use. */
  openNow(key: string): Connection | undefined {
    return this.#slots.get(key)?.connection;
  }

  /** The connections open now. */
  open(): Connection[] {
    const open: Connection[] = [];
    for (const slot of this.#slots.values()) if (slot.connection) open.push(slot.connection);
    return open;
  }

  /** Closes the connections whose key `matches` (those of a session that ended). */
  async closeWhere(matches: (key: string) => boolean): Promise<void> {
    await Promise.all([...this.#slots.keys()].filter(matches).map((key) => this.#close(key)));
  }

  /** Closes every connection, and waits for those already closing (a session's, an evicted one). */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#slots.keys()].map((key) => this.#close(key)));
    await Promise.all(this.#closing);
  }

  #close(key: string): Promise<void> {
    const slot = this.#slots.get(key);
    if (!slot) return Promise.resolve();
    this.#slots.delete(key);
    const closing = slot.opening
      .catch(() => undefined)
      .then((connection) => connection?.client.close())
      .catch(() => undefined)
      .finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
    return closing;
  }

  #idle(slot: Slot): boolean {
    return slot.connection !== undefined && !slot.connection.callers.busy;
  }

  #evictOne(): boolean {
    let oldest: [string, Slot] | undefined;
    for (const entry of this.#slots) {
      if (this.#idle(entry[1]) && (!oldest || entry[1].lastUsed < oldest[1].lastUsed)) oldest = entry;
    }
    if (!oldest) return false;
    void this.#close(oldest[0]);
    return true;
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#idleMs;
    for (const [key, slot] of this.#slots) {
      if (slot.lastUsed <= cutoff && this.#idle(slot) && slot.connection?.subscribers.size === 0) {
        void this.#close(key);
      }
    }
  }
}
