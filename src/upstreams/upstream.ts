import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  ErrorCode,
  type GetPromptResult,
  type LoggingMessageNotification,
  LoggingMessageNotificationSchema,
  McpError,
  type Progress,
  type Prompt,
  PromptListChangedNotificationSchema,
  type ReadResourceResult,
  type Resource,
  ResourceListChangedNotificationSchema,
  type ResourceTemplate,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  retry,
  wrap,
} from 'cockatiel';
import type { UpstreamConfig } from '../config/schema.ts';
import { LookoutError } from '../errors/catalog.ts';
import type { Logger } from '../logging/logger.ts';
import { values } from '../telemetry/conventions.ts';
import { httpTarget } from '../telemetry/http-client.ts';
import type { McpClientTelemetry, UpstreamFacts } from '../telemetry/mcp-client.ts';
import { UpstreamHttpTransport } from './http-transport.ts';

export type UpstreamState = 'starting' | 'ready' | 'down' | 'holding' | 'closed';

export interface CallOptions {
  readonly signal: AbortSignal;
  readonly onprogress?: (progress: Progress) => void;
  /** Receives the upstream's log messages while the call runs. */
  readonly onlog?: (params: LoggingMessageNotification['params']) => void;
  /** Safe to repeat (read-only or idempotent): only such calls are retried. */
  readonly idempotent: boolean;
}

/**
 * The SDK's client hands a notification to its handler a microtask later but settles a response at
 * once, and forgets a request's progress handler when it settles: a last progress notification that
 * arrives right before the response would be lost. A response that follows notifications is therefore
 * delivered after them.
 */
function deliverNotificationsFirst(transport: Transport): void {
  const deliver = transport.onmessage;
  if (!deliver) return;
  let notified = false;
  transport.onmessage = (message, extra) => {
    const isNotification = 'method' in message && !('id' in message);
    const isResponse = !('method' in message);
    if (isNotification) notified = true;
    if (isResponse && notified) {
      notified = false;
      setImmediate(() => deliver(message, extra));
      return;
    }
    deliver(message, extra);
  };
}

/** A failure of the upstream itself (down, timed out, connection lost) — what the breaker counts. */
function isUpstreamFailure(error: unknown): boolean {
  if (error instanceof LookoutError)
    return error.catalogCode === 'UPSTREAM_TIMEOUT' || error.catalogCode === 'UPSTREAM_UNAVAILABLE';
  if (error instanceof McpError)
    return error.code === ErrorCode.RequestTimeout || error.code === ErrorCode.ConnectionClosed;
  return !(error instanceof Error && error.name === 'AbortError');
}

/**
 * One upstream MCP server: its connection (a supervised child process over stdio, or Streamable HTTP),
 * its tool list, and the resilience policies every call goes through (bulkhead, circuit breaker, and
 * retries for safe calls). A lost connection is re-established with exponential backoff and jitter;
 * too many restarts in a window hold it down for a while (crash-loop protection).
 */
export class Upstream {
  readonly name: string;
  readonly facts: UpstreamFacts;
  readonly #config: UpstreamConfig;
  readonly #logger: Logger;
  readonly #telemetry: McpClientTelemetry;
  readonly #onListsChanged: () => void;
  readonly #onRestart: () => void;
  readonly #breaker;
  /** The breaker's count of consecutive failures. */
  readonly #failures: ConsecutiveBreaker;
  #closingBreaker = false;
  readonly #bulkhead;
  readonly #policy: IPolicy;
  readonly #safePolicy: IPolicy;
  #client: Client | undefined;
  #state: UpstreamState = 'starting';
  #tools: Tool[] = [];
  #resources: Resource[] = [];
  #templates: ResourceTemplate[] = [];
  #prompts: Prompt[] = [];
  #restartTimes: number[] = [];
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #connectedAt = 0;
  #protocolVersion: string | undefined;
  readonly #logRelays = new Set<(params: LoggingMessageNotification['params']) => void>();

  constructor(
    config: UpstreamConfig,
    deps: {
      logger: Logger;
      telemetry: McpClientTelemetry;
      /** After the upstream (re)connects or refreshes its tool, resource and prompt lists. */
      onListsChanged: () => void;
      onRestart: () => void;
    },
  ) {
    this.name = config.name;
    this.#config = config;
    this.#logger = deps.logger;
    this.#telemetry = deps.telemetry;
    this.#onListsChanged = deps.onListsChanged;
    this.#onRestart = deps.onRestart;
    const target = config.url === undefined ? undefined : httpTarget(new URL(config.url));
    this.facts = {
      name: config.name,
      transport: config.transport,
      ...(target && { address: target.address, port: target.port }),
    };
    this.#failures = new ConsecutiveBreaker(config.breaker.consecutiveFailures);
    this.#breaker = circuitBreaker(handleWhen(isUpstreamFailure), {
      halfOpenAfter: config.breaker.halfOpenAfterSeconds * 1000,
      breaker: this.#failures,
    });
    this.#breaker.onStateChange((state) => {
      // Closing it on a reconnect passes through Isolated (see #closeBreaker): not worth a line.
      if (state === CircuitState.Isolated && this.#closingBreaker) return;
      this.#logger.warn('upstream circuit breaker', { upstream: this.name, state: CircuitState[state] });
    });
    this.#bulkhead = bulkhead(config.concurrency.limit, config.concurrency.queue);
    this.#policy = wrap(this.#bulkhead, this.#breaker);
    const retries = retry(handleWhen(isUpstreamFailure), {
      maxAttempts: config.retry.attempts,
      backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }),
    });
    this.#safePolicy = wrap(retries, this.#bulkhead, this.#breaker);
  }

  get state(): UpstreamState {
    return this.#state;
  }

  get tools(): readonly Tool[] {
    return this.#tools;
  }

  get resources(): readonly Resource[] {
    return this.#resources;
  }

  get resourceTemplates(): readonly ResourceTemplate[] {
    return this.#templates;
  }

  get prompts(): readonly Prompt[] {
    return this.#prompts;
  }

  /** 0 closed, 1 open, 2 half-open, 3 isolated: as cockatiel numbers them. */
  get breakerState(): number {
    return this.#breaker.state;
  }

  get queueDepth(): number {
    return this.#config.concurrency.queue - this.#bulkhead.queueSlots;
  }

  /** Connects; when that fails, keeps trying in the background (start-up does not wait for it). */
  async start(): Promise<void> {
    await this.#connect();
  }

  #transport(): Transport {
    const config = this.#config;
    if (config.transport === 'http') {
      return new UpstreamHttpTransport(new URL(config.url as string), config.headers, this.#telemetry.http);
    }
    const transport = new StdioClientTransport({
      command: config.command as string,
      args: config.args,
      env: { ...getDefaultEnvironment(), ...config.env },
      ...(config.cwd !== undefined && { cwd: config.cwd }),
      stderr: 'pipe',
    });
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines)
        if (line.trim()) this.#logger.info('upstream stderr', { upstream: this.name, line });
    });
    return transport;
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    const client = new Client({ name: 'lookout', version: '0' }, { capabilities: {} });
    const transport = this.#transport();
    try {
      await client.connect(transport, { timeout: this.#config.timeouts.connectSeconds * 1000 });
      deliverNotificationsFirst(transport);
      for (const schema of [
        ToolListChangedNotificationSchema,
        ResourceListChangedNotificationSchema,
        PromptListChangedNotificationSchema,
      ]) {
        client.setNotificationHandler(schema, () => this.#refreshCatalog(client));
      }
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => this.#relayLog(n.params));
      await this.#listAll(client);
    } catch (error) {
      await client.close().catch(() => undefined);
      this.#logger.warn('upstream connection failed', {
        upstream: this.name,
        error: (error as Error).message,
      });
      this.#lost();
      return;
    }
    // close() may have been called while connecting.
    if ((this.#state as UpstreamState) === 'closed') {
      await client.close();
      return;
    }
    this.#client = client;
    this.#state = 'ready';
    this.#attempt = 0;
    this.#connectedAt = Date.now();
    this.#protocolVersion = (transport as { protocolVersion?: string }).protocolVersion;
    client.onclose = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#telemetry.sessionEnded(
        this.#connectedAt,
        this.#facts(),
        this.#state === 'closed' ? undefined : 'connection_lost',
      );
      if (this.#state !== 'closed') {
        this.#logger.warn('upstream connection lost', { upstream: this.name });
        this.#lost();
      }
    };
    this.#logger.info('upstream ready', { upstream: this.name, tools: this.#tools.length });
    this.#closeBreaker();
    this.#onListsChanged();
  }

  /**
   * A new session with the upstream (initialize and the lists answered) shows it serves again: calls
   * made while it was down may have opened the breaker, which would otherwise refuse every call until
   * its half-open probe, up to `breaker.halfOpenAfterSeconds` later. The failures counted so far are
   * forgotten, as a successful call forgets them. cockatiel closes a breaker when its last isolation is
   * released, but leaves its count as it was.
   */
  #closeBreaker(): void {
    this.#failures.success();
    if (this.#breaker.state === CircuitState.Closed) return;
    this.#closingBreaker = true;
    this.#breaker.isolate().dispose();
    this.#closingBreaker = false;
  }

  /** An upstream's log message goes to Lookout's log and to the clients with a call to it in flight. */
  #relayLog(params: LoggingMessageNotification['params']): void {
    this.#logger.info('upstream log', {
      upstream: this.name,
      upstream_level: params.level,
      data: params.data,
    });
    for (const relay of this.#logRelays) relay(params);
  }

  /** What the upstream serves: tools, and resources, templates and prompts when it has them. */
  async #listAll(client: Client): Promise<void> {
    const options = { timeout: this.#config.timeouts.requestSeconds * 1000 };
    const capabilities = client.getServerCapabilities() ?? {};
    this.#tools = capabilities.tools ? (await client.listTools(undefined, options)).tools : [];
    this.#resources = capabilities.resources
      ? (await client.listResources(undefined, options)).resources
      : [];
    this.#templates = capabilities.resources
      ? (await client.listResourceTemplates(undefined, options)).resourceTemplates
      : [];
    this.#prompts = capabilities.prompts ? (await client.listPrompts(undefined, options)).prompts : [];
  }

  async #refreshCatalog(client: Client): Promise<void> {
    try {
      await this.#listAll(client);
      this.#onListsChanged();
    } catch (error) {
      this.#logger.warn('upstream list refresh failed', {
        upstream: this.name,
        error: (error as Error).message,
      });
    }
  }

  /** Schedules a reconnect: exponential backoff with jitter, or a hold after too many restarts. */
  #lost(): void {
    if (this.#state === 'closed') return;
    const { maxRestarts, windowSeconds, holdSeconds, initialBackoffSeconds, maxBackoffSeconds } =
      this.#config.restart;
    const now = Date.now();
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < windowSeconds * 1000);
    let delayMs: number;
    if (this.#restartTimes.length >= maxRestarts) {
      this.#state = 'holding';
      this.#restartTimes = [];
      delayMs = holdSeconds * 1000;
      this.#logger.error('upstream crash loop: holding before the next restart', {
        upstream: this.name,
        holdSeconds,
      });
    } else {
      this.#state = 'down';
      const base = Math.min(maxBackoffSeconds, initialBackoffSeconds * 2 ** this.#attempt) * 1000;
      delayMs = base * (0.5 + Math.random());
      this.#attempt++;
    }
    clearTimeout(this.#timer);
    // Outside the context of the call that found the connection lost: the reconnection is not part of
    // that call's trace, and the timer would keep its spans alive until it fires.
    this.#timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.#restartTimes.push(Date.now());
        this.#onRestart();
        void this.#connect();
      }, delayMs),
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
      this.#tools.some((t) => t.name === name),
    );
    const policy = options.idempotent ? this.#safePolicy : this.#policy;
    const relay = options.onlog;
    if (relay) this.#logRelays.add(relay);
    try {
      const result = await context.with(call.context, () =>
        policy.execute(() => this.#send(name, args, call.meta, options), options.signal),
      );
      this.#telemetry.end(call, result.isError === true ? values.toolError : undefined);
      return result;
    } catch (error) {
      const mapped = this.#mapError(error);
      this.#telemetry.end(call, errorTypeOf(mapped), mapped.message);
      throw mapped;
    } finally {
      if (relay) this.#logRelays.delete(relay);
    }
  }

  /** Reads a resource (safe: retried like other safe calls), in a `mcp.client` span. */
  readResource(uri: string, signal: AbortSignal): Promise<ReadResourceResult> {
    return this.#request('resources/read', undefined, signal, (client, meta, timeout) =>
      client.readResource({ uri, _meta: meta }, { signal, timeout }),
    );
  }

  getPrompt(
    name: string,
    args: Record<string, string> | undefined,
    signal: AbortSignal,
  ): Promise<GetPromptResult> {
    return this.#request('prompts/get', name, signal, (client, meta, timeout) =>
      client.getPrompt({ name, ...(args && { arguments: args }), _meta: meta }, { signal, timeout }),
    );
  }

  async #request<T>(
    method: string,
    target: string | undefined,
    signal: AbortSignal,
    send: (client: Client, meta: Record<string, string>, timeout: number) => Promise<T>,
  ): Promise<T> {
    const call = this.#telemetry.start(method, target, this.#facts(), true);
    const timeout = this.#config.timeouts.requestSeconds * 1000;
    try {
      const result = await context.with(call.context, () =>
        this.#safePolicy.execute(() => send(this.#readyClient(), call.meta, timeout), signal),
      );
      this.#telemetry.end(call, undefined);
      return result;
    } catch (error) {
      const mapped = this.#mapError(error);
      this.#telemetry.end(call, errorTypeOf(mapped), mapped.message);
      throw mapped;
    }
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
    const client = this.#readyClient();
    return (await client.callTool(
      { name, arguments: args as Record<string, unknown>, _meta: meta },
      CallToolResultSchema,
      {
        signal: options.signal,
        timeout: this.#config.timeouts.requestSeconds * 1000,
        ...(options.onprogress && { onprogress: options.onprogress, resetTimeoutOnProgress: true }),
      },
    )) as CallToolResult;
  }

  /** Upstream failures become catalog errors that name the upstream; its own JSON-RPC errors pass through. */
  #mapError(error: unknown): Error {
    if (error instanceof LookoutError) return error;
    if (error instanceof BrokenCircuitError) {
      return new LookoutError('UPSTREAM_UNAVAILABLE', `${this.name}: circuit open after repeated failures`, {
        upstream: this.name,
      });
    }
    if (error instanceof BulkheadRejectedError) {
      return new LookoutError('UPSTREAM_BUSY', `${this.name}: too many calls in flight`, {
        upstream: this.name,
      });
    }
    if (error instanceof McpError) {
      if (error.code === ErrorCode.RequestTimeout) {
        return new LookoutError(
          'UPSTREAM_TIMEOUT',
          `${this.name} did not answer within ${this.#config.timeouts.requestSeconds} s`,
          {
            upstream: this.name,
          },
        );
      }
      if (error.code === ErrorCode.ConnectionClosed) {
        return new LookoutError('UPSTREAM_UNAVAILABLE', `${this.name}: connection closed`, {
          upstream: this.name,
        });
      }
      return new McpError(
        error.code,
        `${this.name}: ${error.message.replace(/^MCP error -?\d+: /, '')}`,
        error.data,
      );
    }
    return new LookoutError('UPSTREAM_UNAVAILABLE', `${this.name}: ${(error as Error).message}`, {
      upstream: this.name,
    });
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) this.#telemetry.sessionEnded(this.#connectedAt, this.#facts());
    await client?.close();
  }
}

function errorTypeOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (error instanceof LookoutError && error.catalogCode === 'UPSTREAM_TIMEOUT') return 'timeout';
  return typeof code === 'number' ? String(code) : values.other;
}
