import type {
  CallToolResult,
  CompleteRequest,
  GetPromptResult,
  LoggingLevel,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { context } from '@opentelemetry/api';
import type { UpstreamConfig } from '../config/schema.ts';
import { values } from '../telemetry/conventions.ts';
import { httpTarget } from '../telemetry/http-client.ts';
import type { UpstreamFacts } from '../telemetry/mcp-client.ts';
import type { HandlerContext } from '../tools/api.ts';
import { paramHeadersFor, paramHeadersOf } from '../tools/param-headers.ts';
import { CallPolicies } from './call-policies.ts';
import { CatalogConnection, type UpstreamState } from './catalog-connection.ts';
import { callMeta, isModern } from './era-negotiation.ts';
import {
  ConnectionEndedError,
  cancellable,
  errorTypeOf,
  isConnectionClosed,
  isUpstreamFailure,
  mapUpstreamError,
} from './error-mapping.ts';
import { answerOf, passedRound } from './input-relay.ts';
import { IsolatedConnections } from './isolated-connections.ts';
import { connectionKey, type Isolation, isolationOf, subscriberKey } from './isolation.ts';
import { UpstreamLocks } from './locks.ts';
import { ConnectionOpener } from './open-connection.ts';
import { relayedToolResult } from './relayed-result.ts';
import { ReadCache } from './response-cache.ts';
import { addSubscriber, removeSubscriber } from './subscriptions.ts';
import type { Call, CallOptions, Send, UpstreamDeps, UpstreamStatus } from './upstream-types.ts';

export type { CallOptions, UpstreamDeps, UpstreamStatus } from './upstream-types.ts';

/** A tool's result that is an error is the call's `error.type`. */
const toolOutcome = (result: CallToolResult) => (result.isError === true ? values.toolError : undefined);
const noOutcome = () => undefined;

/**
 * One upstream MCP server as the gateway uses it: what it serves (read on its supervised catalog
 * connection), and its calls, each sent on the caller's connection (the catalog one when `shared`, else
 * the caller's isolated one) through the call policies, in a `mcp.client` span.
 */
export class Upstream {
  readonly name: string;
  readonly facts: UpstreamFacts;
  readonly #config: UpstreamConfig;
  readonly #telemetry: UpstreamDeps['telemetry'];
  readonly #policies: CallPolicies;
  readonly #isolation: Isolation;
  readonly #catalog: CatalogConnection;
  readonly #isolated: IsolatedConnections;
  readonly #locks: UpstreamLocks;
  readonly #reads: ReadCache;
  /** The tool list last looked in, by name; made again when the list is replaced. */
  #toolsByName: { of: readonly Tool[]; byName: ReadonlyMap<string, Tool> } = { of: [], byName: new Map() };

  constructor(config: UpstreamConfig, deps: UpstreamDeps) {
    this.name = config.name;
    this.#config = config;
    this.#telemetry = deps.telemetry;
    const target = config.url === undefined ? undefined : httpTarget(new URL(config.url));
    this.facts = {
      name: config.name,
      transport: config.transport,
      ...(target && { address: target.address, port: target.port }),
    };
    this.#policies = new CallPolicies(config, deps.logger);
    this.#isolation = isolationOf(config);
    this.#locks = new UpstreamLocks(config.name, config.locks, deps.logger);
    const reads = new ReadCache(config.name, config.cache, deps.cacheMetrics);
    this.#reads = reads;
    const opener = new ConnectionOpener(config, deps, (uri) => reads.invalidate(uri));
    this.#catalog = new CatalogConnection(
      config,
      opener,
      { logger: deps.logger, telemetry: deps.telemetry, facts: this.facts },
      {
        onListsChanged: deps.onListsChanged,
        onRestart: deps.onRestart,
        onServing: () => this.#policies.closeBreaker(),
        // A resource may have gone or changed with the lists: no cached read outlives the change.
        onListsRefreshing: () => reads.clear(),
      },
    );
    this.#isolated = new IsolatedConnections(
      config,
      this.#isolation,
      opener,
      deps.logger,
      (ownChanged) => this.#catalog.listChanged(ownChanged),
      () => reads.clear(),
    );
  }

  get state(): UpstreamState {
    return this.#catalog.state;
  }

  get tools(): readonly Tool[] {
    return this.#catalog.lists.tools;
  }

  get resources(): readonly Resource[] {
    return this.#catalog.lists.resources;
  }

  get resourceTemplates(): readonly ResourceTemplate[] {
    return this.#catalog.lists.resourceTemplates;
  }

  get prompts(): readonly Prompt[] {
    return this.#catalog.lists.prompts;
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
      state: this.#catalog.state,
      protocolVersion: this.#catalog.protocolVersion,
      tools: this.#catalog.lists.tools.length,
      restarts: this.#catalog.restarts,
      breaker: this.#policies.breakerStateName,
      lastError: this.#catalog.lastError,
    };
  }

  /** Starts connecting in the background; its tools are published once it answers. */
  start(): void {
    this.#catalog.start();
  }

  /** Tells the upstream connections that served a session that its client's roots changed. */
  rootsChanged(sessionId: string): void {
    const catalog = { client: this.#catalog.client, callers: this.#catalog.callers };
    for (const { client, callers } of [catalog, ...this.#isolated.open()]) {
      if (client && callers.served(sessionId)) void client.sendRootsListChanged().catch(() => undefined);
    }
  }

  /** Closes the connections of a downstream session that ended. */
  async sessionEnded(sessionId: string): Promise<void> {
    const subscribers = this.#catalog.subscribers;
    for (const [uri, ofUri] of subscribers)
      if (ofUri.delete(sessionId) && ofUri.size === 0) subscribers.delete(uri);
    const timeout = this.#config.timeouts.requestSeconds * 1000;
    await Promise.all([
      this.#catalog.resourceListen?.follow(subscribers, { timeout }).catch(() => undefined),
      this.#isolated.sessionEnded(sessionId),
    ]);
  }

  /** The resources the caller's own connection gained from its calls (session-scoped ones). */
  ownResources(caller: HandlerContext): Promise<readonly Resource[]> {
    return this.#isolation === 'shared' ? Promise.resolve([]) : this.#isolated.ownResources(caller);
  }

  /**
   * Passes a client's log level to its own connection. A shared connection keeps its level: Lookout
   * filters per client.
   */
  setLogLevel(level: LoggingLevel, caller: HandlerContext): Promise<void> {
    return this.#isolation === 'shared' ? Promise.resolve() : this.#isolated.setLogLevel(level, caller);
  }

  /** The listed tool of this name, if any (its span names it, its metrics do only then). */
  #listed(name: string): Tool | undefined {
    const tools = this.tools;
    if (this.#toolsByName.of !== tools)
      this.#toolsByName = { of: tools, byName: new Map(tools.map((t) => [t.name, t])) };
    return this.#toolsByName.byName.get(name);
  }

  /** Calls one of the upstream's tools through its lock and the policies, in a `mcp.client` span. */
  async callTool(name: string, args: unknown, options: CallOptions): Promise<CallToolResult> {
    const listed = this.#listed(name);
    const call: Call<CallToolResult> = {
      method: 'tools/call',
      target: name,
      known: listed !== undefined,
      caller: options.caller,
      signal: options.signal,
      idempotent: options.idempotent,
      outcome: toolOutcome,
    };
    const declarations = paramHeadersOf(listed?.inputSchema);
    const result = await this.#traced(call, (client, meta, sendOptions, connection) => {
      const round = passedRound(client, options.caller);
      // A 2026-07-28 upstream over HTTP checks the arguments its tool marks with x-mcp-header against
      // their Mcp-Param-* headers.
      const headers = isModern(client) && declarations ? paramHeadersFor(declarations, args) : {};
      return connection.logs.during(options.onlog, () =>
        client.request(
          {
            method: 'tools/call',
            params: {
              name,
              arguments: args as Record<string, unknown>,
              ...round.params,
              _meta: callMeta(client, meta),
            },
          },
          relayedToolResult,
          {
            ...sendOptions,
            ...round.options,
            ...(Object.keys(headers).length > 0 && { headers }),
            ...(options.onprogress && { onprogress: options.onprogress, resetTimeoutOnProgress: true }),
          },
        ),
      );
    });
    return answerOf(result, options.caller);
  }

  /**
   * Reads a resource (safe: retried like other safe calls), in a `mcp.client` span, unless the caller's
   * connection answered it recently enough to serve from Lookout's read cache.
   */
  readResource(uri: string, caller: HandlerContext): Promise<ReadResourceResult> {
    const shared = this.#isolation === 'shared';
    const scope = shared ? 'shared' : connectionKey(this.#isolation, caller);
    const scopes = { scope, privateScope: shared ? connectionKey('subject', caller) : undefined };
    const current = shared ? this.#catalog.client : this.#isolated.openNow(caller)?.client;
    return this.#reads.read(uri, scopes, current, async () => {
      let answeredBy: object | undefined;
      const result = await this.#request('resources/read', undefined, caller, (client, meta, options) => {
        answeredBy = client;
        // The 2.x client's own cache is bypassed: Lookout's read cache decides what is kept, per connection.
        return client.readResource({ uri, _meta: meta }, { ...options, cacheMode: 'bypass' });
      });
      return { result, answeredBy: answeredBy as object };
    });
  }

  async getPrompt(
    name: string,
    args: Record<string, string> | undefined,
    caller: HandlerContext,
  ): Promise<GetPromptResult> {
    const result = await this.#request('prompts/get', name, caller, (client, meta, options) => {
      const round = passedRound(client, caller);
      return client.getPrompt(
        { name, ...(args && { arguments: args }), ...round.params, _meta: meta },
        { ...options, ...round.options },
      );
    });
    return answerOf(result, caller);
  }

  /** Completion values from the upstream, on the caller's connection; none when it does not complete. */
  async complete(
    ref: CompleteRequest['params']['ref'],
    argument: { name: string; value: string },
    contextArguments: Record<string, string>,
    caller: HandlerContext,
  ): Promise<string[]> {
    if (this.#catalog.serverCapabilities?.completions === undefined) return [];
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
    if (this.#catalog.serverCapabilities?.resources?.subscribe !== true) return;
    await this.#request(
      'resources/subscribe',
      undefined,
      caller,
      async (client, meta, options, connection) => {
        const key = subscriberKey(caller);
        const first = addSubscriber(connection.subscribers, uri, key, updated);
        if (connection.resourceListen) {
          await connection.resourceListen.follow(connection.subscribers, options).catch((error) => {
            removeSubscriber(connection.subscribers, uri, key);
            throw error;
          });
        } else if (first) await client.subscribeResource({ uri, _meta: meta }, options);
        return {};
      },
    );
  }

  async unsubscribe(uri: string, caller: HandlerContext): Promise<void> {
    if (this.#catalog.serverCapabilities?.resources?.subscribe !== true) return;
    await this.#request(
      'resources/unsubscribe',
      undefined,
      caller,
      async (client, meta, options, connection) => {
        const last = removeSubscriber(connection.subscribers, uri, subscriberKey(caller));
        if (connection.resourceListen)
          await connection.resourceListen.follow(connection.subscribers, options);
        else if (last) await client.unsubscribeResource({ uri, _meta: meta }, options);
        return {};
      },
    );
  }

  /** A safe request other than a tool call, on the caller's connection. */
  #request<T>(method: string, target: string | undefined, caller: HandlerContext, send: Send<T>): Promise<T> {
    const call = { method, target, known: true, caller, signal: caller.signal, idempotent: true };
    return this.#traced({ ...call, outcome: noOutcome }, send);
  }

  async #traced<T>(call: Call<T>, send: Send<T>): Promise<T> {
    const span = this.#telemetry.start(call.method, call.target, this.#catalog.facts(), call.known);
    const timeout = this.#config.timeouts.requestSeconds * 1000;
    try {
      const result = await context.with(span.context, () =>
        this.#locks.run(this.#locks.lockFor(call.method, call.target), call.signal, (signal) =>
          this.#policies.execute(
            call.idempotent,
            () =>
              cancellable(signal, () =>
                this.#onConnection(call.caller, span.meta, { signal, timeout }, send),
              ),
            signal,
          ),
        ),
      );
      this.#telemetry.end(span, call.outcome(result));
      return result;
    } catch (error) {
      const mapped = mapUpstreamError(this.name, this.#config.timeouts.requestSeconds, error);
      if (isUpstreamFailure(error)) this.#failed(error, mapped.message);
      this.#telemetry.end(span, errorTypeOf(mapped), mapped.message);
      throw mapped;
    }
  }

  /** Sends on the caller's connection; a call cut by the end of an isolated connection says so. */
  async #onConnection<T>(
    caller: HandlerContext,
    meta: Record<string, string>,
    options: { signal: AbortSignal; timeout: number },
    send: Send<T>,
  ): Promise<T> {
    const catalog = this.#catalog.ready();
    const connection = this.#isolation === 'shared' ? catalog : await this.#isolated.for(caller);
    try {
      return await connection.callers.during(caller, () =>
        send(connection.client, meta, options, connection),
      );
    } catch (error) {
      if (connection !== catalog && isConnectionClosed(error)) throw new ConnectionEndedError(this.name);
      throw error;
    }
  }

  /**
   * A call failed for the upstream's sake. On an isolated connection, the catalog connection is pinged:
   * an upstream that went away or restarted (its sessions gone) is then reconnected at once, as it is
   * when a call on the catalog connection itself fails. When an isolated connection ended under the
   * call and the upstream still answers, it serves, as after a reconnect: the breaker its failed calls
   * may have opened is closed, so that the next call can open a new connection.
   */
  #failed(error: unknown, message: string): void {
    this.#catalog.noteError(message);
    if (this.#isolation === 'shared') return;
    void this.#catalog.check().then((answers) => {
      if (answers && error instanceof ConnectionEndedError) this.#policies.closeBreaker();
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.#catalog.close(), this.#isolated.closeAll()]);
  }
}
