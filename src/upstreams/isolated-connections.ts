import type { LoggingLevel, Resource } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import type { HandlerContext } from '../tools/api.ts';
import { Callers, relayableCapabilities, relayedCapabilities } from './caller-relay.ts';
import { type Connection, ConnectionPool } from './connection-pool.ts';
import { checkAlive } from './era-negotiation.ts';
import { HealthProbe } from './health-probe.ts';
import { connectionKey, type Isolation, isSessionKey } from './isolation.ts';
import { listResources } from './listing.ts';
import { LogRelay } from './log-relay.ts';
import type { ConnectionOpener, OpenConnection } from './open-connection.ts';
import { OwnLists } from './own-lists.ts';
import { OwnResources, ownerOf, watchOwnResources } from './own-resources.ts';

/** Waits for `promise` until `signal` aborts; what it was waiting for goes on (a connection still opens). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/**
 * The connections of one upstream isolated per session or subject, each opened on a caller's first
 * call and declaring what that caller's client declared, and each supervised as fits it: one that
 * ends (its child exited, its HTTP session is gone) is forgotten, so the next call opens another; one
 * that is alive but answers no health ping for the grace period is closed and forgotten; one idle for
 * `connections.idleSeconds` is closed (the pool).
 */
export class IsolatedConnections {
  readonly #config: UpstreamConfig;
  readonly #opener: ConnectionOpener;
  readonly #logger: Logger;
  readonly #isolation: Isolation;
  /** `ownChanged`: the tools or prompts the reporting connection itself lists changed. */
  readonly #onListChanged: (ownChanged: boolean) => void;
  /** A connection's resource list changed: what was read of its resources may be stale. */
  readonly #onResourcesChanged: () => void;
  readonly #pool: ConnectionPool;

  constructor(
    config: UpstreamConfig,
    isolation: Isolation,
    opener: ConnectionOpener,
    logger: Logger,
    onListChanged: (ownChanged: boolean) => void,
    onResourcesChanged: () => void,
  ) {
    this.#config = config;
    this.#isolation = isolation;
    this.#opener = opener;
    this.#logger = logger;
    this.#onListChanged = onListChanged;
    this.#onResourcesChanged = onResourcesChanged;
    this.#pool = new ConnectionPool({
      upstream: config.name,
      max: config.connections.max,
      idleSeconds: config.connections.idleSeconds,
    });
  }

  /** The caller's connection, opened if it has none; a caller that gives up stops waiting for it. */
  for(caller: HandlerContext): Promise<Connection> {
    const key = connectionKey(this.#isolation, caller);
    return abortable(
      this.#pool.get(key, () => this.#open(caller)),
      caller.signal,
    );
  }

  /** The connections open now. */
  /** The caller's connection if it is open now, without waiting or opening one. */
  openNow(caller: HandlerContext): Connection | undefined {
    return this.#pool.openNow(connectionKey(this.#isolation, caller));
  }

  open(): Connection[] {
    return this.#pool.open();
  }

  /** Closes the connections of a downstream session that ended. */
  sessionEnded(sessionId: string): Promise<void> {
    return this.#pool.closeWhere((key) => isSessionKey(key, sessionId));
  }

  closeAll(): Promise<void> {
    return this.#pool.closeAll();
  }

  async #open(caller: HandlerContext): Promise<Connection> {
    const name = this.#config.name;
    const stdio = this.#config.transport === 'stdio';
    let probe: HealthProbe | undefined;
    const ownLists = new OwnLists(this.#config.timeouts.requestSeconds * 1000, this.#onListChanged);
    const opening = this.#opener.open({
      role: 'isolated',
      // 2026-07-28 clients declare per request: such a connection declares all, the relay checks each call.
      declared:
        caller.era === 'modern' ? relayableCapabilities : relayedCapabilities(caller.clientCapabilities),
      callers: new Callers(false),
      logs: new LogRelay(),
      subscribers: new Map(),
      timeoutMs: (stdio ? this.#config.timeouts.startupSeconds : this.#config.timeouts.connectSeconds) * 1000,
      // The tools and prompts served are the catalog connection's: a change one connection reports is
      // looked for there (a resource list change is its client's own: #relayOwn).
      onListChanged: () => ownLists.changed(),
      onClosed: (connection) => {
        probe?.stop();
        if (!this.#pool.ended(connection)) return;
        const lines = connection.stderr();
        this.#logger.warn('upstream isolated connection lost: the next call opens another', {
          upstream: name,
          ...(lines && lines.length > 0 && { stderr: lines }),
        });
      },
    });
    const connection = await opening.connected;
    ownLists.opened(connection.client);
    try {
      await this.#relayOwn(connection, caller);
    } catch (error) {
      await connection.client.close().catch(() => undefined);
      throw error;
    }
    probe = new HealthProbe(
      this.#config.health,
      (timeout) => checkAlive(connection.client, { timeout }),
      (silentForMs) => this.#hung(connection, silentForMs),
      () => undefined,
    );
    this.#logger.info('upstream isolated connection opened', { upstream: name, isolation: this.#isolation });
    return connection;
  }

  /**
   * What the connection lists once open is the upstream's own list; a resource it gains later is its
   * client's (own resources), so its resource `list_changed` is handled here rather than by the
   * catalog. The client's log level, if it chose one, is passed on.
   */
  async #relayOwn(connection: OpenConnection, caller: HandlerContext): Promise<void> {
    const client = connection.client;
    const read = () =>
      client.getServerCapabilities()?.resources === undefined
        ? Promise.resolve([])
        : listResources(client, this.#config.timeouts.requestSeconds * 1000, () => undefined);
    connection.ownResources = new OwnResources(await read());
    watchOwnResources(client, connection.ownResources, connection.callers, () => {
      this.#onResourcesChanged();
      return read();
    });
    if (caller.logLevel !== undefined) await this.#passLogLevel(connection, caller.logLevel);
  }

  /** The resources the caller's own connection gained from its calls; none before it has one. */
  async ownResources(caller: HandlerContext): Promise<readonly Resource[]> {
    const owner = ownerOf(caller);
    if (owner === undefined) return [];
    const connection = await this.#pool.peek(connectionKey(this.#isolation, caller));
    return (await connection?.ownResources?.of(owner)) ?? [];
  }

  /** Passes a client's log level to its connection, if it has one (one opened later gets it when it opens). */
  async setLogLevel(level: LoggingLevel, caller: HandlerContext): Promise<void> {
    const connection = await this.#pool.peek(connectionKey(this.#isolation, caller));
    if (connection) await this.#passLogLevel(connection, level);
  }

  /** An upstream that logs is told the level; one that fails to take it is logged about, and serves on. */
  async #passLogLevel(connection: Connection, level: LoggingLevel): Promise<void> {
    if (connection.client.getServerCapabilities()?.logging === undefined) return;
    await connection.client
      .setLoggingLevel(level, { timeout: this.#config.timeouts.requestSeconds * 1000 })
      .catch((error: Error) =>
        this.#logger.warn('upstream log level not set', {
          upstream: this.#config.name,
          error: error.message,
        }),
      );
  }

  /** Alive but silent past the grace period: closed, so that the next call opens a connection that answers. */
  #hung(connection: OpenConnection, silentForMs: number): void {
    this.#logger.error('upstream isolated connection unresponsive: closed', {
      upstream: this.#config.name,
      silentSeconds: Math.round(silentForMs / 100) / 10,
    });
    void this.#pool.discard(connection);
  }
}
