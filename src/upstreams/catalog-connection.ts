import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { UpstreamConfig } from '../config/schema.ts';
import { LookoutError } from '../errors/catalog.ts';
import type { Logger } from '../logging/logger.ts';
import type { McpClientTelemetry, UpstreamFacts } from '../telemetry/mcp-client.ts';
import { Callers, relayableCapabilities } from './caller-relay.ts';
import { checkAlive } from './era-negotiation.ts';
import { HealthProbe } from './health-probe.ts';
import { listEverything, type UpstreamLists } from './listing.ts';
import { LogRelay } from './log-relay.ts';
import type { ConnectionOpener, OpenConnection, Opening } from './open-connection.ts';
import { RestartSchedule } from './restart-schedule.ts';
import type { Subscribers } from './subscriptions.ts';

export type UpstreamState = 'starting' | 'ready' | 'down' | 'holding' | 'closed';

/** What the catalog connection tells its upstream. */
export interface CatalogEvents {
  /** After it (re)connects, refreshes its lists, or hides them (hung); `announce` as in UpstreamDeps. */
  readonly onListsChanged: (announce: boolean) => void;
  readonly onRestart: () => void;
  /** It serves again (connected, or answers after hanging): calls made meanwhile may have opened the breaker. */
  readonly onServing: () => void;
  /** Its lists are read again (a change, or their `ttlMs` ran out): what was read of them may be stale. */
  readonly onListsRefreshing: () => void;
}

const emptyLists: UpstreamLists = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

/**
 * The connection from which an upstream's tool, resource and prompt lists are read (and every call
 * goes through, when it is `shared`), supervised: a lost connection is re-established as the restart
 * schedule says; a hung one (alive, silent past the health grace) has its lists hidden and is
 * restarted (stdio) or marked down until it answers again (HTTP); a `list_changed` re-reads the lists.
 */
export class CatalogConnection {
  /** Its calls, its log listeners and its subscriptions: the same over every reconnect. */
  readonly callers = new Callers(true);
  readonly logs = new LogRelay();
  readonly subscribers: Subscribers = new Map();
  readonly #config: UpstreamConfig;
  readonly #opener: ConnectionOpener;
  readonly #logger: Logger;
  readonly #telemetry: McpClientTelemetry;
  readonly #facts: UpstreamFacts;
  /** The facts with the protocol version of the connection: made once per version, not per call. */
  #versionedFacts: UpstreamFacts;
  readonly #events: CatalogEvents;
  readonly #schedule: RestartSchedule;
  #connection: OpenConnection | undefined;
  /** The client still connecting, which close() must stop too: a child may be starting. */
  #connecting: Opening | undefined;
  #state: UpstreamState = 'starting';
  #lists: UpstreamLists = emptyLists;
  #timer: NodeJS.Timeout | undefined;
  /** Reads the lists again when their `ttlMs` runs out. */
  #listExpiry: NodeJS.Timeout | undefined;
  #probe: HealthProbe | undefined;
  #connectedAt = 0;
  #protocolVersion: string | undefined;
  #restarts = 0;
  /** The connection whose lists are being read again, and whether a change came meanwhile. */
  #refreshing: OpenConnection | undefined;
  #refreshAgain = false;
  /** The next lists read must be told to every client: an isolated connection's own tools or prompts changed. */
  #announce = false;
  #lastError: { readonly message: string; readonly at: string } | undefined;

  constructor(
    config: UpstreamConfig,
    opener: ConnectionOpener,
    deps: { logger: Logger; telemetry: McpClientTelemetry; facts: UpstreamFacts },
    events: CatalogEvents,
  ) {
    this.#config = config;
    this.#opener = opener;
    this.#logger = deps.logger;
    this.#telemetry = deps.telemetry;
    this.#facts = deps.facts;
    this.#versionedFacts = deps.facts;
    this.#events = events;
    this.#schedule = new RestartSchedule(config);
  }

  get state(): UpstreamState {
    return this.#state;
  }

  get lists(): UpstreamLists {
    return this.#lists;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get lastError(): { readonly message: string; readonly at: string } | undefined {
    return this.#lastError;
  }

  get protocolVersion(): string | undefined {
    return this.#protocolVersion;
  }

  /** The open connection's client, ready or not. */
  get client(): OpenConnection['client'] | undefined {
    return this.#connection?.client;
  }

  /** The open connection's listen stream for subscribed resources (2026-07-28 upstreams). */
  get resourceListen(): OpenConnection['resourceListen'] {
    return this.#connection?.resourceListen;
  }

  /** The open connection's server capabilities, once connected. */
  get serverCapabilities() {
    return this.#connection?.client.getServerCapabilities();
  }

  /** The facts of the upstream as its spans and metrics name it, with the protocol version once known. */
  facts(): UpstreamFacts {
    const version = this.#protocolVersion;
    if (this.#versionedFacts.protocolVersion !== version)
      this.#versionedFacts = { ...this.#facts, protocolVersion: version };
    return this.#versionedFacts;
  }

  noteError(message: string): void {
    this.#lastError = { message, at: new Date().toISOString() };
  }

  /** The connection, when it serves; else the named error a call gets. */
  ready(): OpenConnection {
    if (!this.#connection || this.#state !== 'ready') {
      throw new LookoutError('UPSTREAM_UNAVAILABLE', `${this.#config.name} is ${this.#state}`, {
        upstream: this.#config.name,
      });
    }
    return this.#connection;
  }

  /**
   * Pings it: an upstream that went away or restarted (its sessions gone) is then reconnected at once.
   * Resolves to whether it answered.
   */
  async check(): Promise<boolean> {
    const connection = this.#connection;
    if (!connection) return false;
    return checkAlive(connection.client).then(
      () => this.#connection === connection && this.#state === 'ready',
      () => false,
    );
  }

  /** Starts connecting in the background; its lists are published once it answers. */
  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    const stdio = this.#config.transport === 'stdio';
    // It declares everything Lookout relays, so that the upstream lists all it serves.
    const opening = this.#opener.open({
      role: 'catalog',
      declared: relayableCapabilities,
      callers: this.callers,
      logs: this.logs,
      subscribers: this.subscribers,
      timeoutMs: stdio ? undefined : this.#config.timeouts.connectSeconds * 1000,
      onListChanged: () => void this.#refreshLists(),
      onClosed: (connection) => this.#closed(connection),
    });
    this.#connecting = opening;
    let connection: OpenConnection;
    let lists: UpstreamLists;
    try {
      connection = await opening.connected;
      try {
        lists = await this.#list(connection);
      } catch (error) {
        this.#logger.warn('upstream connection failed', {
          upstream: this.#config.name,
          connection: 'catalog',
          error: (error as Error).message,
        });
        await connection.client.close().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      this.noteError(`connection failed: ${(error as Error).message}`);
      this.#lost();
      return;
    } finally {
      this.#connecting = undefined;
    }
    // close() may have been called while connecting.
    if ((this.#state as UpstreamState) === 'closed') {
      await connection.client.close();
      return;
    }
    this.#lists = lists;
    this.#connection = connection;
    this.#state = 'ready';
    this.#expireLists(connection);
    this.#connectedAt = Date.now();
    this.#protocolVersion = connection.protocolVersion;
    this.#schedule.connected(this.#connectedAt);
    this.#probe = new HealthProbe(
      this.#config.health,
      (timeout) => checkAlive(connection.client, { timeout }),
      (silentForMs) => this.#hung(connection, silentForMs),
      () => this.#recovered(connection),
    );
    // A 2026-07-28 upstream knows nothing of the subscriptions made before it restarted: they are
    // followed on a new listen stream.
    if (this.subscribers.size > 0) {
      void connection.resourceListen
        ?.follow(this.subscribers, { timeout: this.#config.timeouts.requestSeconds * 1000 })
        .catch((error: Error) =>
          this.#logger.warn('upstream resource subscriptions not renewed', {
            upstream: this.#config.name,
            error: error.message,
          }),
        );
    }
    this.#logger.info('upstream ready', { upstream: this.#config.name, tools: lists.tools.length });
    this.#events.onServing();
    this.#events.onListsChanged(false);
  }

  #closed(connection: OpenConnection): void {
    if (this.#connection !== connection) return;
    this.#probe?.stop();
    this.#connection = undefined;
    const closing = this.#state === 'closed';
    this.#telemetry.sessionEnded(this.#connectedAt, this.facts(), closing ? undefined : 'connection_lost');
    if (closing) return;
    const lines = connection.stderr();
    this.noteError('connection lost');
    this.#logger.warn('upstream connection lost', {
      upstream: this.#config.name,
      ...(lines && lines.length > 0 && { stderr: lines }),
    });
    this.#lost();
  }

  /**
   * Connected but silent for the whole grace period: its lists are hidden (calls would only time out).
   * A stdio child is restarted. An HTTP upstream is marked down and keeps being probed on its session:
   * the first answer brings it and its lists back (had it restarted, the transport finds its session
   * gone and a new one is opened).
   */
  #hung(connection: OpenConnection, silentForMs: number): void {
    if (this.#connection !== connection) return;
    this.noteError('unresponsive');
    this.#logger.error('upstream unresponsive: tools hidden until it answers again', {
      upstream: this.#config.name,
      silentSeconds: Math.round(silentForMs / 100) / 10,
    });
    this.#lists = emptyLists;
    this.#events.onListsChanged(false);
    if (this.#config.transport === 'http') {
      this.#state = 'down';
      return;
    }
    this.#probe?.stop();
    this.#connection = undefined;
    this.#telemetry.sessionEnded(this.#connectedAt, this.facts(), 'unresponsive');
    void connection.client.close().catch(() => undefined);
    this.#lost();
  }

  /** A hung HTTP upstream answers again: it serves (its breaker closed), and its lists are read afresh. */
  #recovered(connection: OpenConnection): void {
    if (this.#connection !== connection || this.#state !== 'down') return;
    this.#logger.info('upstream answers again', { upstream: this.#config.name });
    this.#state = 'ready';
    this.#events.onServing();
    void this.#refreshLists();
  }

  #list(connection: OpenConnection): Promise<UpstreamLists> {
    return listEverything(connection.client, this.#config.timeouts.requestSeconds * 1000, (truncated) =>
      this.#logger.warn('upstream list truncated', { upstream: this.#config.name, ...truncated }),
    );
  }

  /**
   * Reads the lists again. A change notified while a refresh runs is served by one more refresh after
   * it: a storm of `list_changed` costs two reads (and at most two notices to clients), not one per
   * notification. Whichever connection reported the change, the lists are read from this one;
   * `announce` carries over to the read that follows (see `listChanged`).
   */
  async #refreshLists(announce = false): Promise<void> {
    const connection = this.#connection;
    if (!connection) return;
    this.#announce ||= announce;
    this.#events.onListsRefreshing();
    if (this.#refreshing === connection) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = connection;
    this.#refreshAgain = false;
    try {
      do {
        this.#refreshAgain = false;
        await this.#readLists(connection);
      } while (this.#refreshAgain && this.#refreshing === connection);
    } finally {
      if (this.#refreshing === connection) this.#refreshing = undefined;
    }
  }

  /**
   * A change one of the isolated connections reported: the lists served are read again. `ownChanged`:
   * that connection's own tools or prompts changed, which every client is told of.
   */
  listChanged(ownChanged: boolean): void {
    void this.#refreshLists(ownChanged);
  }

  async #readLists(connection: OpenConnection): Promise<void> {
    try {
      this.#lists = await this.#list(connection);
      this.#expireLists(connection);
      const announce = this.#announce;
      this.#announce = false;
      this.#events.onListsChanged(announce);
    } catch (error) {
      // The connection closed or was replaced meanwhile (a stop, a reconnect, which reads the lists
      // itself): its refresh has nothing left to report.
      if (this.#connection !== connection) return;
      this.#logger.warn('upstream list refresh failed', {
        upstream: this.#config.name,
        error: (error as Error).message,
      });
    }
  }

  /**
   * Honours the lists' `ttlMs`: they are read again when it runs out (at most once a second), for an
   * upstream that changes them without `list_changed`.
   */
  #expireLists(connection: OpenConnection): void {
    clearTimeout(this.#listExpiry);
    const ttlMs = this.#lists.ttlMs;
    if (ttlMs === undefined) return;
    this.#listExpiry = context.with(ROOT_CONTEXT, () =>
      setTimeout(
        () => {
          if (this.#connection === connection && this.#state === 'ready') void this.#refreshLists();
        },
        Math.max(ttlMs, 1000),
      ),
    );
    this.#listExpiry.unref();
  }

  /** Schedules a reconnect, after a backoff or a crash-loop hold. */
  #lost(): void {
    if (this.#state === 'closed') return;
    const next = this.#schedule.lost(Date.now());
    this.#state = next.holding ? 'holding' : 'down';
    if (next.holding) {
      this.#logger.error('upstream crash loop: holding before the next restart', {
        upstream: this.#config.name,
        holdSeconds: this.#config.restart.holdSeconds,
      });
    }
    clearTimeout(this.#timer);
    // Outside the context of the call that found the connection lost: the reconnection is not part of
    // that call's trace, and the timer would keep its spans alive until it fires.
    this.#timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.#schedule.restarting(Date.now());
        this.#restarts++;
        this.#events.onRestart();
        void this.#connect();
      }, next.delayMs),
    );
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    clearTimeout(this.#listExpiry);
    this.#probe?.stop();
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) this.#telemetry.sessionEnded(this.#connectedAt, this.facts());
    await Promise.all([connection?.client.close(), this.#connecting?.close()]);
  }
}
