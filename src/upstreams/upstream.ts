import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  type ClientCapabilities,
  type CompleteRequest,
  type GetPromptResult,
  LoggingMessageNotificationSchema,
  type Progress,
  type Prompt,
  PromptListChangedNotificationSchema,
  type ReadResourceResult,
  type Resource,
  ResourceListChangedNotificationSchema,
  type ResourceTemplate,
  ResourceUpdatedNotificationSchema,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { UpstreamConfig } from '../config/schema.ts';
import { LookoutError } from '../errors/catalog.ts';
import type { Logger } from '../logging/logger.ts';
import { values } from '../telemetry/conventions.ts';
import { httpTarget } from '../telemetry/http-client.ts';
import type { McpClientTelemetry, UpstreamFacts } from '../telemetry/mcp-client.ts';
import type { HandlerContext } from '../tools/api.ts';
import { CallPolicies } from './call-policies.ts';
import { Callers, relayableCapabilities, relayedCapabilities, relayToCallers } from './caller-relay.ts';
import { type ChildEnvPolicy, childEnvironment } from './child-env.ts';
import { type Connection, ConnectionPool, type Subscribers } from './connection-pool.ts';
import { cancellable, errorTypeOf, isUpstreamFailure, mapUpstreamError } from './error-mapping.ts';
import { HealthProbe } from './health-probe.ts';
import { UpstreamHttpTransport } from './http-transport.ts';
import { listEverything, type UpstreamLists } from './listing.ts';
import { UpstreamLocks } from './locks.ts';
import { type LogParams, LogRelay } from './log-relay.ts';
import { deliverNotificationsFirst } from './notification-order.ts';
import { type OversizedMessage, tooLargeResponse } from './oversized.ts';
import { relayedToolResult } from './relayed-result.ts';
import { type CacheMetrics, ReadCache } from './response-cache.ts';
import { RestartSchedule } from './restart-schedule.ts';
import { UpstreamStdioTransport } from './stdio-transport.ts';

export type UpstreamState = 'starting' | 'ready' | 'down' | 'holding' | 'closed';

/** An upstream as the live view shows it. */
export interface UpstreamStatus {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  readonly state: UpstreamState;
  /** The protocol version negotiated with it, once connected. */
  readonly protocolVersion: string | undefined;
  readonly tools: number;
  /** Reconnects since start. */
  readonly restarts: number;
  /** cockatiel's name: Closed, Open, HalfOpen or Isolated. */
  readonly breaker: string;
  readonly lastError: { readonly message: string; readonly at: string } | undefined;
}

export interface CallOptions {
  /** The client the call is made for: its connection is used, and the upstream's requests go to it. */
  readonly caller: HandlerContext;
  readonly signal: AbortSignal;
  readonly onprogress?: (progress: Progress) => void;
  /** Receives the upstream's log messages while the call runs. */
  readonly onlog?: (params: LogParams) => void;
  /** Safe to repeat (read-only or idempotent): only such calls are retried. */
  readonly idempotent: boolean;
}

/** What an upstream needs from Lookout besides its own config. */
export interface UpstreamDeps {
  readonly logger: Logger;
  readonly telemetry: McpClientTelemetry;
  /** Lookout's environment, of which a stdio child inherits what `childEnv` lets through. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly childEnv: ChildEnvPolicy;
  /** After the upstream (re)connects or refreshes its tool, resource and prompt lists. */
  readonly onListsChanged: () => void;
  readonly onRestart: () => void;
  readonly cacheMetrics: CacheMetrics;
}

/** No time limit on a stdio child's `initialize`: being slow to start is reported, never punished. */
const noTimeoutMs = 2 ** 31 - 1;

const emptyLists: UpstreamLists = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

const listChangedSchemas = [
  ToolListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  PromptListChangedNotificationSchema,
] as const;

export type Isolation = 'session' | 'subject' | 'shared';

/** Unless configured: HTTP upstreams give each session its own upstream session; stdio, each subject its process. */
export function isolationOf(config: UpstreamConfig): Isolation {
  return config.isolation ?? (config.transport === 'http' ? 'session' : 'subject');
}

/** Whose connection a caller's calls use, as `isolation` says; without a session or subject, `anonymous`. */
function connectionKey(isolation: Isolation, caller: HandlerContext): string {
  const session =
    caller.sessionId === undefined ? undefined : `session:${caller.sessionId}|${caller.subject ?? ''}`;
  const subject = caller.subject === undefined ? undefined : `subject:${caller.subject}`;
  const key = isolation === 'session' ? (session ?? subject) : (subject ?? session);
  return key ?? 'anonymous';
}

/** Whose subscription it is on a connection: the session's, else the subject's. */
function subscriberKey(caller: HandlerContext): string {
  return caller.sessionId ?? caller.subject ?? 'anonymous';
}

/** Waits for `promise` until `signal` aborts; what it was waiting for goes on (a connection still opens). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

function readRelay(client: Client, subscribers: Subscribers, reads: ReadCache): void {
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    reads.invalidate(n.params.uri);
    for (const updated of subscribers.get(n.params.uri)?.values() ?? []) updated(n.params.uri);
  });
}

/**
 * One upstream MCP server: its connection (a supervised child process over stdio, or Streamable HTTP),
 * what it serves, and the policies every call goes through. A lost connection is re-established as
 * the restart schedule says.
 */
export class Upstream {
  readonly name: string;
  readonly facts: UpstreamFacts;
  readonly #config: UpstreamConfig;
  readonly #deps: UpstreamDeps;
  readonly #logger: Logger;
  readonly #telemetry: McpClientTelemetry;
  readonly #policies: CallPolicies;
  readonly #schedule: RestartSchedule;
  readonly #logRelay = new LogRelay();
  readonly #isolation: Isolation;
  /** The catalog connection's calls, when it is also the one every call uses (`shared`). */
  readonly #sharedCallers = new Callers(true);
  readonly #sharedSubscribers: Subscribers = new Map();
  readonly #pool: ConnectionPool;
  readonly #locks: UpstreamLocks;
  readonly #reads: ReadCache;
  #client: Client | undefined;
  /** The client still connecting, which close() must stop too: a child may be starting. */
  #connecting: Client | undefined;
  #state: UpstreamState = 'starting';
  #lists: UpstreamLists = emptyLists;
  #timer: NodeJS.Timeout | undefined;
  /** Reads the lists again when their `ttlMs` runs out. */
  #listExpiry: NodeJS.Timeout | undefined;
  #probe: HealthProbe | undefined;
  #connectedAt = 0;
  #protocolVersion: string | undefined;
  #restarts = 0;
  /** The client whose lists are being read again, and whether a change came meanwhile. */
  #refreshing: Client | undefined;
  #refreshAgain = false;
  #lastError: UpstreamStatus['lastError'];

  constructor(config: UpstreamConfig, deps: UpstreamDeps) {
    this.name = config.name;
    this.#config = config;
    this.#deps = deps;
    this.#logger = deps.logger;
    this.#telemetry = deps.telemetry;
    const target = config.url === undefined ? undefined : httpTarget(new URL(config.url));
    this.facts = {
      name: config.name,
      transport: config.transport,
      ...(target && { address: target.address, port: target.port }),
    };
    this.#policies = new CallPolicies(config, deps.logger);
    this.#isolation = isolationOf(config);
    this.#pool = new ConnectionPool({
      upstream: config.name,
      max: config.connections.max,
      idleSeconds: config.connections.idleSeconds,
    });
    this.#schedule = new RestartSchedule(config);
    this.#locks = new UpstreamLocks(config.name, config.locks, deps.logger);
    this.#reads = new ReadCache(config.name, config.cache, deps.cacheMetrics);
  }

  get state(): UpstreamState {
    return this.#state;
  }

  get tools(): readonly Tool[] {
    return this.#lists.tools;
  }

  get resources(): readonly Resource[] {
    return this.#lists.resources;
  }

  get resourceTemplates(): readonly ResourceTemplate[] {
    return this.#lists.resourceTemplates;
  }

  get prompts(): readonly Prompt[] {
    return this.#lists.prompts;
  }

  /** 0 closed, 1 open, 2 half-open, 3 isolated: as cockatiel numbers them. */
  get breakerState(): number {
    return this.#policies.breakerState;
  }

  get queueDepth(): number {
    return this.#policies.queueDepth;
  }

  /** Calls waiting for one of its locks. */
  get lockWaiting(): number {
    return this.#locks.waiting;
  }

  status(): UpstreamStatus {
    return {
      name: this.name,
      transport: this.#config.transport,
      state: this.#state,
      protocolVersion: this.#protocolVersion,
      tools: this.#lists.tools.length,
      restarts: this.#restarts,
      breaker: this.#policies.breakerStateName,
      lastError: this.#lastError,
    };
  }

  #noteError(message: string): void {
    this.#lastError = { message, at: new Date().toISOString() };
  }

  /** Starts connecting in the background; its tools are published once it answers. */
  start(): void {
    void this.#connect();
  }

  #stdioTransport(): UpstreamStdioTransport {
    const config = this.#config;
    return new UpstreamStdioTransport({
      command: config.command as string,
      args: config.args,
      env: childEnvironment(this.#deps.environment, this.#deps.childEnv, config.env),
      ...(config.cwd !== undefined && { cwd: config.cwd }),
      maxMessageBytes: config.maxResultBytes,
      onStderrLine: (line) => this.#logger.info('upstream stderr', { upstream: this.name, line }),
      onOversized: (message) => this.#tooLarge(message),
    });
  }

  #httpTransport(): UpstreamHttpTransport {
    const config = this.#config;
    return new UpstreamHttpTransport(new URL(config.url as string), config.headers, this.#telemetry.http, {
      maxMessageBytes: config.maxResultBytes,
      onOversized: (message) => this.#tooLarge(message),
    });
  }

  /** An answer over the limit fails its call alone, with a named error; the cause is logged here. */
  #tooLarge(message: OversizedMessage) {
    this.#logger.error('upstream result too large: dropped', {
      upstream: this.name,
      bytes: message.bytes,
      limit: message.limit,
      request_id: message.id,
    });
    return message.id === undefined ? undefined : tooLargeResponse(this.name, message);
  }

  /**
   * A connection for one session or subject, declaring what its first caller's client declared. Not
   * supervised: when it ends, the next call opens another.
   */
  async #openIsolated(caller: HandlerContext): Promise<Connection> {
    const declared = relayedCapabilities(caller.clientCapabilities);
    const client = new Client({ name: 'lookout', version: '0' }, { capabilities: declared });
    const stdio = this.#config.transport === 'stdio';
    const transport: Transport = stdio ? this.#stdioTransport() : this.#httpTransport();
    client.onerror = (error) =>
      this.#logger.warn('upstream transport error', { upstream: this.name, error: error.message });
    const connection: Connection = {
      client,
      callers: new Callers(false),
      logs: new LogRelay(),
      subscribers: new Map(),
    };
    relayToCallers(client, declared, connection.callers);
    const timeout =
      (stdio ? this.#config.timeouts.startupSeconds : this.#config.timeouts.connectSeconds) * 1000;
    try {
      await context.with(ROOT_CONTEXT, () => client.connect(transport, { timeout }));
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
    deliverNotificationsFirst(transport);
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      this.#logUpstream(n.params);
      connection.logs.relay(n.params);
    });
    readRelay(client, connection.subscribers, this.#reads);
    // The lists served are the catalog connection's: a change one connection reports is looked for there.
    for (const schema of listChangedSchemas) {
      client.setNotificationHandler(schema, () => {
        if (this.#client) void this.#refreshLists(this.#client);
      });
    }
    this.#logger.info('upstream isolated connection opened', {
      upstream: this.name,
      isolation: this.#isolation,
    });
    return connection;
  }

  /** The connection a caller's calls go to: the catalog connection when shared, else the caller's own. */
  #connectionFor(caller: HandlerContext): Promise<Connection> {
    const client = this.#readyClient();
    if (this.#isolation === 'shared') {
      return Promise.resolve({
        client,
        callers: this.#sharedCallers,
        logs: this.#logRelay,
        subscribers: this.#sharedSubscribers,
      });
    }
    const opening = this.#pool.get(connectionKey(this.#isolation, caller), () => this.#openIsolated(caller));
    return abortable(opening, caller.signal);
  }

  /** Tells the upstream connections that served a session that its client's roots changed. */
  rootsChanged(sessionId: string): void {
    const shared = { client: this.#client, callers: this.#sharedCallers };
    for (const { client, callers } of [shared, ...this.#pool.open()]) {
      if (client && callers.served(sessionId)) void client.sendRootsListChanged().catch(() => undefined);
    }
  }

  /** Closes the connections of a downstream session that ended. */
  async sessionEnded(sessionId: string): Promise<void> {
    for (const subscribers of this.#sharedSubscribers.values()) subscribers.delete(sessionId);
    await this.#pool.closeWhere((key) => key.startsWith(`session:${sessionId}|`));
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    // The catalog connection declares everything Lookout relays, so that the upstream lists all it serves.
    const declared: ClientCapabilities = relayableCapabilities;
    const client = new Client({ name: 'lookout', version: '0' }, { capabilities: declared });
    relayToCallers(client, declared, this.#sharedCallers);
    const stdio = this.#config.transport === 'stdio';
    const transport: Transport = stdio ? this.#stdioTransport() : this.#httpTransport();
    const stderr = () => (transport instanceof UpstreamStdioTransport ? transport.stderr.lines() : undefined);
    const slowStart = stdio ? this.#watchStartup(stderr) : undefined;
    // What the transport or the SDK could not use (a line on stdout that is no JSON-RPC message, a
    // response to no request, a dropped event stream): logged, the connection goes on.
    client.onerror = (error) =>
      this.#logger.warn('upstream transport error', { upstream: this.name, error: error.message });
    let lists: UpstreamLists;
    this.#connecting = client;
    try {
      const timeout = stdio ? noTimeoutMs : this.#config.timeouts.connectSeconds * 1000;
      await client.connect(transport, { timeout });
      clearTimeout(slowStart);
      deliverNotificationsFirst(transport);
      for (const schema of listChangedSchemas) {
        client.setNotificationHandler(schema, () => this.#refreshLists(client));
      }
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => this.#relayLog(n.params));
      readRelay(client, this.#sharedSubscribers, this.#reads);
      lists = await this.#list(client);
    } catch (error) {
      clearTimeout(slowStart);
      const lines = stderr();
      await client.close().catch(() => undefined);
      this.#noteError(`connection failed: ${(error as Error).message}`);
      this.#logger.warn('upstream connection failed', {
        upstream: this.name,
        error: (error as Error).message,
        ...(lines && lines.length > 0 && { stderr: lines }),
      });
      this.#lost();
      return;
    } finally {
      this.#connecting = undefined;
    }
    // close() may have been called while connecting.
    if ((this.#state as UpstreamState) === 'closed') {
      await client.close();
      return;
    }
    this.#lists = lists;
    this.#client = client;
    this.#state = 'ready';
    this.#expireLists(client);
    this.#connectedAt = Date.now();
    this.#schedule.connected(this.#connectedAt);
    this.#protocolVersion = (transport as { protocolVersion?: string }).protocolVersion;
    client.onclose = () => {
      if (this.#client !== client) return;
      this.#probe?.stop();
      this.#client = undefined;
      this.#telemetry.sessionEnded(
        this.#connectedAt,
        this.#facts(),
        this.#state === 'closed' ? undefined : 'connection_lost',
      );
      if (this.#state !== 'closed') {
        const lines = stderr();
        this.#noteError('connection lost');
        this.#logger.warn('upstream connection lost', {
          upstream: this.name,
          ...(lines && lines.length > 0 && { stderr: lines }),
        });
        this.#lost();
      }
    };
    this.#probe = new HealthProbe(
      this.#config.health,
      (timeout) => client.ping({ timeout }),
      (silentForMs) => this.#hung(client, silentForMs),
      () => this.#recovered(client),
    );
    this.#logger.info('upstream ready', { upstream: this.name, tools: lists.tools.length });
    this.#policies.closeBreaker();
    this.#deps.onListsChanged();
  }

  /**
   * Connected but silent for the whole grace period: its tools are hidden (calls would only time out).
   * A stdio child is restarted. An HTTP upstream is marked down and keeps being probed on its session:
   * the first answer brings it and its tools back (had it restarted, the transport finds its session
   * gone and a new one is opened).
   */
  #hung(client: Client, silentForMs: number): void {
    if (this.#client !== client) return;
    this.#noteError('unresponsive');
    this.#logger.error('upstream unresponsive: tools hidden until it answers again', {
      upstream: this.name,
      silentSeconds: Math.round(silentForMs / 100) / 10,
    });
    this.#lists = emptyLists;
    this.#deps.onListsChanged();
    if (this.#config.transport === 'http') {
      this.#state = 'down';
      return;
    }
    this.#probe?.stop();
    this.#client = undefined;
    this.#telemetry.sessionEnded(this.#connectedAt, this.#facts(), 'unresponsive');
    void client.close().catch(() => undefined);
    this.#lost();
  }

  /** A hung HTTP upstream answers again: it serves (its breaker closed), and its lists are read afresh. */
  #recovered(client: Client): void {
    if (this.#client !== client || this.#state !== 'down') return;
    this.#logger.info('upstream answers again', { upstream: this.name });
    this.#state = 'ready';
    // The calls that timed out while it was silent may have opened its breaker: it serves again.
    this.#policies.closeBreaker();
    void this.#refreshLists(client);
  }

  /** Reports a child that has not answered `initialize` within `timeouts.startupSeconds`; it goes on waiting. */
  #watchStartup(stderr: () => string[] | undefined): NodeJS.Timeout {
    const startupSeconds = this.#config.timeouts.startupSeconds;
    const timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        if (this.#state === 'closed') return;
        this.#logger.error('upstream slow to start: still waiting for it', {
          upstream: this.name,
          startupSeconds,
          stderr: stderr() ?? [],
        });
      }, startupSeconds * 1000),
    );
    timer.unref();
    return timer;
  }

  #list(client: Client): Promise<UpstreamLists> {
    return listEverything(client, this.#config.timeouts.requestSeconds * 1000, (truncated) =>
      this.#logger.warn('upstream list truncated', { upstream: this.name, ...truncated }),
    );
  }

  /** An upstream's log message goes to Lookout's log and to the clients with a call to it in flight. */
  #relayLog(params: LogParams): void {
    this.#logUpstream(params);
    this.#logRelay.relay(params);
  }

  #logUpstream(params: LogParams): void {
    this.#logger.info('upstream log', {
      upstream: this.name,
      upstream_level: params.level,
      data: params.data,
    });
  }

  /**
   * Reads the lists again. A change notified while a refresh runs is served by one more refresh after
   * it: a storm of `list_changed` costs two reads (and two notices to clients), not one per notification.
   */
  async #refreshLists(client: Client): Promise<void> {
    // A resource may have gone or changed with the lists: no cached read outlives the change.
    this.#reads.clear();
    if (this.#refreshing === client) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = client;
    this.#refreshAgain = false;
    try {
      do {
        this.#refreshAgain = false;
        await this.#readLists(client);
      } while (this.#refreshAgain && this.#refreshing === client);
    } finally {
      if (this.#refreshing === client) this.#refreshing = undefined;
    }
  }

  async #readLists(client: Client): Promise<void> {
    try {
      this.#lists = await this.#list(client);
      this.#expireLists(client);
      this.#deps.onListsChanged();
    } catch (error) {
      this.#logger.warn('upstream list refresh failed', {
        upstream: this.name,
        error: (error as Error).message,
      });
    }
  }

  /**
   * Honours the lists' `ttlMs`: they are read again when it runs out (at most once a second), for an
   * upstream that changes them without `list_changed`.
   */
  #expireLists(client: Client): void {
    clearTimeout(this.#listExpiry);
    const ttlMs = this.#lists.ttlMs;
    if (ttlMs === undefined) return;
    this.#listExpiry = context.with(ROOT_CONTEXT, () =>
      setTimeout(
        () => {
          if (this.#client === client && this.#state === 'ready') void this.#refreshLists(client);
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
        upstream: this.name,
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
        this.#deps.onRestart();
        void this.#connect();
      }, next.delayMs),
    );
    this.#timer.unref();
  }

  #facts(): UpstreamFacts {
    return this.#protocolVersion === undefined
      ? this.facts
      : { ...this.facts, protocolVersion: this.#protocolVersion };
  }

  /** Calls one of the upstream's tools through the policies, in a `mcp.client` span. */
  async callTool(name: string, args: unknown, options: CallOptions): Promise<CallToolResult> {
    const call = this.#telemetry.start(
      'tools/call',
      name,
      this.#facts(),
      this.#lists.tools.some((t) => t.name === name),
    );
    try {
      const result = await context.with(call.context, () =>
        this.#locks.run(this.#locks.lockFor('tools/call', name), options.signal, (signal) =>
          this.#policies.execute(
            options.idempotent,
            () => cancellable(signal, () => this.#send(name, args, call.meta, { ...options, signal })),
            signal,
          ),
        ),
      );
      this.#telemetry.end(call, result.isError === true ? values.toolError : undefined);
      return result;
    } catch (error) {
      const mapped = this.#mapError(error);
      if (isUpstreamFailure(error)) this.#failed(mapped.message);
      this.#telemetry.end(call, errorTypeOf(mapped), mapped.message);
      throw mapped;
    }
  }

  /**
   * Reads a resource (safe: retried like other safe calls), in a `mcp.client` span, unless the caller's
   * connection answered it recently enough to serve from the cache.
   */
  readResource(uri: string, caller: HandlerContext): Promise<ReadResourceResult> {
    const shared = this.#isolation === 'shared';
    const scope = shared ? 'shared' : connectionKey(this.#isolation, caller);
    const scopes = { scope, privateScope: shared ? connectionKey('subject', caller) : undefined };
    const current = shared ? this.#client : this.#pool.peek(scope)?.client;
    return this.#reads.read(uri, scopes, current, async () => {
      let answeredBy: Client | undefined;
      const result = await this.#request('resources/read', undefined, caller, (client, meta, options) => {
        answeredBy = client;
        return client.readResource({ uri, _meta: meta }, options);
      });
      return { result, answeredBy: answeredBy as Client };
    });
  }

  getPrompt(
    name: string,
    args: Record<string, string> | undefined,
    caller: HandlerContext,
  ): Promise<GetPromptResult> {
    return this.#request('prompts/get', name, caller, (client, meta, options) =>
      client.getPrompt({ name, ...(args && { arguments: args }), _meta: meta }, options),
    );
  }

  /** Completion values from the upstream, on the caller's connection; none when it does not complete. */
  async complete(
    ref: CompleteRequest['params']['ref'],
    argument: { name: string; value: string },
    contextArguments: Record<string, string>,
    caller: HandlerContext,
  ): Promise<string[]> {
    if (this.#client?.getServerCapabilities()?.completions === undefined) return [];
    const result = await this.#request('completion/complete', undefined, caller, (client, meta, options) =>
      client.complete({ ref, argument, context: { arguments: contextArguments }, _meta: meta }, options),
    );
    return result.completion.values;
  }

  /**
   * Subscribes the caller to a resource on its connection; the upstream's updates for it go to
   * `updated`. The upstream is asked once per connection and URI.
   */
  async subscribe(uri: string, caller: HandlerContext, updated: (uri: string) => void): Promise<void> {
    if (this.#client?.getServerCapabilities()?.resources?.subscribe !== true) return;
    await this.#request(
      'resources/subscribe',
      undefined,
      caller,
      async (client, meta, options, connection) => {
        const subscribers = connection.subscribers.get(uri) ?? new Map();
        const first = subscribers.size === 0;
        subscribers.set(subscriberKey(caller), updated);
        connection.subscribers.set(uri, subscribers);
        if (first) await client.subscribeResource({ uri, _meta: meta }, options);
        return {};
      },
    );
  }

  async unsubscribe(uri: string, caller: HandlerContext): Promise<void> {
    if (this.#client?.getServerCapabilities()?.resources?.subscribe !== true) return;
    await this.#request(
      'resources/unsubscribe',
      undefined,
      caller,
      async (client, meta, options, connection) => {
        const subscribers = connection.subscribers.get(uri);
        if (!subscribers?.delete(subscriberKey(caller)) || subscribers.size > 0) return {};
        connection.subscribers.delete(uri);
        await client.unsubscribeResource({ uri, _meta: meta }, options);
        return {};
      },
    );
  }

  async #request<T>(
    method: string,
    target: string | undefined,
    caller: HandlerContext,
    send: (
      client: Client,
      meta: Record<string, string>,
      options: { signal: AbortSignal; timeout: number },
      connection: Connection,
    ) => Promise<T>,
  ): Promise<T> {
    const call = this.#telemetry.start(method, target, this.#facts(), true);
    const timeout = this.#config.timeouts.requestSeconds * 1000;
    try {
      const result = await context.with(call.context, () =>
        this.#locks.run(this.#locks.lockFor(method, target), caller.signal, (signal) =>
          this.#policies.execute(
            true,
            () =>
              cancellable(signal, async () => {
                const connection = await this.#connectionFor(caller);
                return connection.callers.during(caller, () =>
                  send(connection.client, call.meta, { signal, timeout }, connection),
                );
              }),
            signal,
          ),
        ),
      );
      this.#telemetry.end(call, undefined);
      return result;
    } catch (error) {
      const mapped = this.#mapError(error);
      if (isUpstreamFailure(error)) this.#failed(mapped.message);
      this.#telemetry.end(call, errorTypeOf(mapped), mapped.message);
      throw mapped;
    }
  }

  /**
   * A call failed for the upstream's sake. On an isolated connection, the catalog connection is pinged:
   * an upstream that went away or restarted (its sessions gone) is then reconnected at once, as it is
   * when a call on the catalog connection itself fails.
   */
  #failed(message: string): void {
    this.#noteError(message);
    if (this.#isolation !== 'shared') void this.#client?.ping().catch(() => undefined);
  }

  #mapError(error: unknown): Error {
    return mapUpstreamError(this.name, this.#config.timeouts.requestSeconds, error);
  }

  #readyClient(): Client {
    if (!this.#client || this.#state !== 'ready') {
      throw new LookoutError('UPSTREAM_UNAVAILABLE', `${this.name} is ${this.#state}`, {
        upstream: this.name,
      });
    }
    return this.#client;
  }

  async #send(
    name: string,
    args: unknown,
    meta: Record<string, string>,
    options: CallOptions,
  ): Promise<CallToolResult> {
    const connection = await this.#connectionFor(options.caller);
    return connection.callers.during(options.caller, () =>
      connection.logs.during(options.onlog, () =>
        connection.client.request(
          { method: 'tools/call', params: { name, arguments: args as Record<string, unknown>, _meta: meta } },
          relayedToolResult,
          {
            signal: options.signal,
            timeout: this.#config.timeouts.requestSeconds * 1000,
            ...(options.onprogress && { onprogress: options.onprogress, resetTimeoutOnProgress: true }),
          },
        ),
      ),
    );
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    clearTimeout(this.#listExpiry);
    this.#probe?.stop();
    const client = this.#client;
    this.#client = undefined;
    if (client) this.#telemetry.sessionEnded(this.#connectedAt, this.#facts());
    await Promise.all([client?.close(), this.#connecting?.close(), this.#pool.closeAll()]);
  }
}
